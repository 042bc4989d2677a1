import CKernels
import Core
import TestSupport
import Testing

/// The determinism contract for Gemma 3 across its sliding window: the first 560 tokens of
/// the golden `long_gpl` prompt (past the 512-token window) give the same bits at their last
/// positions whole on two threads as in 97-token chunks on one thread followed by single
/// decode steps.
@Suite(.serialized) struct GemmaDeterminismTests {
  func bits(_ logits: [Float]) -> [UInt32] { logits.map(\.bitPattern) }

  @Test func chunksDecodeAndThreadsGiveTheSameBitsPastTheWindow() throws {
    let golden = try #require(try Golden.gemma3().cases.first { $0.name == "long_gpl" })
    let prompt = Array(golden.promptIDs.prefix(560))
    #expect(prompt.count == 560)
    let last = Array(prompt.count - 4..<prompt.count)

    let whole = try Engines.gemma3(threads: 2, maxBatch: 1024)
    let reference = try whole.feed(sequence: 0, tokens: prompt, logitsAt: last)

    let stepped = try Engines.gemma3(threads: 1, maxBatch: 97)
    _ = try stepped.feed(sequence: 0, tokens: Array(prompt.dropLast(4)), logitsAt: [])
    var decoded: [Float] = []
    for token in prompt.suffix(4) {
      decoded += try stepped.step([.init(sequence: 0, tokens: [token], logitRows: [0])])
    }
    #expect(bits(reference) == bits(decoded))
  }
}

/// Local layers' KV memory is bounded by the window as a sequence grows past it, while the
/// global layers keep every block.
@Suite(.serialized) struct GemmaWindowMemoryTests {
  @Test func localLayersHoldOnlyTheWindowAtAnyLength() throws {
    let golden = try #require(try Golden.gemma3().cases.first { $0.name == "long_gpl" })
    let chunk = 128
    let engine = try Engines.gemma3(threads: 2, maxBatch: chunk)
    let cache = engine.cache
    #expect(cache.window == 512)
    // Three times past the window: the prompt's tokens, repeated.
    let tokens = Array(repeatElement(golden.promptIDs, count: 3).joined().prefix(1600))
    var fed = 0
    var mostWindowBlocks = 0
    var highestBlock: Int32 = 0
    func note() {
      mostWindowBlocks = max(mostWindowBlocks, cache.windowBlocksUsed)
      highestBlock = max(highestBlock, cache.windowBlockTable(of: 0).max() ?? 0)
    }
    while fed < tokens.count {
      let next = Array(tokens[fed..<min(fed + chunk, tokens.count)])
      _ = try engine.step([.init(sequence: 0, tokens: next, logitRows: [])])
      fed += next.count
      note()
      #expect(cache.allocator.usedCount == (fed + 15) / 16)
    }
    for token in tokens.prefix(40) {
      _ = try engine.decode(sequence: 0, token: token)
      note()
    }
    // The window before a chunk's first token, and the chunk: (511 + 128) / 16, rounded up,
    // plus a block the window starts inside.
    let bound = (511 + chunk + 15) / 16 + 1
    #expect(mostWindowBlocks <= bound, "\(mostWindowBlocks) window blocks (bound \(bound))")
    #expect(cache.allocator.usedCount == (tokens.count + 40 + 15) / 16)
    // Freed blocks are handed out again first: the pool's storage touched stays that small
    // (every block it handed out was in the table right after the step that took it).
    #expect(highestBlock < Int32(bound))
    engine.release(sequence: 0)
    #expect(cache.windowBlocksUsed == 0)
  }
}
