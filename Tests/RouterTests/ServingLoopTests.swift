import Core
import Foundation
import TestSupport
import Testing

@testable import Router

/// The serving loop over a fake engine: no model, no processes, no sockets.
@Suite struct ServingLoopTests {
  /// Prefill in chunks, decode, finishing by length, by end of text and by a stop sequence,
  /// n = 2, logprobs, checkpoints: all in one batch.
  static let mixedBatch: [BenchRequest] = [
    BenchRequest(
      name: "chunked-prefill", prompt: (0..<40).map { TokenID(1 + $0 % 25) }, maxTokens: 12),
    BenchRequest(
      name: "two-sampled-choices", prompt: [20, 8, 5, 0, 3, 1], maxTokens: 10, temperature: 0.9,
      seed: 7, choices: 2, logprobs: 2, checkpoints: true),
    BenchRequest(
      name: "stop-sequence", prompt: [19, 20, 15, 16, 0], maxTokens: 16, temperature: 0.8, seed: 3,
      stop: ["e"]),
    BenchRequest(name: "one-token", prompt: [8, 9, 0], maxTokens: 1),
    BenchRequest(name: "greedy-logprobs", prompt: [12, 15, 7, 0, 30], maxTokens: 6, logprobs: 0),
  ]

  static func fixture(_ lines: [String: [String]], order: [BenchRequest]) -> String {
    order.map { request in
      (["## \(request.name)"] + (lines[request.name] ?? [])).joined(separator: "\n")
    }.joined(separator: "\n\n") + "\n"
  }

  /// Recorded from the loop before its redesign (TESSERA_RECORD_FIXTURES=1 writes it anew):
  /// the redesigned loop must give the same events, in the same order, for every request.
  @Test func aMixedBatchGivesTheRecordedEvents() throws {
    let recorded = Self.fixture(
      LoopBench.run(Self.mixedBatch, engine: FakeEngine()), order: Self.mixedBatch)
    let url = FixturePaths.url("serving/mixed-batch.txt")
    if ProcessInfo.processInfo.environment["TESSERA_RECORD_FIXTURES"] == "1" {
      try recorded.write(to: url, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(recorded == expected)
  }
}

/// Failed steps: every KV block stays accounted for, and a lost worker costs only a
/// recomputation with the same output.
@Suite struct ServingLoopFailureTests {
  /// A lost worker in the middle of the mixed batch (after prefill chunks, during decode):
  /// every request still ends with exactly the events of a run without the fault.
  @Test func aRecoverableFailureRequeuesAndTheOutputIsTheSame() throws {
    let clean = LoopBench.run(ServingLoopTests.mixedBatch, engine: FakeEngine())
    let faulty = FakeEngine()
    faulty.failingSteps = [3: .workerLost("w1 stopped answering"), 6: .workerLost("again")]
    let recovered = LoopBench.run(ServingLoopTests.mixedBatch, engine: faulty)
    #expect(faulty.failedSteps == [3, 6])  // the faults happened
    // Each choice's events are the same; how two choices of a request interleave depends on
    // when they were computed, as between any two runs.
    #expect(Self.byChoice(recovered) == Self.byChoice(clean))
    #expect(faulty.histories.isEmpty)  // every sequence released
  }

  /// The engine re-plans between steps (a worker lost, then the cluster grown back): the
  /// running sequences are computed again on the new generation, and every request ends with
  /// the events of a run without the fault.
  @Test func aNewPlanBetweenStepsReplaysTheRunningSequences() throws {
    let clean = LoopBench.run(ServingLoopTests.mixedBatch, engine: FakeEngine())
    let replanning = FakeEngine()
    replanning.newPlanAfterStep = [3: 4, 7: 1]
    let (recovered, snapshot) = LoopBench.runKeepingSnapshot(
      ServingLoopTests.mixedBatch, engine: replanning)
    let answers = replanning.answered.withLock { $0 }
    #expect(answers.filter { if case .recovering = $0 { true } else { false } }.count == 2)
    #expect(answers.last == .ready(generation: 2))  // both re-plans happened
    #expect(snapshot.replayedSequences > 0)
    #expect(snapshot.engineFailed == nil && snapshot.recovering == nil)
    #expect(Self.byChoice(recovered) == Self.byChoice(clean))
  }

  /// No plan for the whole recovery timeout: the requests fail with a 503-style error, and
  /// `/ready` says why.
  @Test func noPlanForTheRecoveryTimeoutFailsTheRequests() throws {
    let engine = FakeEngine()
    engine.newPlanAfterStep = [2: 1]
    engine.permanently = true
    let request = BenchRequest(name: "stranded", prompt: [3, 4, 5, 0], maxTokens: 30)
    let (events, snapshot) = LoopBench.runKeepingSnapshot(
      [request], engine: engine, recoveryTimeout: 0.3)
    #expect(
      events["stranded"]?.contains {
        $0 == "failed no worker plan could run: none for 0.3 s: waiting for 1 of 2 workers"
      } == true, "\(events)")
    #expect(snapshot.recovering?.hasPrefix("no plan for 0 s: waiting for 1 of 2 workers") == true)
  }

  /// Each request's events split per choice (`delta 1 …`, `finished 1 …`, `checkpoint 1 …`
  /// under choice 1), the request's own (`done`, `end`) under -1.
  static func byChoice(_ events: [String: [String]]) -> [String: [Int: [String]]] {
    events.mapValues { lines in
      Dictionary(grouping: lines) { line in
        let words = line.split(separator: " ")
        return ["delta", "finished", "checkpoint"].contains(words.first) && words.count > 1
          ? Int(words[1]) ?? -1 : -1
      }
    }
  }

  /// An engine that fails one step with the KV cache nearly full: the step's request fails,
  /// no block is left held, and the next request, which needs every block, is served.
  @Test func aBrokenStepLeaksNoBlock() throws {
    let engine = FakeEngine(blockCount: 8, blockSize: 16, stepTokens: 128)
    engine.failingSteps = [2: .broken("a worker's step failed")]
    let nearlyFull = BenchRequest(
      name: "nearly-full", prompt: (0..<100).map { TokenID($0 % 30) }, maxTokens: 20)
    let (failed, afterFailure) = LoopBench.runKeepingSnapshot([nearlyFull], engine: engine)
    #expect(engine.failedSteps == [2])
    // The step after (it only released blocks) does not make /ready forget the failure.
    #expect(afterFailure.engineFailed == "a worker's step failed")
    #expect(
      failed["nearly-full"]?.contains { $0.hasPrefix("failed the model could not run") } == true)
    let whole = BenchRequest(
      name: "every-block", prompt: (0..<100).map { TokenID($0 % 29) }, maxTokens: 28)
    let (served, snapshot) = LoopBench.runKeepingSnapshot([whole], engine: engine)
    #expect(served["every-block"]?.contains { $0.hasPrefix("done 100 ") } == true)
    #expect(snapshot.kvBlocksUsed == 0)
    #expect(engine.blocksHeld == 0)
  }
}
