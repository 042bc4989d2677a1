import CKernels

/// Keys and values of every token of every live sequence, in fixed-size blocks.
///
/// Storage is per layer: `[block][blockSize][kvDim]` of f16 for K and again for V, allocated
/// once (the OS commits pages on first touch, so an idle cache costs address space only).
/// A sequence owns a block table, the list of its physical blocks in order; token `i` of the
/// sequence lives in block `table[i / blockSize]` at offset `i % blockSize`.
public final class PagedKVCache: @unchecked Sendable {
  public let blockSize: Int
  public let layerCount: Int
  public let kvDimension: Int
  public private(set) var allocator: BlockAllocator
  private let keys: [UnsafeMutablePointer<UInt16>]
  private let values: [UnsafeMutablePointer<UInt16>]
  private var tables: [Int: [Int32]] = [:]
  private var lengths: [Int: Int] = [:]

  public static let defaultBlockSize = 16

  /// - Parameters:
  ///   - layerCount: layers held here (a pipeline stage holds only its own).
  ///   - kvDimension: K (and V) values per token per layer held here (a TP rank: its heads').
  public init(blockSize: Int = defaultBlockSize, blockCount: Int, layerCount: Int, kvDimension: Int)
  {
    self.blockSize = blockSize
    self.layerCount = layerCount
    self.kvDimension = kvDimension
    allocator = BlockAllocator(blockCount: blockCount)
    let elements = blockCount * blockSize * kvDimension
    keys = (0..<layerCount).map { _ in .allocate(capacity: max(elements, 1)) }
    values = (0..<layerCount).map { _ in .allocate(capacity: max(elements, 1)) }
  }

  deinit {
    for buffer in keys { buffer.deallocate() }
    for buffer in values { buffer.deallocate() }
  }

  /// Bytes of K and V storage per token across the layers held here.
  public var bytesPerToken: Int { 2 * layerCount * kvDimension * MemoryLayout<UInt16>.size }

  public func length(of sequence: Int) -> Int { lengths[sequence] ?? 0 }
  public func blockTable(of sequence: Int) -> [Int32] { tables[sequence] ?? [] }
  public var sequenceIDs: [Int] { Array(tables.keys) }

  /// Blocks needed to hold `tokenCount` more tokens of `sequence`.
  public func blocksNeeded(for sequence: Int, adding tokenCount: Int) -> Int {
    let capacity = (tables[sequence]?.count ?? 0) * blockSize
    let needed = length(of: sequence) + tokenCount - capacity
    return needed <= 0 ? 0 : (needed + blockSize - 1) / blockSize
  }

  /// Reserves room for `tokenCount` more tokens and returns their slots (block × blockSize +
  /// offset), in order. Fails without changing anything when blocks run out.
  public func append(to sequence: Int, tokenCount: Int) throws(ModelError) -> [Int32] {
    let needed = blocksNeeded(for: sequence, adding: tokenCount)
    guard needed <= allocator.freeCount else { throw .outOfKVBlocks }
    var table = tables[sequence] ?? []
    for _ in 0..<needed {
      guard let block = allocator.allocate() else { throw .outOfKVBlocks }
      table.append(block)
    }
    let start = length(of: sequence)
    let slots = (start..<start + tokenCount).map { position in
      table[position / blockSize] * Int32(blockSize) + Int32(position % blockSize)
    }
    tables[sequence] = table
    lengths[sequence] = start + tokenCount
    return slots
  }

  /// Reserves room for one more token and returns its slot; allocates a block (and nothing
  /// else) only when the sequence's last block is full. Used by the decode path.
  public func appendOne(to sequence: Int) throws(ModelError) -> Int32 {
    let position = length(of: sequence)
    if position % blockSize == 0 {
      guard let block = allocator.allocate() else { throw .outOfKVBlocks }
      tables[sequence, default: []].append(block)
    }
    lengths[sequence] = position + 1
    guard let block = tables[sequence]?[position / blockSize] else { throw .outOfKVBlocks }
    return block * Int32(blockSize) + Int32(position % blockSize)
  }

  /// Calls `body` with the sequence's block table, without copying it.
  func withBlockTable<R>(of sequence: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R {
    guard let table = tables[sequence] else {
      return body(UnsafeBufferPointer(start: nil, count: 0))
    }
    return table.withUnsafeBufferPointer(body)
  }

  /// Forgets the last tokens of a sequence (keeps its first `length`), freeing whole blocks.
  public func truncate(_ sequence: Int, to length: Int) {
    guard var table = tables[sequence], length < self.length(of: sequence) else { return }
    let keep = (length + blockSize - 1) / blockSize
    while table.count > keep { allocator.release(table.removeLast()) }
    tables[sequence] = table
    lengths[sequence] = length
  }

  /// Frees every block of a sequence.
  public func remove(_ sequence: Int) {
    for block in tables[sequence] ?? [] { allocator.release(block) }
    tables[sequence] = nil
    lengths[sequence] = nil
  }

  /// K and V of one local layer and one local KV head for every token slot of `sequence`'s
  /// block `block` (`[blockSize][headDimension]` f16 bits each); nil if it has no such block.
  public func blockPart(
    of sequence: Int, block: Int, layer: Int, kvHead: Int, headDimension: Int
  ) -> (keys: [UInt16], values: [UInt16])? {
    guard let table = tables[sequence], block >= 0, block < table.count,
      (0..<layerCount).contains(layer), kvHead >= 0, (kvHead + 1) * headDimension <= kvDimension
    else { return nil }
    let base = Int(table[block]) * blockSize * kvDimension + kvHead * headDimension
    func rows(_ storage: UnsafeMutablePointer<UInt16>) -> [UInt16] {
      [UInt16](unsafeUninitializedCapacity: blockSize * headDimension) { buffer, count in
        count = 0
        guard let start = buffer.baseAddress else { return }
        for token in 0..<blockSize {
          (start + token * headDimension).initialize(
            from: storage + base + token * kvDimension, count: headDimension)
        }
        count = blockSize * headDimension
      }
    }
    return (rows(self.keys[layer]), rows(self.values[layer]))
  }

  /// Writes K and V (as `blockPart` returns them) into `sequence`'s block `block`, which must
  /// already be reserved. Returns false, writing nothing, if shapes or indices do not fit.
  @discardableResult
  public func writeBlockPart(
    of sequence: Int, block: Int, layer: Int, kvHead: Int, headDimension: Int,
    keys: [UInt16], values: [UInt16]
  ) -> Bool {
    guard let table = tables[sequence], block >= 0, block < table.count,
      (0..<layerCount).contains(layer), kvHead >= 0, (kvHead + 1) * headDimension <= kvDimension,
      keys.count == blockSize * headDimension, values.count == keys.count
    else { return false }
    let base = Int(table[block]) * blockSize * kvDimension + kvHead * headDimension
    for (source, storage) in [(keys, self.keys[layer]), (values, self.values[layer])] {
      source.withUnsafeBufferPointer { rows in
        guard let rows = rows.baseAddress else { return }
        for token in 0..<blockSize {
          (storage + base + token * kvDimension).update(
            from: rows + token * headDimension, count: headDimension)
        }
      }
    }
    return true
  }

  func layer(_ index: Int) -> tk_kv_layer {
    tk_kv_layer(
      keys: keys[index], values: values[index], block_size: Int32(blockSize),
      kv_dim: Int32(kvDimension))
  }

  func store(
    layer index: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, slots: UnsafePointer<Int32>,
    rows: Int
  ) {
    tk_kv_store(keys[index], values[index], Int32(kvDimension), k, v, slots, Int32(rows))
  }
}
