import Core
import Testing

@Suite struct BlockAllocatorTests {
  @Test func handsOutLowBlocksFirstAndTakesThemBack() {
    var allocator = BlockAllocator(blockCount: 3)
    #expect(allocator.allocate() == 0)
    #expect(allocator.allocate() == 1)
    #expect(allocator.freeCount == 1)
    allocator.release(0)
    #expect(allocator.freeCount == 2)
    #expect(allocator.allocate() == 0)
  }

  @Test func sharedBlocksAreFreedByTheLastReference() {
    var allocator = BlockAllocator(blockCount: 1)
    let block = allocator.allocate()!
    allocator.retain(block)
    #expect(allocator.referenceCount(block) == 2)
    allocator.release(block)
    #expect(allocator.freeCount == 0)
    allocator.release(block)
    #expect(allocator.freeCount == 1)
    #expect(allocator.allocate() == block)
    #expect(allocator.allocate() == nil)
  }
}

@Suite struct PagedKVCacheTests {
  func makeCache(blocks: Int = 4) -> PagedKVCache {
    PagedKVCache(blockSize: 4, blockCount: blocks, layerCount: 1, kvDimension: 32)
  }

  @Test func slotsFollowTheBlockTable() throws {
    let cache = makeCache()
    let first = try cache.append(to: 7, tokenCount: 3)
    #expect(first == [0, 1, 2])
    _ = try cache.append(to: 8, tokenCount: 1)  // takes block 1
    let more = try cache.append(to: 7, tokenCount: 3)
    #expect(more == [3, 8, 9])  // position 3 in block 0, then block 2
    #expect(cache.blockTable(of: 7) == [0, 2])
    #expect(cache.length(of: 7) == 6)
    #expect(try cache.appendOne(to: 7) == 10)
    #expect(Set(cache.sequenceIDs) == [7, 8])
    #expect(cache.bytesPerToken == 2 * 32 * 2)
  }

  @Test func runningOutOfBlocksChangesNothing() throws {
    let cache = makeCache(blocks: 2)
    _ = try cache.append(to: 1, tokenCount: 5)
    #expect(throws: ModelError.outOfKVBlocks) { try cache.append(to: 2, tokenCount: 4) }
    #expect(cache.length(of: 2) == 0 && cache.allocator.freeCount == 0)
    #expect(cache.blocksNeeded(for: 1, adding: 3) == 0)
    #expect(throws: ModelError.outOfKVBlocks) { try cache.append(to: 1, tokenCount: 4) }
    #expect(cache.length(of: 1) == 5)
  }

  @Test func truncateAndRemoveFreeWholeBlocks() throws {
    let cache = makeCache()
    _ = try cache.append(to: 1, tokenCount: 10)
    #expect(cache.allocator.usedCount == 3)
    cache.truncate(1, to: 4)
    #expect(cache.allocator.usedCount == 1 && cache.length(of: 1) == 4)
    #expect(try cache.appendOne(to: 1) == 4 * Int32(cache.blockTable(of: 1)[1]))
    cache.remove(1)
    #expect(cache.allocator.usedCount == 0 && cache.length(of: 1) == 0)
  }
}
