/// How a model is cut across T × P workers, as data (logged at start, shown at `/v1/cluster`).
///
/// P stages hold contiguous layer ranges; each stage has T ranks, rank r owning a contiguous
/// range of attention units (KV-head groups with their query heads, or single query heads
/// with a single KV head: see `CanonicalUnits`), a contiguous range of FFN units and, on the
/// last stage, a slice of the vocabulary. Splits are as even as the counts allow and need not
/// divide: TP=2 over 3 KV heads is 2+1, TP=3 over Gemma's 4 query heads is 2+1+1, PP=4 over
/// 30 layers is 8+8+7+7 (the first parts take the remainder). Every rank of the first stage holds the token embedding: each rank keeps the
/// whole residual stream.
public struct PartitionPlan: Sendable, Equatable, Codable, CustomStringConvertible {
  public struct Stage: Sendable, Equatable, Codable {
    public var layers: Range<Int>
    /// Rank r's shard.
    public var ranks: [ShardSpec]
  }

  public let tensorParallel: Int
  public let pipelineParallel: Int
  public let stages: [Stage]

  /// Vocabulary slices start on multiples of this (the kernels' panel height).
  static let vocabularyAlignment = 16

  public init(config: ModelConfig, tensorParallel t: Int, pipelineParallel p: Int)
    throws(PlanError)
  {
    guard t >= 1, p >= 1 else { throw .badDegree(tensorParallel: t, pipelineParallel: p) }
    let units = CanonicalUnits(config: config)
    guard t <= units.attentionUnitCount else {
      throw .tooManyTensorRanks(
        t, limit: units.attentionUnitCount,
        what: units.headsPerAttentionUnit == 1 ? "query heads" : "KV heads")
    }
    guard t <= units.ffnUnitCount else {
      throw .tooManyTensorRanks(t, limit: units.ffnUnitCount, what: "FFN units")
    }
    guard p <= config.layerCount else {
      throw .tooManyStages(p, layers: config.layerCount)
    }
    let alignment = Self.vocabularyAlignment
    let vocabularyPanels = (config.vocabularySize + alignment - 1) / alignment
    guard t <= vocabularyPanels else {
      throw .tooManyTensorRanks(t, limit: vocabularyPanels, what: "vocabulary slices")
    }
    let queryHeads = Self.split(units.attentionUnitCount, into: t).map {
      $0.lowerBound * units.headsPerAttentionUnit..<$0.upperBound * units.headsPerAttentionUnit
    }
    let ffnUnits = Self.split(units.ffnUnitCount, into: t)
    let vocabulary = Self.split(vocabularyPanels, into: t).map {
      $0.lowerBound * alignment..<min($0.upperBound * alignment, config.vocabularySize)
    }
    stages = Self.split(config.layerCount, into: p).enumerated().map { index, layers in
      Stage(
        layers: layers,
        ranks: (0..<t).map { rank in
          ShardSpec(
            layers: layers, queryHeads: queryHeads[rank],
            kvGroups: ShardSpec.kvHeads(of: queryHeads[rank], group: config.headsPerKVGroup),
            ffnUnits: ffnUnits[rank],
            vocabulary: index == p - 1 ? vocabulary[rank] : nil, holdsEmbedding: index == 0)
        })
    }
    tensorParallel = t
    pipelineParallel = p
  }

  public var workerCount: Int { tensorParallel * pipelineParallel }

  /// Worker slots in order: stage by stage, rank by rank.
  public var slots: [Slot] {
    stages.indices.flatMap { stage in
      (0..<tensorParallel).map { Slot(stage: stage, rank: $0) }
    }
  }

  public func shard(_ slot: Slot) -> ShardSpec { stages[slot.stage].ranks[slot.rank] }

  /// `count` items cut into `parts` contiguous ranges, the first `count % parts` one longer.
  static func split(_ count: Int, into parts: Int) -> [Range<Int>] {
    var start = 0
    return (0..<parts).map { part in
      let length = count / parts + (part < count % parts ? 1 : 0)
      defer { start += length }
      return start..<start + length
    }
  }

  public var description: String {
    var lines = ["plan TP=\(tensorParallel) × PP=\(pipelineParallel):"]
    for (index, stage) in stages.enumerated() {
      for (rank, shard) in stage.ranks.enumerated() {
        var line =
          "  stage \(index) rank \(rank): layers \(Self.text(stage.layers)), query heads "
          + "\(Self.text(shard.queryHeads)), KV heads \(Self.text(shard.kvGroups)), FFN units "
          + "\(Self.text(shard.ffnUnits))"
        if shard.holdsEmbedding { line += ", embedding" }
        if let vocabulary = shard.vocabulary { line += ", vocabulary \(Self.text(vocabulary))" }
        lines.append(line)
      }
    }
    return lines.joined(separator: "\n")
  }

  static func text(_ range: Range<Int>) -> String { "\(range.lowerBound)..<\(range.upperBound)" }
}

/// A worker's place in a plan.
public struct Slot: Sendable, Hashable, Codable, CustomStringConvertible {
  public var stage: Int
  public var rank: Int

  public init(stage: Int, rank: Int) {
    self.stage = stage
    self.rank = rank
  }

  public var description: String { "stage \(stage) rank \(rank)" }
}

/// Plans that cannot be made.
public enum PlanError: Error, Equatable, CustomStringConvertible {
  case badDegree(tensorParallel: Int, pipelineParallel: Int)
  case tooManyTensorRanks(Int, limit: Int, what: String)
  case tooManyStages(Int, layers: Int)

  public var description: String {
    switch self {
    case .badDegree(let t, let p): "TP and PP must be at least 1 (got TP=\(t), PP=\(p))"
    case .tooManyTensorRanks(let t, let limit, let what):
      "TP=\(t) needs at least \(t) \(what); the model has \(limit)"
    case .tooManyStages(let p, let layers):
      "PP=\(p) needs at least \(p) layers; the model has \(layers)"
    }
  }
}
