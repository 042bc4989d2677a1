public import Core

/// Which layout the cluster runs and which worker takes which slot, as a pure function of who
/// is there: no I/O, no clock, so its rules are tested directly.
///
/// The rules:
/// 1. At start (`degradedAllowed` false) only the configured T × P is planned, once T × P
///    workers have joined.
/// 2. After that, the largest layout the live workers can hold: T' × P' workers with T' ≤ T
///    and T' × P' ≤ min(live, T × P), each worker's shard (weights and KV cache) within its
///    memory; among equals the one with more tensor ranks (fewer stages). So TP2 with one
///    worker left becomes one worker, TP2 × PP2 with three becomes PP3, and with T × P live
///    workers again the configured layout comes back.
/// 3. Slots go first to the workers that already hold their shard (they keep their weights
///    and cached prefix blocks), then to standbys that have the shard packed, then to the
///    others in join order. Workers left over are standbys.
public struct Planner: Sendable {
  /// A live worker, as the planner sees it.
  public struct Candidate: Sendable, Equatable {
    public var id: [UInt8]
    /// Bytes it may use (0: unknown, no limit).
    public var memoryBytes: Int
    /// The shard it holds now, if any.
    public var shard: ShardSpec?
    /// Shards it holds packed as a warm standby.
    public var prepared: [ShardSpec]

    public init(
      id: [UInt8], memoryBytes: Int = 0, shard: ShardSpec? = nil, prepared: [ShardSpec] = []
    ) {
      self.id = id
      self.memoryBytes = memoryBytes
      self.shard = shard
      self.prepared = prepared
    }
  }

  /// A layout with a worker for every slot.
  public struct Placement: Sendable, Equatable {
    public var plan: PartitionPlan
    /// The worker of each of `plan.slots`, in that order.
    public var workers: [[UInt8]]
    public var standbys: [[UInt8]]

    /// Whether this is the configured layout.
    public func isFull(tensorParallel: Int, pipelineParallel: Int) -> Bool {
      plan.tensorParallel == tensorParallel && plan.pipelineParallel == pipelineParallel
    }
  }

  public enum Outcome: Sendable, Equatable {
    case placed(Placement)
    /// No plan yet, and why (for `/ready`).
    case waiting(String)
  }

  public let config: ModelConfig
  public let tensorParallel: Int
  public let pipelineParallel: Int
  /// What a worker needs for a shard.
  public let cost: ShardCost

  public init(config: ModelConfig, tensorParallel: Int, pipelineParallel: Int, cost: ShardCost) {
    self.config = config
    self.tensorParallel = tensorParallel
    self.pipelineParallel = pipelineParallel
    self.cost = cost
  }

  public var configuredWorkers: Int { tensorParallel * pipelineParallel }

  public func place(_ candidates: [Candidate], degradedAllowed: Bool) -> Outcome {
    let live = candidates.count
    guard degradedAllowed || live >= configuredWorkers else {
      return .waiting("waiting for \(live) of \(configuredWorkers) workers")
    }
    guard live > 0 else { return .waiting("no workers: all \(configuredWorkers) are gone") }
    let most = min(live, configuredWorkers)
    var layouts: [(t: Int, p: Int)] = []
    for t in 1...tensorParallel {
      for p in 1...max(1, most / t) where t * p <= most { layouts.append((t, p)) }
    }
    layouts.sort { ($0.t * $0.p, $0.t) > ($1.t * $1.p, $1.t) }
    for (t, p) in layouts {
      guard let plan = try? PartitionPlan(config: config, tensorParallel: t, pipelineParallel: p)
      else { continue }
      if let workers = assign(plan, candidates) {
        let used = Set(workers)
        return .placed(
          Placement(
            plan: plan, workers: workers,
            standbys: candidates.map(\.id).filter { !used.contains($0) }))
      }
    }
    return .waiting("no layout fits the memory of the \(live) live workers")
  }

