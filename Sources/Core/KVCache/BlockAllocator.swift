/// Hands out fixed-size KV blocks by index and takes them back; pure bookkeeping, no storage.
/// Blocks are reference-counted so sequences can share a prefix's blocks later.
public struct BlockAllocator: Sendable, Equatable {
  public let blockCount: Int
  private var freeList: [Int32]
  private var referenceCounts: [Int32]

  public init(blockCount: Int) {
    self.blockCount = blockCount
    // Pop from the end: hand out low block numbers first, for readable logs and tests.
    freeList = (0..<Int32(blockCount)).reversed()
    referenceCounts = Array(repeating: 0, count: blockCount)
  }

  public var freeCount: Int { freeList.count }
  public var usedCount: Int { blockCount - freeList.count }

  /// A fresh block with one reference, or nil when none is free.
  public mutating func allocate() -> Int32? {
    guard let block = freeList.popLast() else { return nil }
    referenceCounts[Int(block)] = 1
    return block
  }

  /// Adds a reference to a block in use.
  public mutating func retain(_ block: Int32) {
    precondition(referenceCounts[Int(block)] > 0, "retain of a free block")
    referenceCounts[Int(block)] += 1
  }

  /// Drops a reference; the block is free again when none remain.
  public mutating func release(_ block: Int32) {
    precondition(referenceCounts[Int(block)] > 0, "release of a free block")
    referenceCounts[Int(block)] -= 1
    if referenceCounts[Int(block)] == 0 { freeList.append(block) }
  }

  public func referenceCount(_ block: Int32) -> Int { Int(referenceCounts[Int(block)]) }
}
