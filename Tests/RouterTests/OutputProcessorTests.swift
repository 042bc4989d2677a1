import Core
import Testing

@testable import Router

/// One choice's output, with no I/O: tokens in, text, logprobs and finish reasons out — and a
/// processor rebuilt from its progress carries on exactly as the original would have.
@Suite struct OutputProcessorTests {
  static let spec = RequestSpec(
    loopID: 1, endpoint: .completion, model: "fake", created: 0, prompt: [20, 8, 5],
    maxTokens: 12, sampling: SamplingParameters(temperature: 0.9, seed: 5), stop: ["e."],
    logprobs: 1)

  /// Runs `processor` on the fake engine's logits after `history`, `count` tokens (or to the
  /// end); returns what it produced and the history.
  static func run(
    _ processor: OutputProcessor, history: [TokenID], count: Int
  ) -> (outputs: [OutputProcessor.Output], history: [TokenID]) {
    var history = history
    var outputs: [OutputProcessor.Output] = []
    var row = [Float](repeating: 0, count: FakeEngine.vocabulary.count)
    while outputs.count < count, !processor.finished {
      FakeEngine.logits(after: history, into: &row, at: 0)
      let output = row.withUnsafeBufferPointer { processor.accept(logits: $0, history: history) }
      outputs.append(output)
      history.append(output.token)
    }
    return (outputs, history)
  }

  static func texts(_ outputs: [OutputProcessor.Output]) -> [String] {
    outputs.map { "\($0.token) \($0.text) \($0.logprobs.map(\.token)) \($0.finishReason as Any)" }
  }

  @Test(arguments: 1..<8) func aProcessorRebuiltFromItsProgressCarriesOnTheSame(cut: Int) {
    let vocabulary = FakeEngine.vocabulary
    let whole = Self.run(
      OutputProcessor(spec: Self.spec, index: 0, vocabulary: vocabulary), history: Self.spec.prompt,
      count: 100)
    #expect(whole.outputs.last?.finishReason != nil)  // it ended by itself
    #expect(whole.outputs.count > 4)  // long enough for several cuts to land inside it
    let first = OutputProcessor(spec: Self.spec, index: 0, vocabulary: vocabulary)
    let before = Self.run(first, history: Self.spec.prompt, count: cut)
    guard let last = before.outputs.last, last.finishReason == nil else { return }
    let second = OutputProcessor(
      spec: Self.spec, index: 0, vocabulary: vocabulary, progress: first.progress(after: last))
    let after = Self.run(second, history: before.history, count: 100)
    #expect(Self.texts(before.outputs + after.outputs) == Self.texts(whole.outputs))
  }

  @Test func theLengthLimitEndsTheChoiceAndEndOfTextIsNoToken() {
    var spec = Self.spec
    spec.maxTokens = 3
    spec.stop = []
    let processor = OutputProcessor(spec: spec, index: 1, vocabulary: FakeEngine.vocabulary)
    let (outputs, _) = Self.run(processor, history: spec.prompt, count: 10)
    let eos = TokenID(FakeEngine.vocabulary.count - 1)
    let generated = outputs.filter { $0.token != eos }.count
    #expect(processor.generated == generated && processor.finished)
    #expect(outputs.last?.finishReason == (outputs.last?.token == eos ? .stop : .length))
    #expect(generated <= 3)
  }
}

/// Which cluster errors the loop retries.
@Suite struct EngineFailureTests {
  @Test func lostWorkersAreRecoverableAndTheRestBroken() {
    #expect(EngineFailure(ClusterError.workerLost("w0")).isRecoverable)
    // A plan dropped under the step (a lost worker, a hung step) or gone: the coordinator
    // plans again and the loop computes the sequences again on the new plan.
    #expect(EngineFailure(ClusterError.planLost("silent: w0")).isRecoverable)
    #expect(EngineFailure(ClusterError.noPlan).isRecoverable)
    // Waiting for workers at start ran out, or a worker's own error: not retried.
    #expect(!EngineFailure(ClusterError.timeout("workers loading their shards")).isRecoverable)
    #expect(!EngineFailure(ClusterError.stepFailed(worker: "w1", message: "bad")).isRecoverable)
  }
}