  /// A worker for every slot of `plan`, keeping shards where they are; nil if some shard fits
  /// no worker left.
  func assign(_ plan: PartitionPlan, _ candidates: [Candidate]) -> [[UInt8]]? {
    let slots = plan.slots
    var chosen = [[UInt8]?](repeating: nil, count: slots.count)
    var free = candidates
    func fits(_ candidate: Candidate, _ shard: ShardSpec) -> Bool {
      candidate.memoryBytes == 0 || cost.bytes(for: shard) <= candidate.memoryBytes
    }
    let preferences: [(Candidate, ShardSpec) -> Bool] = [
      { candidate, shard in candidate.shard == shard },
      { candidate, shard in candidate.prepared.contains(shard) },
      { _, _ in true },
    ]
    for prefers in preferences {
      for (index, slot) in slots.enumerated() where chosen[index] == nil {
        let shard = plan.shard(slot)
        if let pick = free.firstIndex(where: { prefers($0, shard) && fits($0, shard) }) {
          chosen[index] = free.remove(at: pick).id
        }
      }
    }
    if chosen.allSatisfy({ $0 != nil }) { return chosen.compactMap { $0 } }
    // Join order left a large shard without room: largest shards to the largest memories.
    let order = slots.indices.sorted {
      cost.bytes(for: plan.shard(slots[$0])) > cost.bytes(for: plan.shard(slots[$1]))
    }
    var roomiest = candidates.sorted {
      ($0.memoryBytes == 0 ? Int.max : $0.memoryBytes)
        > ($1.memoryBytes == 0 ? Int.max : $1.memoryBytes)
    }
    var result = [[UInt8]](repeating: [], count: slots.count)
    for index in order {
      guard let first = roomiest.first, fits(first, plan.shard(slots[index])) else { return nil }
      result[index] = roomiest.removeFirst().id
    }
    return result
  }
}

/// What a worker needs in memory for a shard: its share of the weights (each layer's, by the
/// larger of its KV-group and FFN-unit fractions), the embedding on the first stage, the
/// output rows of its vocabulary slice on the last, and its KV cache.
public struct ShardCost: Sendable, Equatable {
  public var layerBytes: Int
  public var embeddingBytes: Int
  /// Bytes per output row (0 when the output is the tied embedding).
  public var outputRowBytes: Int
  public var kvCacheBytesPerLayer: Int
  public let config: ModelConfig

  public init(
    config: ModelConfig, layerBytes: Int, embeddingBytes: Int, outputRowBytes: Int,
    kvTokens: Int
  ) {
    self.config = config
    self.layerBytes = layerBytes
    self.embeddingBytes = embeddingBytes
    self.outputRowBytes = outputRowBytes
    // f16 keys and values for every token of every KV head.
    kvCacheBytesPerLayer = kvTokens * config.kvDimension * 2 * 2
  }

  /// From the model file's tensor sizes.
  public init(file: GGUFFile, config: ModelConfig, kvTokens: Int) {
    let layerTensors = file.tensors.filter { $0.name.hasPrefix("blk.") }
    let embedding = file.tensor(named: TensorName.tokenEmbedding)
    let output = file.tensor(named: TensorName.output)
    self.init(
      config: config,
      layerBytes: layerTensors.reduce(0) { $0 + $1.byteCount } / max(config.layerCount, 1),
      embeddingBytes: embedding?.byteCount ?? 0,
      outputRowBytes: output.map { $0.byteCount / max(config.vocabularySize, 1) } ?? 0,
      kvTokens: kvTokens)
  }

  public func bytes(for shard: ShardSpec) -> Int {
    let units = CanonicalUnits(config: config)
    let fraction = max(
      Double(shard.queryHeads.count) / Double(max(config.headCount, 1)),
      Double(shard.ffnUnits.count) / Double(max(units.ffnUnitCount, 1)))
    let layers = Double(shard.layers.count) * (Double(layerBytes) * fraction)
    let kv =
      shard.layers.count * kvCacheBytesPerLayer * shard.kvGroups.count
      / max(config.headCountKV, 1)
    var total = Int(layers) + kv
    if shard.holdsEmbedding { total += embeddingBytes }
    guard let vocabulary = shard.vocabulary else { return total }
    if outputRowBytes > 0 {
      total += vocabulary.count * outputRowBytes
    } else if !shard.holdsEmbedding {
      // A tied output on a stage without the embedding: its slice of the embedding's rows.
      total += embeddingBytes * vocabulary.count / max(config.vocabularySize, 1)
    }
    return total
  }
}
