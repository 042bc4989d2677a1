import CKernels

/// Keys and values of every token of every live sequence, in fixed-size blocks.
///
/// Storage is per layer: `[block][blockSize][kvDim]` of f16 for K and again for V, allocated
/// once (the OS commits pages on first touch, so an idle cache costs address space only).
/// A sequence owns a block table, the list of its physical blocks in order; token `i` of the
/// sequence lives in block `table[i / blockSize]` at offset `i % blockSize`.
///
/// Sliding-window layers (Gemma 3's local ones) keep their blocks apart, in a second pool with
/// a table of its own per sequence: a block wholly behind the window of the next query is
/// freed (its entry becomes `freedBlock`) as the sequence grows, so those layers hold at most
/// window + one step of tokens per sequence at any length. Freed blocks are handed out again
/// first, so the memory they touch stays bounded too. The window pool has as many blocks as
/// the full one and a sequence never holds more of it, so the full pool's count is the budget
/// the scheduler keeps (`blocksNeeded`).
public final class PagedKVCache: @unchecked Sendable {
  public let blockSize: Int
  public let layerCount: Int
  public let kvDimension: Int
  /// Positions a windowed layer's query sees, its own included (0: no windowed layers).
  public let window: Int
  /// Per held layer: whether it sees only the window (its blocks are in the window pool).
  public let windowedLayers: [Bool]
  public private(set) var allocator: BlockAllocator
  /// The window pool's blocks.
  public private(set) var windowAllocator: BlockAllocator
  private let keys: [UnsafeMutablePointer<UInt16>]
  private let values: [UnsafeMutablePointer<UInt16>]
  private var tables: [Int: [Int32]] = [:]
  private var windowTables: [Int: [Int32]] = [:]
  private var lengths: [Int: Int] = [:]

  public static let defaultBlockSize = 16
  /// A window-pool table entry whose block was freed (wholly behind the window).
  public static let freedBlock: Int32 = -1

  /// - Parameters:
  ///   - layerCount: layers held here (a pipeline stage holds only its own).
  ///   - kvDimension: K (and V) values per token per layer held here (a TP rank: its heads').
  ///   - window: what windowed layers see (with `windowedLayers`, one flag per held layer).
  public init(
    blockSize: Int = defaultBlockSize, blockCount: Int, layerCount: Int, kvDimension: Int,
    window: Int = 0, windowedLayers: [Bool] = []
  ) {
    self.blockSize = blockSize
    self.layerCount = layerCount
    self.kvDimension = kvDimension
    let windowed = window > 0 && windowedLayers.count == layerCount ? windowedLayers : []
    self.window = windowed.contains(true) ? window : 0
    self.windowedLayers = windowed.isEmpty ? Array(repeating: false, count: layerCount) : windowed
    allocator = BlockAllocator(blockCount: blockCount)
    windowAllocator = BlockAllocator(blockCount: self.window > 0 ? blockCount : 0)
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
    try reserve(sequence, tokenCount: tokenCount).slots
  }

  /// Reserves room for `tokenCount` more tokens: their slots in the full pool and in the
  /// window pool (empty without windowed layers). Window-pool blocks behind the window of
  /// the first of them are freed first. Fails without changing anything when blocks run out.
  public func reserve(_ sequence: Int, tokenCount: Int) throws(ModelError) -> (
    slots: [Int32], windowSlots: [Int32]
  ) {
    let needed = blocksNeeded(for: sequence, adding: tokenCount)
    guard needed <= allocator.freeCount else { throw .outOfKVBlocks }
    let start = length(of: sequence)
    freeBehindWindow(sequence, firstQuery: start)
    var table = tables[sequence] ?? []
    var windowTable = windowTables[sequence] ?? []
    for _ in 0..<needed {
      guard let block = allocator.allocate() else { throw .outOfKVBlocks }
      table.append(block)
      if window > 0 {
        // Never short: the window pool is as large, and holds fewer of each sequence's.
        guard let windowBlock = windowAllocator.allocate() else { throw .outOfKVBlocks }
        windowTable.append(windowBlock)
      }
    }
    func slots(_ table: [Int32]) -> [Int32] {
      (start..<start + tokenCount).map { position in
        table[position / blockSize] * Int32(blockSize) + Int32(position % blockSize)
      }
    }
    tables[sequence] = table
    if window > 0 { windowTables[sequence] = windowTable }
    lengths[sequence] = start + tokenCount
    return (slots(table), window > 0 ? slots(windowTable) : [])
  }

  /// Reserves room for one more token and returns its slots (full pool, window pool: -1
  /// without windowed layers); allocates a block (and nothing else) only when the sequence's
  /// last block is full. Used by the decode path.
  public func appendOne(to sequence: Int) throws(ModelError) -> (slot: Int32, windowSlot: Int32) {
    let position = length(of: sequence)
    if position % blockSize == 0 {
      guard allocator.freeCount > 0 else { throw .outOfKVBlocks }
      freeBehindWindow(sequence, firstQuery: position)
      guard let block = allocator.allocate() else { throw .outOfKVBlocks }
      tables[sequence, default: []].append(block)
      if window > 0 {
        guard let windowBlock = windowAllocator.allocate() else { throw .outOfKVBlocks }
        windowTables[sequence, default: []].append(windowBlock)
      }
    }
    lengths[sequence] = position + 1
    guard let block = tables[sequence]?[position / blockSize] else { throw .outOfKVBlocks }
    let offset = Int32(position % blockSize)
    let windowBlock = window > 0 ? windowTables[sequence]?[position / blockSize] : nil
    return (
      block * Int32(blockSize) + offset, windowBlock.map { $0 * Int32(blockSize) + offset } ?? -1
    )
  }

