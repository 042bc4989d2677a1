import Core
import Testing

@Suite struct PartitionPlanTests {
  /// SmolLM2-135M's shape: 30 layers, 3 KV heads, FFN 1536 (6 units), vocabulary 49152.
  static let smol = ModelConfig(
    architecture: "llama", layerCount: 30, embeddingLength: 576, feedForwardLength: 1536,
    headCount: 9, headCountKV: 3, contextLength: 8192, ropeFreqBase: 100_000,
    ropeDimensionCount: 64, rmsNormEpsilon: 1e-5, vocabularySize: 49152)

  @Test func unevenSplitsPutTheRemainderFirst() throws {
    let tp2 = try PartitionPlan(config: Self.smol, tensorParallel: 2, pipelineParallel: 1)
    #expect(tp2.stages[0].ranks.map(\.kvGroups) == [0..<2, 2..<3])
    #expect(tp2.stages[0].ranks.map(\.queryHeads) == [0..<6, 6..<9])
    #expect(tp2.stages[0].ranks.map(\.ffnUnits) == [0..<3, 3..<6])
    let pp4 = try PartitionPlan(config: Self.smol, tensorParallel: 1, pipelineParallel: 4)
    #expect(pp4.stages.map(\.layers.count) == [8, 8, 7, 7])
    #expect(pp4.stages.map(\.layers) == [0..<8, 8..<16, 16..<23, 23..<30])
  }

  @Test(arguments: [(1, 1), (2, 1), (3, 1), (1, 2), (1, 3), (2, 2), (3, 2), (2, 7), (3, 30)])
  func everyPieceIsOwnedExactlyOnce(t: Int, p: Int) throws {
    let plan = try PartitionPlan(config: Self.smol, tensorParallel: t, pipelineParallel: p)
    #expect(plan.workerCount == t * p && plan.slots.count == t * p)
    #expect(plan.stages.flatMap { Array($0.layers) } == Array(0..<30))
    for stage in plan.stages {
      #expect(stage.ranks.flatMap { Array($0.kvGroups) } == Array(0..<3))
      #expect(stage.ranks.flatMap { Array($0.ffnUnits) } == Array(0..<6))
      #expect(stage.ranks.allSatisfy { $0.layers == stage.layers && !$0.kvGroups.isEmpty })
    }
    // The first stage's ranks embed; the last stage's split the vocabulary on panel bounds.
    #expect(plan.stages[0].ranks.allSatisfy { $0.holdsEmbedding })
    #expect(plan.stages.dropFirst().allSatisfy { $0.ranks.allSatisfy { !$0.holdsEmbedding } })
    let slices = plan.stages[p - 1].ranks.compactMap(\.vocabulary)
    #expect(slices.flatMap { Array($0) } == Array(0..<49152))
    #expect(slices.allSatisfy { $0.lowerBound % 16 == 0 })
    #expect(plan.stages.dropLast().allSatisfy { $0.ranks.allSatisfy { $0.vocabulary == nil } })
  }

  /// Gemma 3 270M's shape: one KV head, so the attention units are its 4 query heads, and
  /// every rank reads (and computes) the one KV head.
  static let gemma: ModelConfig = {
    var config = ModelConfig(
      architecture: "gemma3", layerCount: 18, embeddingLength: 640, feedForwardLength: 2048,
      headCount: 4, headCountKV: 1, contextLength: 32768, ropeFreqBase: 1_000_000,
      ropeDimensionCount: 256, rmsNormEpsilon: 1e-6, vocabularySize: 262_144, headDimension: 256)
    config.slidingWindow = 512
    config.globalLayerEvery = 6
    return config
  }()

  @Test func oneKVHeadSplitsByQueryHeads() throws {
    let units = CanonicalUnits(config: Self.gemma)
    #expect(units.attentionUnitCount == 4 && units.headsPerAttentionUnit == 1)
    #expect(units.attentionUnitColumns == [0..<256, 256..<512, 512..<768, 768..<1024])
    let tp3 = try PartitionPlan(config: Self.gemma, tensorParallel: 3, pipelineParallel: 1)
    #expect(tp3.stages[0].ranks.map(\.queryHeads) == [0..<2, 2..<3, 3..<4])
    #expect(tp3.stages[0].ranks.allSatisfy { $0.kvGroups == 0..<1 })
    #expect(tp3.stages[0].ranks.map { units.attentionUnits(of: $0) } == [0..<2, 2..<3, 3..<4])
    #expect(tp3.stages[0].ranks[1].queryHeadOffset(group: 4) == 2)
    #expect(throws: PlanError.tooManyTensorRanks(5, limit: 4, what: "query heads")) {
      _ = try PartitionPlan(config: Self.gemma, tensorParallel: 5, pipelineParallel: 1)
    }
    // SmolLM2 keeps KV-head groups as units: no K/V projection is computed twice.
    let smol = try PartitionPlan(config: Self.smol, tensorParallel: 3, pipelineParallel: 1)
    #expect(smol.stages[0].ranks.map(\.kvGroups) == [0..<1, 1..<2, 2..<3])
  }

  @Test func oneByOneIsTheWholeModel() throws {
    let plan = try PartitionPlan(config: Self.smol, tensorParallel: 1, pipelineParallel: 1)
    #expect(plan.stages[0].ranks == [ShardSpec.whole(Self.smol)])
  }

  @Test func impossiblePlansAreNamedErrors() throws {
    #expect(throws: PlanError.tooManyTensorRanks(4, limit: 3, what: "KV heads")) {
      _ = try PartitionPlan(config: Self.smol, tensorParallel: 4, pipelineParallel: 1)
    }
    #expect(throws: PlanError.tooManyStages(31, layers: 30)) {
      _ = try PartitionPlan(config: Self.smol, tensorParallel: 1, pipelineParallel: 31)
    }
    #expect(throws: PlanError.badDegree(tensorParallel: 0, pipelineParallel: 1)) {
      _ = try PartitionPlan(config: Self.smol, tensorParallel: 0, pipelineParallel: 1)
    }
    var narrow = Self.smol
    narrow.headCountKV = 9
    narrow.feedForwardLength = 512  // two FFN units
    #expect(throws: PlanError.tooManyTensorRanks(3, limit: 2, what: "FFN units")) {
      _ = try PartitionPlan(config: narrow, tensorParallel: 3, pipelineParallel: 1)
    }
  }

  @Test func thePlanDescribesItself() throws {
    let plan = try PartitionPlan(config: Self.smol, tensorParallel: 2, pipelineParallel: 2)
    let text = plan.description
    #expect(
      text.contains(
        "stage 1 rank 1: layers 15..<30, query heads 6..<9, KV heads 2..<3, FFN units 3..<6"))
    #expect(text.contains("vocabulary 24576..<49152"))
  }
}
