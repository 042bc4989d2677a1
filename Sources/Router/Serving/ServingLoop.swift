public import ContextCache
public import Core
import Foundation
import Synchronization

/// Runs the engine on a thread of its own: that thread owns the engine, the scheduler and
/// every choice's output processor (`ServingCore`); request handlers hand it submissions and
/// read their events from each request's sink. Each turn takes what arrived, then runs one
/// step (schedule → execute → update).
public final class ServingLoop: Sendable {
  /// Figures for `/metrics` and `/ready`, updated every step.
  public struct Snapshot: Sendable {
    public var running = 0
    public var queued = 0
    public var kvBlocksUsed = 0
    public var kvBlocksTotal = 0
    public var preemptions = 0
    public var steps = 0
    public var largestBatch = 0
    public var promptTokens = 0
    public var generatedTokens = 0
    public var workersUp = 0
    public var workers: [WorkerReport] = []
    public var engineFailed: String?
    /// Why the engine cannot run a step now (a cluster planning again), while it cannot.
    public var recovering: String?
    /// Nothing queued, running or waiting to be released.
    public var idle = true
    /// Sequences computed again after the engine lost their state (a worker was lost).
    public var replayedSequences = 0
    /// The cluster's plan, standbys and re-plans (nil for one process).
    public var cluster: ClusterStatus?
  }

  private struct Inbox {
    var submissions: [Submission] = []
    var cancellations: [UInt64] = []
    var stopping = false
  }

  private let inbox = Mutex(Inbox())
  private let state = Mutex(Snapshot())
  private let wake = DispatchSemaphore(value: 0)
  /// What deadlines are measured against.
  let clock: any TimeSource
  /// Seconds requests wait for an engine that cannot run (no plan) before they fail.
  let recoveryTimeout: Double

  public init(clock: any TimeSource = SystemClock(), recoveryTimeout: Double = 60) {
    self.clock = clock
    self.recoveryTimeout = recoveryTimeout
  }

  public var snapshot: Snapshot { state.withLock { $0 } }

  /// Submissions handed in that the loop has not taken yet (they are admitted, or refused,
  /// together at the start of its next turn).
  var waitingSubmissionCount: Int { inbox.withLock { $0.submissions.count } }

  /// Hands a request to the loop; its events arrive on `submission.events`.
  public func submit(_ submission: Submission) {
    inbox.withLock { $0.submissions.append(submission) }
    wake.signal()
  }

  /// Cancels a request (a client went away); its KV blocks are freed with the next step.
  public func cancel(_ id: UInt64) {
    inbox.withLock { $0.cancellations.append(id) }
    wake.signal()
  }

  public func stop() {
    inbox.withLock { $0.stopping = true }
    wake.signal()
  }

  /// Runs on the calling thread until `stop()`; the engine and vocabulary are used only here.
  /// With `fragments`, prompts' computed blocks are kept in the context-fragment cache.
  public func run(
    engine: some BatchEngine, vocabulary: Vocabulary, limits: Scheduler.Limits,
    fragments: FragmentCache? = nil
  ) {
    var core = ServingCore(
      engine: engine, vocabulary: vocabulary, limits: limits, fragments: fragments,
      recoveryTimeout: recoveryTimeout)
    var reports = WorkerReportThrottle()
    state.withLock { $0.kvBlocksTotal = limits.totalBlocks }
    while true {
      let (submissions, cancellations, stopping) = inbox.withLock { inbox in
        defer {
          inbox.submissions = []
          inbox.cancellations = []
        }
        return (inbox.submissions, inbox.cancellations, inbox.stopping)
      }
      if stopping {
        for submission in submissions { submission.events.handBack() }  // never admitted
        core.handBackAll()
        return
      }
      for submission in submissions { core.admit(submission) }
      for id in cancellations { core.cancel(id) }
      core.expire(now: clock.now())
      let canStep = core.maintain(now: clock.now())
      let idle = core.isIdle
      if canStep, !idle { core.step() }
      publish(&core, reports: &reports)
      if idle || !canStep {
        let wait = Int(engine.maintenanceInterval * 1000)
        _ = wake.wait(timeout: .now() + .milliseconds(wait))
      }
    }
  }

  /// Copies the core's figures where `/metrics` reads them.
  private func publish(
    _ core: inout ServingCore<some BatchEngine>, reports: inout WorkerReportThrottle
  ) {
    core.counters.running = core.scheduler.runningCount
    core.counters.queued = core.scheduler.queuedCount
    core.counters.kvBlocksUsed = core.scheduler.blocksUsed
    core.counters.kvBlocksTotal = core.scheduler.limits.totalBlocks
    core.counters.idle = core.isIdle
    let previous = state.withLock { $0 }
    // A plan that starts or stops running is reported with its cluster at once, so `/ready`
    // never pairs the new readiness with the old plan's standbys.
    let readinessChanged =
      (previous.recovering == nil) != (core.counters.recovering == nil)
      || (previous.engineFailed == nil) != (core.counters.engineFailed == nil)
    reports.refresh(&core.counters, engine: core.engine, now: clock.now(), force: readinessChanged)
    let counters = core.counters
    state.withLock { $0 = counters }
  }
}

/// The workers' reports (strings and all) at most twice a second, not every step.
private struct WorkerReportThrottle {
  var next = 0.0

  mutating func refresh(
    _ counters: inout ServingLoop.Snapshot, engine: some BatchEngine, now: Double, force: Bool
  ) {
    guard force || now >= next else { return }
    counters.workers = engine.workerReports(now: now)
    counters.workersUp = counters.workers.filter { $0.ready && $0.stage != nil }.count
    counters.cluster = engine.clusterStatus(now: now)
    next = now + 0.5
  }
}
