import ContextCache
import Core
import Foundation
import Synchronization

@testable import Router

/// One request for the serving-loop bench, in the loop's own terms (prompt as tokens).
struct BenchRequest: Sendable {
  var name: String
  var prompt: [TokenID]
  var maxTokens: Int
  var temperature: Float = 0
  var seed: UInt64 = 1
  var stop: [String] = []
  var choices = 1
  var logprobs: Int?
  var checkpoints = false
}

/// Drives the serving loop over a `FakeEngine` with no processes or sockets, and records
/// every event each request gets as one line of text (the fixture format). This file is the
/// only one that knows the loop's API: the tests and their fixtures stay the same when the
/// loop changes shape.
enum LoopBench {
  /// Runs `requests` (all handed in before the first step) to the end; returns each
  /// request's events, by name.
  static func run(
    _ requests: [BenchRequest], engine: FakeEngine, maxRunning: Int = 8
  ) -> [String: [String]] {
    runKeepingSnapshot(requests, engine: engine, maxRunning: maxRunning).events
  }

  /// `run`, and the loop's figures once every request ended.
  static func runKeepingSnapshot(
    _ requests: [BenchRequest], engine: FakeEngine, maxRunning: Int = 8,
    recoveryTimeout: Double = 60
  ) -> (events: [String: [String]], snapshot: ServingLoop.Snapshot) {
    let loop = ServingLoop(recoveryTimeout: recoveryTimeout)
    let recorders = requests.map { _ in EventRecorder() }
    for (index, request) in requests.enumerated() {
      loop.submit(submission(request, id: UInt64(index + 1), events: recorders[index]))
    }
    let stopped = DispatchSemaphore(value: 0)
    let limits = Scheduler.Limits(
      maxRunning: maxRunning, maxQueued: 64, stepTokens: engine.stepTokens,
      blockSize: engine.blockSize, totalBlocks: engine.blockCount)
    let thread = Thread {
      loop.run(engine: engine, vocabulary: FakeEngine.vocabulary, limits: limits)
      stopped.signal()
    }
    thread.start()
    for recorder in recorders { recorder.ended.wait() }
    // The figures of the turn that ended the last request are published after its events, and
    // the turn after it releases the blocks: wait (bounded) until the loop says it is idle.
    let deadline = SystemClock.now() + 10
    while !loop.snapshot.idle, SystemClock.now() < deadline { usleep(1000) }
    let snapshot = loop.snapshot
    loop.stop()
    stopped.wait()
    var lines: [String: [String]] = [:]
    for (request, recorder) in zip(requests, recorders) { lines[request.name] = recorder.lines }
    return (lines, snapshot)
  }

  static func submission(_ request: BenchRequest, id: UInt64, events: EventRecorder)
    -> Submission
  {
    let spec = RequestSpec(
      loopID: id, endpoint: .completion, model: "fake", created: 0, prompt: request.prompt,
      maxTokens: request.maxTokens,
      sampling: SamplingParameters(temperature: request.temperature, seed: request.seed),
      stop: request.stop, choices: request.choices, stream: true, includeUsage: true,
      logprobs: request.logprobs)
    return Submission(
      spec: spec, events: events, deadline: .infinity, checkpoints: request.checkpoints)
  }

  /// An event as one fixture line.
  static func line(_ event: GenerationEvent) -> String {
    switch event {
    case .delta(let choice, let text, let logprobs):
      let entries = logprobs.map { entry in
        "\(entry.token)=\(String(format: "%.4f", entry.logprob))"
          + entry.top.map { "|\($0.token)=\(String(format: "%.4f", $0.logprob))" }.joined()
      }
      return "delta \(choice) \(quoted(text))"
        + (entries.isEmpty ? "" : " logprobs " + entries.joined(separator: " "))
    case .finished(let choice, let reason, let count):
      return "finished \(choice) \(reason.rawValue) \(count)"
    case .done(let prompt, let completion): return "done \(prompt) \(completion)"
    case .failed(let failure): return "failed \(APIError(failure).message)"
    case .checkpoint(let progress):
      return "checkpoint \(progress.index) generated \(progress.generated) token \(progress.token)"
        + " held \(progress.detokenizerBytes) stop \(quoted(progress.stopHeld))"
        + " stopped \(progress.stopped) produced \(progress.produced) sent \(progress.sent)"
        + " pending \(progress.pendingLogprobs.map(\.start))"
        + " reason \(progress.finishReason?.rawValue ?? "-")"
    }
  }

  static func quoted(_ text: String) -> String {
    "\""
      + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
        of: "\n", with: "\\n"
      )
      .replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }
}

/// A request's events as fixture lines; `ended` is signalled when the loop ends it.
final class EventRecorder: GenerationSink, @unchecked Sendable {
  private let recorded = Mutex<[String]>([])
  let ended = DispatchSemaphore(value: 0)

  var lines: [String] { recorded.withLock { $0 } }
  func send(_ event: GenerationEvent) {
    let line = LoopBench.line(event)
    recorded.withLock { $0.append(line) }
  }
  func end() {
    recorded.withLock { $0.append("end") }
    ended.signal()
  }
}

extension FakeEngine: BatchEngine {
  var kvBlockCount: Int { blockCount }
  var kvBlockSize: Int { blockSize }
  var maxStepTokens: Int { stepTokens }
  func workerReports(now: Double) -> [WorkerReport] { [] }
  func clusterStatus(now: Double) -> ClusterStatus? { nil }
  func maintain() -> EngineReadiness { currentReadiness() }
  var maintenanceInterval: Double { 0.01 }
  func release(sequence: Int) { release(sequence) }
  func loadCachedPrefix(
    sequence: Int, ids: [FragmentID], blocks: [[FragmentPart.Address: FragmentPart]],
    cache: FragmentCache?
  ) throws(EngineFailure) -> Int { 0 }
  func keepBlocks(sequence: Int, first: Int, ids: [FragmentID], cache: FragmentCache?) {}
  func runStep(_ entries: [InferenceEngine.Entry]) throws(EngineFailure)
    -> UnsafeBufferPointer<Float>
  {
    try step(entries)
  }
  func rest() {}
}
