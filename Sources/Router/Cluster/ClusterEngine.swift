public import Core

/// Whoever runs the workers and starts them again when they die (a local cluster does; an
/// orchestrator does it for remote workers).
public protocol WorkerSupervisor: AnyObject {
  /// Called between steps: starts again the workers that exited and are due.
  func superviseWorkers()
}

/// A `TokenEngine` over a cluster: prompts go out in chunks of the plan's batch limit, one
/// step at a time; the logits come back assembled from the last stage's vocabulary slices.
/// Sequences released here are freed on the workers with the next step.
public final class ClusterEngine: TokenEngine {
  public let coordinator: Coordinator
  /// Restarts local workers that died (nil: someone else runs the workers).
  public let supervisor: (any WorkerSupervisor)?
  private var logits: [Float] = []
  private var releases: [Int] = []
  /// The logits handed out by `prefill`/`decode`, owned here (valid until the next call).
  private var handedOut = UnsafeMutableBufferPointer<Float>.allocate(capacity: 0)

  public init(coordinator: Coordinator, supervisor: (any WorkerSupervisor)? = nil) {
    self.coordinator = coordinator
    self.supervisor = supervisor
  }

  deinit { handedOut.deallocate() }

  public var contextLength: Int { coordinator.config.contextLength }

  public func prefill(sequence: Int, tokens: [TokenID]) throws -> UnsafeBufferPointer<Float> {
    guard !tokens.isEmpty else { throw ModelError.invalidConfig("nothing to prefill") }
    let batch = coordinator.maxBatch
    var start = 0
    while start < tokens.count {
      let end = min(start + batch, tokens.count)
      let last = end == tokens.count
      try run([
        StepCommand.Entry(
          sequence: sequence, tokens: Array(tokens[start..<end]),
          logitRows: last ? [end - start - 1] : [])
      ])
      start = end
    }
    return buffer()
  }

  public func decode(sequence: Int, token: TokenID) throws -> UnsafeBufferPointer<Float> {
    try run([StepCommand.Entry(sequence: sequence, tokens: [token], logitRows: [0])])
    return buffer()
  }

  /// Runs one step of several entries; returns `[rows, vocabulary]` logits.
  public func step(_ entries: [StepCommand.Entry]) throws -> [Float] {
    try run(entries)
    return logits
  }

  /// Like `step`, but the logits stay in a buffer this engine owns, valid until the next call.
  public func stepKeepingLogits(_ entries: [StepCommand.Entry]) throws(ClusterError)
    -> UnsafeBufferPointer<Float>
  {
    try run(entries)
    return buffer()
  }

  public func release(sequence: Int) { releases.append(sequence) }

  /// Starts `sequence` with cached blocks on every worker (see `Coordinator.loadPrefix`),
  /// freeing the sequences released since the last step first.
  public func loadPrefix(sequence: Int, ids: [FragmentID]) throws(ClusterError) -> Int {
    let freed = releases
    releases = []
    return try coordinator.loadPrefix(sequence: sequence, ids: ids, releases: freed)
  }

  private func run(_ entries: [StepCommand.Entry]) throws(ClusterError) {
    let id = try coordinator.submit(entries, releases: releases)
    releases = []
    try coordinator.collect(id, into: &logits)
  }

  private func buffer() -> UnsafeBufferPointer<Float> {
    if handedOut.count != logits.count {
      handedOut.deallocate()
      handedOut = .allocate(capacity: logits.count)
    }
    _ = handedOut.update(from: logits)
    return UnsafeBufferPointer(handedOut)
  }
}
