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
    #expect(try cache.appendOne(to: 7).slot == 10)
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
    #expect(try cache.appendOne(to: 1).slot == 4 * Int32(cache.blockTable(of: 1)[1]))
    cache.remove(1)
    #expect(cache.allocator.usedCount == 0 && cache.length(of: 1) == 0)
  }
}

/// The window pool: sliding-window layers' blocks behind the window are freed as a sequence
/// grows; full layers keep every block.
@Suite struct WindowPoolTests {
  /// Blocks of 4, a window of 6, layer 1 windowed.
  func makeCache(blocks: Int = 64) -> PagedKVCache {
    PagedKVCache(
      blockSize: 4, blockCount: blocks, layerCount: 2, kvDimension: 8, window: 6,
      windowedLayers: [false, true])
  }

  @Test func blocksBehindTheWindowAreFreedAndReused() throws {
    let cache = makeCache()
    var highest: Int32 = 0
    for _ in 0..<100 {
      let (slot, windowSlot) = try cache.appendOne(to: 3)
      #expect(slot >= 0 && windowSlot >= 0)
      highest = max(highest, windowSlot / 4)
      // The next query (at the length) sees positions length - 5 ... length: at most three
      // blocks of 4 hold them, plus the one being filled.
      #expect(cache.windowBlocksUsed <= 3)
    }
    #expect(cache.allocator.usedCount == 25)  // full layers: every block
    // Freed blocks are handed out again first: the pool never touched more than a few.
    #expect(highest <= 3)
    let table = cache.windowBlockTable(of: 3)
    #expect(table.count == 25)
    // Freed when a new block is taken (at position 96, whose window starts at 91): blocks
    // 0...21; block 22 (88...91) is still seen.
    #expect(table.prefix(22).allSatisfy { $0 == PagedKVCache.freedBlock } && table[22] >= 0)
    // Parts: the full layer has block 0 still, the windowed one does not.
    #expect(cache.blockPart(of: 3, block: 0, layer: 0, kvHead: 0, headDimension: 8) != nil)
    #expect(cache.blockPart(of: 3, block: 0, layer: 1, kvHead: 0, headDimension: 8) == nil)
    #expect(cache.blockPart(of: 3, block: 24, layer: 1, kvHead: 0, headDimension: 8) != nil)
    cache.remove(3)
    #expect(cache.windowBlocksUsed == 0 && cache.allocator.usedCount == 0)
  }

  @Test func aChunkKeepsTheWindowBeforeItsFirstToken() throws {
    let cache = makeCache()
    _ = try cache.reserve(1, tokenCount: 20)  // blocks 0...4, nothing freed yet
    #expect(cache.windowBlocksUsed == 5)
    // A chunk from position 20: its first query sees 15...20, so blocks 0...2 (positions
    // 0...11) go, and block 3 (12...15) stays.
    let (slots, windowSlots) = try cache.reserve(1, tokenCount: 8)
    #expect(slots.count == 8 && windowSlots.count == 8)
    #expect(
      cache.windowBlockTable(of: 1).prefix(4) == [-1, -1, -1, cache.windowBlockTable(of: 1)[3]])
    #expect(cache.windowBlockTable(of: 1)[3] >= 0)
    #expect(cache.windowBlocksUsed == 4)
  }

  @Test func withoutWindowedLayersThereIsNoWindowPool() throws {
    let cache = PagedKVCache(blockSize: 4, blockCount: 8, layerCount: 2, kvDimension: 8)
    let (slots, windowSlots) = try cache.reserve(1, tokenCount: 5)
    #expect(slots == [0, 1, 2, 3, 4] && windowSlots.isEmpty)
    #expect(cache.window == 0 && cache.windowAllocator.blockCount == 0)
  }
}
