/// Moves whole prompt blocks between a shard's paged KV cache and fragment parts: a shard
/// exports and imports exactly the (layer, KV head) parts it holds, addressed by their global
/// indices, so parts written by one layout are read by any other.
///
/// Sliding-window layers: a prefix hit of h blocks needs their parts only for the blocks the
/// window before the hit point reaches (`firstWindowBlock`), and full layers' parts for all
/// h; so a long cached prefix loads the window's worth of windowed-layer KV, not the prefix's.
public struct KVFragments: Sendable {
  public let shard: ShardSpec
  public let headDimension: Int
  /// Positions a windowed layer sees (0: none is windowed).
  public let window: Int
  /// The parts this shard holds of every block, in a fixed order (layer, then KV head).
  public let addresses: [FragmentPart.Address]
  /// Those of layers that see every position, and of sliding-window layers.
  public let fullAddresses: [FragmentPart.Address]
  public let windowedAddresses: [FragmentPart.Address]

  /// `windowedLayers` (global indices) see only the last `window` positions.
  public init(
    shard: ShardSpec, headDimension: Int, window: Int = 0, windowedLayers: Set<Int> = []
  ) {
    self.shard = shard
    self.headDimension = headDimension
    addresses = shard.layers.flatMap { layer in
      shard.kvGroups.map { FragmentPart.Address(layer: layer, kvHead: $0) }
    }
    let windowed = window > 0 ? windowedLayers : []
    self.window = windowed.isEmpty ? 0 : window
    fullAddresses = addresses.filter { !windowed.contains($0.layer) }
    windowedAddresses = addresses.filter { windowed.contains($0.layer) }
  }

  /// The parts of `shard` of a model with `config`'s layers and window.
  public init(shard: ShardSpec, config: ModelConfig) {
    self.init(
      shard: shard, headDimension: config.headDimension, window: config.slidingWindow,
      windowedLayers: Set((0..<config.layerCount).filter { config.isWindowed(layer: $0) }))
  }

  /// The first block whose windowed-layer parts a hit of `hit` blocks needs: the query at
  /// the hit point sees positions from hit × blockSize − window + 1 on.
  public func firstWindowBlock(hit: Int, blockSize: Int) -> Int {
    window > 0 ? max(0, (hit * blockSize - window + 1) / blockSize) : 0
  }

  /// The parts block `block` of a hit of `hit` blocks needs.
  public func addresses(block: Int, hit: Int, blockSize: Int) -> [FragmentPart.Address] {
    block >= firstWindowBlock(hit: hit, blockSize: blockSize) ? addresses : fullAddresses
  }

  /// How many of `blocks`, from the first, can start a sequence: the longest prefix with
  /// every full layer's part, whose window before its end has the windowed layers' parts.
  public func loadablePrefix(_ blocks: [[FragmentPart.Address: FragmentPart]], blockSize: Int)
    -> Int
  {
    func has(_ parts: [FragmentPart.Address: FragmentPart], _ wanted: [FragmentPart.Address])
      -> Bool
    {
      wanted.allSatisfy {
        parts[$0].map { $0.tokens == blockSize && $0.headDimension == headDimension } ?? false
      }
    }
    var hit = blocks.prefix { has($0, fullAddresses) }.count
    while hit > 0 {
      let first = firstWindowBlock(hit: hit, blockSize: blockSize)
      guard let missing = (first..<hit).last(where: { !has(blocks[$0], windowedAddresses) })
      else { break }
      hit = missing  // a hit ending before the block that lacks them
    }
    return hit
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
  /// per block. Loads the longest prefix that can start a sequence (`loadablePrefix`) and
  /// returns how many blocks; nothing is reserved past it, and windowed layers keep only the
  /// blocks the window before it reaches.
  public func load(
    _ blocks: [[FragmentPart.Address: FragmentPart]], into cache: PagedKVCache, sequence: Int
  ) throws(ModelError) -> Int {
    guard cache.length(of: sequence) == 0 else {
      throw .invalidConfig("a cached prefix can only start a sequence")
    }
    let hit = loadablePrefix(blocks, blockSize: cache.blockSize)
    guard hit > 0 else { return 0 }
    _ = try cache.append(to: sequence, tokenCount: hit * cache.blockSize)
    cache.freeBehindWindow(sequence, firstQuery: hit * cache.blockSize)
    for (block, parts) in blocks.prefix(hit).enumerated() {
      for address in addresses(block: block, hit: hit, blockSize: cache.blockSize) {
        guard let part = parts[address] else { continue }
        cache.writeBlockPart(
          of: sequence, block: block, layer: address.layer - shard.layers.lowerBound,
          kvHead: address.kvHead - shard.kvGroups.lowerBound, headDimension: headDimension,
          keys: part.keys, values: part.values)
      }
    }
    return hit
  }
}
