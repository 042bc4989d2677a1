public import ContextCache
public import Core

/// What the serving loop runs steps on: one process's `InferenceEngine` or a cluster (and a
/// fake in the loop's tests). Every failure is an `EngineFailure`, so the loop can tell a lost
/// worker (computed again) from a broken engine (its requests fail).
public protocol BatchEngine: AnyObject {
  /// Logits per row.
  var vocabularySize: Int { get }
  /// KV blocks and tokens per block, which the scheduler mirrors.
  var kvBlockCount: Int { get }
  var kvBlockSize: Int { get }
  /// Most tokens one step may carry.
  var maxStepTokens: Int { get }
  /// Every worker the router knows, for `/v1/cluster` (empty for one process).
  func workerReports(now: Double) -> [WorkerReport]
  /// The cluster's plan, standbys and re-plans (nil for one process).
  func clusterStatus(now: Double) -> ClusterStatus?
  /// Frees a sequence now (one process) or with the next message to the workers.
  func release(sequence: Int)
  /// Starts an empty sequence with the cached blocks `ids`: from `blocks` (their parts, found
  /// by the router: one process) or fetched by each worker. Returns how many whole blocks the
  /// sequence starts with everywhere (workers that loaded blocks are noted in `cache`: they
  /// hold them in memory).
  func loadCachedPrefix(
    sequence: Int, ids: [FragmentID], blocks: [[FragmentPart.Address: FragmentPart]],
    cache: FragmentCache?
  ) throws(EngineFailure) -> Int
  /// Keeps a sequence's computed blocks `first ..< first + ids.count` in the fragment cache
  /// (`cache` here, or each worker its own parts).
  func keepBlocks(sequence: Int, first: Int, ids: [FragmentID], cache: FragmentCache?)
  /// Runs one step; returns the wanted rows' logits, `[rows, vocabulary]`, valid until the
  /// next call.
  func runStep(_ entries: [InferenceEngine.Entry]) throws(EngineFailure)
    -> UnsafeBufferPointer<Float>
  /// Called after a step, before the loop samples and sends: local compute threads may sleep
  /// until the next step rather than spin, leaving their cores to the HTTP threads.
  func rest()
  /// Called between steps, and every `maintenanceInterval` while the loop waits: a cluster
  /// exchanges heartbeats, notices lost workers, re-plans and restarts local workers. Says
  /// whether a step can run now.
  func maintain() -> EngineReadiness
  /// Most seconds the loop may wait between calls to `maintain` while idle.
  var maintenanceInterval: Double { get }
}

/// Whether an engine can run a step.
public enum EngineReadiness: Sendable, Equatable {
  /// It can. `generation` changes when the engine has lost the state of every sequence (a
  /// cluster under a new plan): the loop then computes the running sequences again.
  case ready(generation: UInt64)
  /// It cannot for now, and why (a cluster planning again, or waiting for workers).
  case recovering(String)
}

extension BatchEngine {
  func release(sequences: [Int]) {
    for sequence in sequences { release(sequence: sequence) }
  }
}

extension InferenceEngine: BatchEngine {
  public var vocabularySize: Int { model.config.vocabularySize }
  public var kvBlockCount: Int { cache.allocator.blockCount }
  public var kvBlockSize: Int { cache.blockSize }
  public var maxStepTokens: Int { maxBatch }
  public func rest() { pool.rest() }
  public func workerReports(now: Double) -> [WorkerReport] { [] }
  public func clusterStatus(now: Double) -> ClusterStatus? { nil }
  /// One process never loses its sequences.
  public func maintain() -> EngineReadiness { .ready(generation: 0) }
  public var maintenanceInterval: Double { 0.5 }

  private var fragments: KVFragments {
    KVFragments(shard: model.shard, config: model.config)
  }

