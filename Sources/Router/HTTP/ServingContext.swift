public import ContextCache
public import Core
import Foundation
public import RedisClient
import Synchronization

/// What the HTTP handlers share: the intake, the serving loop, the requests this router
/// holds, and what `/ready`, `/metrics` and `/v1/cluster` report. Immutable apart from the
/// engine's readiness, so handlers on any thread may use it.
public final class ServingContext: Sendable {
  public let intake: RequestIntake
  public let loop: ServingLoop
  /// Largest request body in bytes.
  public let maxBodyBytes: Int
  public let created = Int(Date().timeIntervalSince1970)
  /// Whether the engine is up (set by the serving service once it built the engine).
  let engineReady = Atomic<Bool>(false)
  /// What `/v1/cluster` shows.
  public let cluster: ClusterInfo
  /// The Redis given with `--redis`, if any.
  public let redis: RedisClient?
  /// The requests this router runs and their durable state.
  public let requests: RequestRegistry
  private let lookups = DispatchQueue(label: "tessera.fragments.lookup", attributes: .concurrent)

  public init(
    intake: RequestIntake, loop: ServingLoop, maxBodyBytes: Int = 1 << 20,
    cluster: ClusterInfo = ClusterInfo(plan: nil), redis: RedisClient? = nil,
    requests: RequestRegistry
  ) {
    self.intake = intake
    self.loop = loop
    self.maxBodyBytes = maxBodyBytes
    self.cluster = cluster
    self.redis = redis
    self.requests = requests
  }

  public var modelID: String { intake.limits.modelID }
  public var fragments: FragmentCache? { intake.fragments }

  public func markReady(_ ready: Bool) { engineReady.store(ready, ordering: .releasing) }
  /// Whether `/ready` says so: the engine is up, its last step did not break, and it is not
  /// recovering from a lost worker.
  public var isReady: Bool {
    let snapshot = loop.snapshot
    return acceptsRequests && snapshot.engineFailed == nil && snapshot.recovering == nil
  }

  /// Whether requests are taken: once the engine is up. While it recovers they wait in the
  /// queue (a pause, not an error), and after a broken step the next one may work.
  public var acceptsRequests: Bool { engineReady.load(ordering: .acquiring) }

  /// Runs blocking work (Redis calls) off the async threads.
  func offThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      lookups.async { continuation.resume(returning: body()) }
    }
  }

  /// Why the router serves in a degraded way (empty: it does not). The Redis check blocks, so
  /// it runs off the async threads.
  func degradedReasons() async -> [String] {
    let cluster = loop.snapshot.cluster
    let reasons =
      cluster.map { $0.standbys.count < $0.wantedStandbys }
        == true
      ? ["\(cluster?.standbys.count ?? 0) of \(cluster?.wantedStandbys ?? 0) standby workers"] : []
    guard let redis else { return reasons }
    return await offThread {
      guard case .failure(let error) = redis.ping() else { return reasons }
      return reasons + ["redis at \(redis.url) is unavailable (\(error)): serving without it"]
    }
  }
}

/// The cluster as `/v1/cluster` reports it: the plan (when workers are used) and the workers.
public struct ClusterInfo: Sendable {
  public let plan: PartitionPlan?
  /// Workers started elsewhere that joined (`--workers-bind`), not local ones.
  public let remote: Bool

  public init(plan: PartitionPlan?, remote: Bool = false) {
    self.plan = plan
    self.remote = remote
  }

  struct Report: Encodable {
    let mode: String
    let ready: Bool
    let tensorParallel: Int
    let pipelineParallel: Int
    let plan: String
    let workers: [WorkerReport]
    /// The running layout, standbys and re-plans (workers only).
    let cluster: ClusterStatus?
    enum CodingKeys: String, CodingKey {
      case mode, ready, plan, workers, cluster
      case tensorParallel = "tensor_parallel"
      case pipelineParallel = "pipeline_parallel"
    }
  }

  /// The running plan when there is one (it may be smaller than the configured `plan`
  /// after a worker was lost).
  func report(ready: Bool, workers: [WorkerReport], status: ClusterStatus?) -> Report {
    let running = status?.plan ?? plan
    return Report(
      mode: plan == nil ? "single-process" : remote ? "remote-workers" : "local-workers",
      ready: ready,
      tensorParallel: running?.tensorParallel ?? 1,
      pipelineParallel: running?.pipelineParallel ?? 1,
      plan: running?.description ?? "one process holds the whole model", workers: workers,
      cluster: status)
  }
}
