public import Core
import Foundation

/// Builds the engine a command runs on — this process holding the whole model, or T×P local
/// worker processes driven over ZeroMQ — so `generate`, `score`, `bench`, `router` and `up`
/// make it one way. (The multi-node work adds remote workers here.) Tests hand in their own
/// engine with `custom`.
public struct EngineFactory: Sendable {
  /// Where the model runs.
  public enum Layout: Sendable, Equatable {
    case singleProcess
    case localWorkers(tensorParallel: Int, pipelineParallel: Int, transport: LocalCluster.Transport)
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
    /// The workers' Redis for the shared fragment cache (nil: none).
    public var workerRedis: String?
    /// Megabytes of each worker's in-memory fragment tier.
    public var workerPrefixCacheMB: Int
    /// Spare local workers, started besides the plan's.
    public var standbys: Int
    /// Seconds of silence after which a worker is lost.
    public var workerTimeout: Double
    public var standbyMode: Coordinator.StandbyMode

    public init(
      modelPath: String, layout: Layout = .singleProcess, threads: Int, kvTokens: Int,
      maxBatch: Int = 256, workerRedis: String? = nil, workerPrefixCacheMB: Int = 256,
      standbys: Int = 0, workerTimeout: Double = 1, standbyMode: Coordinator.StandbyMode = .warm
    ) {
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
            maxBatch: settings.maxBatch, kvTokens: settings.kvTokens))
      case .localWorkers(let tp, let pp, let transport):
        let config = try ModelConfig(gguf: file)
        let cluster = try LocalCluster(
          modelPath: settings.modelPath, config: config,
          fingerprint: ModelFingerprint.of(file), tensorParallel: tp, pipelineParallel: pp,
          threads: settings.threads, kvTokens: settings.kvTokens, maxBatch: settings.maxBatch,
          transport: transport, redis: settings.workerRedis,
          prefixCacheMB: settings.workerPrefixCacheMB, standbys: settings.standbys,
          workerTimeout: settings.workerTimeout, standbyMode: settings.standbyMode,
          cost: ShardCost(file: file, config: config, kvTokens: settings.kvTokens))
        return BuiltEngine(cluster: cluster)
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
  /// The local workers, when they hold it, and the engine over them.
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