  /// Frees the window-pool blocks no query from `firstQuery` on can see: those whose last
  /// position is before `firstQuery - window + 1`.
  func freeBehindWindow(_ sequence: Int, firstQuery: Int) {
    guard window > 0, var table = windowTables[sequence] else { return }
    let behind = min(max(0, (firstQuery - window + 1) / blockSize), table.count)
    var changed = false
    for index in 0..<behind where table[index] != Self.freedBlock {
      windowAllocator.release(table[index])
      table[index] = Self.freedBlock
      changed = true
    }
    if changed { windowTables[sequence] = table }
  }

  /// Calls `body` with the sequence's block table (of the window pool when `windowed`),
  /// without copying it.
  func withBlockTable<R>(
    of sequence: Int, windowed: Bool = false, _ body: (UnsafeBufferPointer<Int32>) -> R
  ) -> R {
    guard let table = windowed ? windowTables[sequence] : tables[sequence] else {
      return body(UnsafeBufferPointer(start: nil, count: 0))
    }
    return table.withUnsafeBufferPointer(body)
  }

  /// The sequence's window-pool table (`freedBlock` where a block was freed).
  public func windowBlockTable(of sequence: Int) -> [Int32] { windowTables[sequence] ?? [] }

  /// Bytes of K and V the sequences hold now: full-pool blocks for the layers that see every
  /// position, window-pool blocks for the sliding-window ones.
  public var bytesInUse: Int {
    let windowed = windowedLayers.filter { $0 }.count
    let blockBytes = blockSize * kvDimension * 2 * MemoryLayout<UInt16>.size
    return (allocator.usedCount * (layerCount - windowed) + windowBlocksUsed * windowed)
      * blockBytes
  }

  /// Window-pool blocks in use, over all sequences.
  public var windowBlocksUsed: Int { windowAllocator.blockCount - windowAllocator.freeCount }

  /// Forgets the last tokens of a sequence (keeps its first `length`), freeing whole blocks.
  /// Window-pool blocks already freed stay freed: a sequence cut back further than the window
  /// it has left cannot go on (its windowed layers lack keys) and must be recomputed.
  public func truncate(_ sequence: Int, to length: Int) {
    guard var table = tables[sequence], length < self.length(of: sequence) else { return }
    let keep = (length + blockSize - 1) / blockSize
    while table.count > keep { allocator.release(table.removeLast()) }
    tables[sequence] = table
    if var windowTable = windowTables[sequence] {
      while windowTable.count > keep {
        let block = windowTable.removeLast()
        if block != Self.freedBlock { windowAllocator.release(block) }
      }
      windowTables[sequence] = windowTable
    }
    lengths[sequence] = length
  }

  /// Frees every block of a sequence.
  public func remove(_ sequence: Int) {
    for block in tables[sequence] ?? [] { allocator.release(block) }
    for block in windowTables[sequence] ?? [] where block != Self.freedBlock {
      windowAllocator.release(block)
    }
    tables[sequence] = nil
    windowTables[sequence] = nil
    lengths[sequence] = nil
  }

  /// The physical block holding `sequence`'s block `block` for held layer `layer` (nil when
  /// it has none, or the window pool freed it).
  private func physicalBlock(of sequence: Int, block: Int, layer: Int) -> Int? {
    guard (0..<layerCount).contains(layer),
      let table = windowedLayers[layer] ? windowTables[sequence] : tables[sequence],
      block >= 0, block < table.count, table[block] != Self.freedBlock
    else { return nil }
    return Int(table[block])
  }

  /// K and V of one local layer and one local KV head for every token slot of `sequence`'s
  /// block `block` (`[blockSize][headDimension]` f16 bits each); nil if it has no such block.
  public func blockPart(
    of sequence: Int, block: Int, layer: Int, kvHead: Int, headDimension: Int
  ) -> (keys: [UInt16], values: [UInt16])? {
    guard let physical = physicalBlock(of: sequence, block: block, layer: layer), kvHead >= 0,
      (kvHead + 1) * headDimension <= kvDimension
    else { return nil }
    let base = physical * blockSize * kvDimension + kvHead * headDimension
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
    guard let physical = physicalBlock(of: sequence, block: block, layer: layer), kvHead >= 0,
      (kvHead + 1) * headDimension <= kvDimension, keys.count == blockSize * headDimension,
      values.count == keys.count
    else { return false }
    let base = physical * blockSize * kvDimension + kvHead * headDimension
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

  /// Stores the step's K and V rows of held layer `index` at their slots (of the pool the
  /// layer's blocks are in).
  func store(
    layer index: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, state: RunState, rows: Int
  ) {
    let slots = windowedLayers[index] ? state.window.slots : state.full.slots
    tk_kv_store(keys[index], values[index], Int32(kvDimension), k, v, slots.pointer, Int32(rows))
  }
}