  public func loadCachedPrefix(
    sequence: Int, ids: [FragmentID], blocks: [[FragmentPart.Address: FragmentPart]],
    cache _: FragmentCache?
  ) throws(EngineFailure) -> Int {
    do {
      return try fragments.load(Array(blocks.prefix(ids.count)), into: cache, sequence: sequence)
    } catch {
      throw .broken("the cached prefix could not be loaded: \(error)")
    }
  }

  /// A model error is never a lost worker: this process holds the whole model.
  public func runStep(_ entries: [InferenceEngine.Entry]) throws(EngineFailure)
    -> UnsafeBufferPointer<Float>
  {
    do {
      return try stepKeepingLogits(entries)
    } catch {
      throw .broken("\(error)")
    }
  }

  public func keepBlocks(
    sequence: Int, first: Int, ids: [FragmentID], cache fragmentCache: FragmentCache?
  ) {
    fragmentCache?.keep(sequence: sequence, firstBlock: first, ids: ids, from: cache)
  }

}

extension ClusterEngine: BatchEngine {
  public var vocabularySize: Int { coordinator.config.vocabularySize }
  public var kvBlockCount: Int {
    (coordinator.kvTokens + PagedKVCache.defaultBlockSize - 1) / PagedKVCache.defaultBlockSize
  }
  public var kvBlockSize: Int { PagedKVCache.defaultBlockSize }
  public var maxStepTokens: Int { coordinator.maxBatch }
  public func rest() {}  // the compute runs in the workers
  public func workerReports(now: Double) -> [WorkerReport] {
    coordinator.membership.members.map { WorkerReport($0, now: now) }
  }
  public func clusterStatus(now: Double) -> ClusterStatus? {
    ClusterStatus(coordinator, now: now)
  }
  /// Keeps the cluster going between steps: restarts local workers that died, takes in what
  /// the workers sent, re-plans and grows back. The generation is the plan id.
  public func maintain() -> EngineReadiness {
    supervisor?.superviseWorkers()
    coordinator.maintain()
    guard coordinator.isReady else {
      return .recovering(coordinator.waitingReason ?? "planning")
    }
    return .ready(generation: coordinator.planID)
  }
  /// Heartbeats go out four times per worker timeout.
  public var maintenanceInterval: Double { min(0.05, coordinator.workerTimeout / 8) }

  // The workers load and keep their own parts; the router only names the blocks.
  public func loadCachedPrefix(
    sequence: Int, ids: [FragmentID], blocks: [[FragmentPart.Address: FragmentPart]],
    cache: FragmentCache?
  ) throws(EngineFailure) -> Int {
    do {
      let loaded = try loadPrefix(sequence: sequence, ids: ids)
      cache?.noteKeptByWorkers(Array(ids.prefix(loaded)))
      return loaded
    } catch {
      throw EngineFailure(error)
    }
  }

  public func runStep(_ entries: [InferenceEngine.Entry]) throws(EngineFailure)
    -> UnsafeBufferPointer<Float>
  {
    do {
      return try stepKeepingLogits(entries)
    } catch {
      throw EngineFailure(error)
    }
  }

  public func keepBlocks(sequence: Int, first: Int, ids: [FragmentID], cache: FragmentCache?) {
    // Not kept (no plan, or the socket failed): a later prompt computes these blocks again.
    if (try? coordinator.keepPrefix(sequence: sequence, firstBlock: first, ids: ids)) == true {
      cache?.noteKeptByWorkers(ids)
    }
  }

}

extension EngineFailure {
  /// A cluster's error as the loop sees it: a worker that stopped answering, a socket that
  /// failed or a plan that is gone loses the step's work (recoverable: the coordinator plans
  /// again, and the loop computes the sequences again on the new plan); the rest is broken.
  init(_ error: ClusterError) {
    switch error {
    case .workerLost, .planLost, .transport, .noPlan: self = .workerLost("\(error)")
    case .timeout, .plan, .notEnoughWorkers, .stepFailed: self = .broken("\(error)")
    }
  }
}
