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
