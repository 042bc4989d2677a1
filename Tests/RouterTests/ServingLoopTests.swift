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
