/// Moves whole prompt blocks between a shard's paged KV cache and fragment parts: a shard
/// exports and imports exactly the (layer, KV head) parts it holds, addressed by their global
/// indices, so parts written by one layout are read by any other.
public struct KVFragments: Sendable {
  public let shard: ShardSpec
  public let headDimension: Int
  /// The parts this shard holds of every block, in a fixed order (layer, then KV head).
  public let addresses: [FragmentPart.Address]

  public init(shard: ShardSpec, headDimension: Int) {
    self.shard = shard
    self.headDimension = headDimension
    addresses = shard.layers.flatMap { layer in
      shard.kvGroups.map { FragmentPart.Address(layer: layer, kvHead: $0) }
    }
  }

  /// This shard's parts of `sequence`'s block `block` (a whole block of computed tokens).
  public func parts(of sequence: Int, block: Int, in cache: PagedKVCache) -> [FragmentPart] {
    addresses.compactMap { address in
      guard
        let (keys, values) = cache.blockPart(
          of: sequence, block: block, layer: address.layer - shard.layers.lowerBound,
          kvHead: address.kvHead - shard.kvGroups.lowerBound, headDimension: headDimension)
      else { return nil }
      return FragmentPart(
        address: address, tokens: cache.blockSize, headDimension: headDimension, keys: keys,
        values: values)
    }
  }

  /// Appends whole blocks to `sequence` (which must be empty) from their parts, one dictionary
  /// per block holding every address of this shard. Loads the longest prefix of blocks that
  /// are complete and returns how many; a block with a part missing ends the prefix (the rest
  /// is recomputed), and nothing is reserved past it.
  public func load(
    _ blocks: [[FragmentPart.Address: FragmentPart]], into cache: PagedKVCache, sequence: Int
  ) throws(ModelError) -> Int {
    guard cache.length(of: sequence) == 0 else {
      throw .invalidConfig("a cached prefix can only start a sequence")
    }
    let wanted = addresses
    let complete = blocks.prefix { parts in
      wanted.allSatisfy {
        parts[$0].map { $0.tokens == cache.blockSize && $0.headDimension == headDimension }
          ?? false
      }
    }
    guard !complete.isEmpty else { return 0 }
    _ = try cache.append(to: sequence, tokenCount: complete.count * cache.blockSize)
    for (block, parts) in complete.enumerated() {
      for address in wanted {
        guard let part = parts[address] else { continue }
        cache.writeBlockPart(
          of: sequence, block: block, layer: address.layer - shard.layers.lowerBound,
          kvHead: address.kvHead - shard.kvGroups.lowerBound, headDimension: headDimension,
          keys: part.keys, values: part.values)
      }
    }
    return complete.count
  }
}
