public import Core
import Foundation

/// Builds the engine a command runs on — this process holding the whole model, T×P local
/// worker processes driven over ZeroMQ, or T×P workers started elsewhere that join a bound
/// address — so `generate`, `score`, `bench`, `router` and `up` make it one way. Tests hand
/// in their own engine with `custom`.
public struct EngineFactory: Sendable {
  /// Where the model runs.
  public enum Layout: Sendable, Equatable {
    case singleProcess
    case localWorkers(tensorParallel: Int, pipelineParallel: Int, transport: LocalCluster.Transport)
    /// Waits at `bind` for T×P workers from anywhere (`--workers-bind`); starts none.
    case remoteWorkers(tensorParallel: Int, pipelineParallel: Int, bind: String)
  }

  /// What a model engine is made of.
  public struct Settings: Sendable {
    public var modelPath: String
    public var layout: Layout
    /// Compute threads (per worker with local workers).
    public var threads: Int
    /// KV cache capacity in tokens over all sequences.
    public var kvTokens: Int
    /// Most tokens one step carries.
    public var maxBatch: Int
    /// The longest a sequence may grow (nil, and at most: the model's context length).
    public var contextLength: Int?
    /// The workers' Redis for the shared fragment cache (nil: none).
    public var workerRedis: String?
    /// Megabytes of each worker's in-memory fragment tier.
    public var workerPrefixCacheMB: Int
    /// Spare local workers, started besides the plan's.
    public var standbys: Int
    /// Seconds of silence after which a worker is lost.
    public var workerTimeout: Double
    public var standbyMode: Coordinator.StandbyMode
    /// Remote workers: the router's Curve keys and the workers' allowed keys (nil: plaintext,
    /// which only a loopback bind or `insecure` allows).
    public var security: Coordinator.Security?
    /// Local workers: no Curve (`--insecure`); remote ones: a plaintext bind other hosts reach.
    public var insecure: Bool

    public init(
      modelPath: String, layout: Layout = .singleProcess, threads: Int, kvTokens: Int,
      maxBatch: Int = 256, workerRedis: String? = nil, workerPrefixCacheMB: Int = 256,
      standbys: Int = 0, workerTimeout: Double = 1, standbyMode: Coordinator.StandbyMode = .warm,
      security: Coordinator.Security? = nil, insecure: Bool = false, contextLength: Int? = nil
    ) {
      self.contextLength = contextLength
      self.modelPath = modelPath
      self.layout = layout
      self.threads = threads
      self.kvTokens = kvTokens
      self.maxBatch = maxBatch
      self.workerRedis = workerRedis
      self.workerPrefixCacheMB = workerPrefixCacheMB
      self.standbys = standbys
      self.workerTimeout = workerTimeout
      self.standbyMode = standbyMode
      self.security = security
      self.insecure = insecure
    }

    /// The model's configuration as the router plans with it: its context cut to
    /// `contextLength` (the workers check sequences against the router's steps).
    func limited(_ config: ModelConfig) -> ModelConfig {
      var config = config
      config.contextLength = min(contextLength ?? config.contextLength, config.contextLength)
      return config
    }
  }

  private let build: @Sendable () throws -> BuiltEngine

  /// The model in `settings`, in its layout.
  public static func model(_ settings: Settings) -> EngineFactory {
    EngineFactory {
      let file = try GGUFFile(path: settings.modelPath)
      switch settings.layout {
      case .singleProcess:
        return BuiltEngine(
          process: InferenceEngine(
            model: try ModelLoader.load(file), threads: settings.threads,
            maxBatch: settings.maxBatch, kvTokens: settings.kvTokens,
            contextLength: settings.contextLength))
      case .localWorkers(let tp, let pp, let transport):
        let config = try settings.limited(ModelConfig(gguf: file))
        let cluster = try LocalCluster(
          modelPath: settings.modelPath, config: config,
          fingerprint: ModelFingerprint.of(file), tensorParallel: tp, pipelineParallel: pp,
          threads: settings.threads, kvTokens: settings.kvTokens, maxBatch: settings.maxBatch,
          transport: transport, redis: settings.workerRedis,
          prefixCacheMB: settings.workerPrefixCacheMB, standbys: settings.standbys,
          workerTimeout: settings.workerTimeout, standbyMode: settings.standbyMode,
          cost: ShardCost(file: file, config: config, kvTokens: settings.kvTokens),
          insecure: settings.insecure)
        return BuiltEngine(cluster: cluster)
      case .remoteWorkers(let tp, let pp, let bind):
        // Serving starts at once; requests wait (and /ready says for how many workers) until
        // the workers have joined and loaded their shards.
        let config = try settings.limited(ModelConfig(gguf: file))
        let coordinator = try Coordinator(
          bind: bind, config: config, fingerprint: ModelFingerprint.of(file), tensorParallel: tp,
          pipelineParallel: pp, kvTokens: settings.kvTokens, maxBatch: settings.maxBatch,
          workerTimeout: settings.workerTimeout, standbyMode: settings.standbyMode,
          cost: ShardCost(file: file, config: config, kvTokens: settings.kvTokens),
          security: settings.security, insecure: settings.insecure,
          wantedStandbys: settings.standbys)
        return BuiltEngine(remote: coordinator)
      }
    }
  }

  /// An engine of the caller's (the serving loop's tests run a fake).
  public static func custom(_ make: @escaping @Sendable () throws -> any BatchEngine)
    -> EngineFactory
  {
    EngineFactory { BuiltEngine(custom: try make()) }
  }

  /// Builds the engine on the calling thread (which then owns it).
  public func make() throws -> BuiltEngine { try build() }
}

/// An engine that was built, with what it needs to stop.
public final class BuiltEngine {
  /// What the serving loop steps.
  public let batch: any BatchEngine
  /// What one-sequence commands (`generate`, `bench`) drive, for model engines.
  public let tokens: (any TokenEngine)?
  /// This process's engine, when it holds the whole model.
  public let process: InferenceEngine?
  /// The local workers, when they hold it, and the engine over the workers (local or remote).
  public let cluster: LocalCluster?
  public let clusterEngine: ClusterEngine?

  init(process: InferenceEngine) {
    batch = process
    tokens = process
    self.process = process
    cluster = nil
    clusterEngine = nil
  }

  init(cluster: LocalCluster) {
    let engine = ClusterEngine(coordinator: cluster.coordinator, supervisor: cluster)
    batch = engine
    tokens = engine
    process = nil
    self.cluster = cluster
    clusterEngine = engine
  }

  /// Workers started elsewhere: nobody here restarts them, and they outlive this router
  /// (they join the next one at the same address).
  init(remote coordinator: Coordinator) {
    let engine = ClusterEngine(coordinator: coordinator)
    batch = engine
    tokens = engine
    process = nil
    cluster = nil
    clusterEngine = engine
  }

  init(custom: any BatchEngine) {
    batch = custom
    tokens = nil
    process = nil
    cluster = nil
    clusterEngine = nil
  }

  /// Stops the workers (they write the prefix blocks they still hold for Redis first).
  public func stop() { cluster?.stop() }
}
