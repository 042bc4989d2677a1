import CKernels
import Core
import TestSupport
import Testing

/// The determinism contract on one process: a position's logits do not depend on threads,
/// on prefill versus decode, on chunking, or on which other sequences share the step.
@Suite(.serialized) struct DeterminismTests {
  let prompt: [TokenID] = [504, 3575, 282, 4649, 314, 7042, 30, 198, 198, 504, 1797, 1918, 553]

  func bits(_ logits: [Float]) -> [UInt32] { logits.map(\.bitPattern) }

  /// Logits at every position, prompt fed as one batch.
  func prefillLogits(_ engine: InferenceEngine, sequence: Int = 0) throws -> [Float] {
    defer { engine.release(sequence: sequence) }
    return try engine.feed(sequence: sequence, tokens: prompt, logitsAt: Array(prompt.indices))
  }

  @Test func prefillAndDecodeGiveTheSameBits() throws {
    let engine = try Engines.smolLM2(threads: 2)
    let batched = try prefillLogits(engine)
    var decoded: [Float] = []
    for token in prompt {
      decoded += try engine.step([.init(sequence: 1, tokens: [token], logitRows: [0])])
    }
    engine.release(sequence: 1)
    #expect(bits(batched) == bits(decoded))
  }

  @Test func threadCountDoesNotChangeTheBits() throws {
    let one = try prefillLogits(Engines.smolLM2(threads: 1))
    let two = try prefillLogits(Engines.smolLM2(threads: 2))
    let three = try prefillLogits(Engines.smolLM2(threads: 3))
    #expect(bits(one) == bits(two))
    #expect(bits(one) == bits(three))
  }

  /// Every kernel set this CPU has (AVX-512 VNNI, AVX2, portable) computes the same bits, so a
  /// cluster of machines with different CPUs still agrees.
  @Test func portableKernelsGiveTheSameBitsAsTheFastOnes() throws {
    let engine = try Engines.smolLM2(threads: 2)
    let fast = try prefillLogits(engine)
    for level in (0..<tk_kernels_supported()).filter({ tk_kernels_available($0) != 0 }) {
      tk_limit_kernels(level)
      defer { tk_limit_kernels(-1) }
      #expect(bits(fast) == bits(try prefillLogits(engine)), "kernel level \(level)")
    }
  }

  @Test func chunkedPrefillGivesTheSameBits() throws {
    let whole = try prefillLogits(Engines.smolLM2(threads: 2))
    let chunked = try prefillLogits(Engines.smolLM2(threads: 2, maxBatch: 5))
    #expect(bits(whole) == bits(chunked))
  }

  @Test func aSequenceInABatchOfEightGetsTheSameBitsAsAlone() throws {
    let engine = try Engines.smolLM2(threads: 2)
    let alone = try prefillLogits(engine, sequence: 0)
    // Eight sequences with different prompts share every step; sequence 3 is ours.
    let ours = 3
    var prompts: [[TokenID]] = []
    for index in 0..<8 {
      let shifted: [TokenID] = prompt.map { ($0 + TokenID(index * 97)) % 49152 }
      prompts.append(index == ours ? prompt : shifted.reversed())
    }
    let vocabulary = engine.vocabularySize
    // Prefill the first tokens of all eight in one step, then decode the rest together.
    let split = 6
    var entries: [InferenceEngine.Entry] = []
    for (index, tokens) in prompts.enumerated() {
      let rows = index == ours ? Array(0..<split) : []
      entries.append(.init(sequence: 10 + index, tokens: Array(tokens[..<split]), logitRows: rows))
    }
    var together = try engine.step(entries)
    for position in split..<prompt.count {
      var step: [InferenceEngine.Entry] = []
      for (index, tokens) in prompts.enumerated() {
        step.append(.init(sequence: 10 + index, tokens: [tokens[position]], logitRows: [0]))
      }
      let logits = try engine.step(step)
      together += logits[(ours * vocabulary)..<((ours + 1) * vocabulary)]
    }
    #expect(bits(alone) == bits(together))
  }
}
