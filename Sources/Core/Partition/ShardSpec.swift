/// What one worker holds of the model: a contiguous range of layers and, within each, a
/// contiguous range of query heads — with the KV heads they read (`kvGroups`; a KV head whose
/// query heads two ranks share is held by both, its K/V projection computed twice) — and of
/// FFN units. The first stage also holds the token embedding; the last, the output norm and a
/// vocabulary slice. A single process holds everything (`whole(_:)`).
public struct ShardSpec: Sendable, Hashable, Codable {
  public var layers: Range<Int>
  /// Query heads, which are also the shard's attention-output units.
  public var queryHeads: Range<Int>
  /// The KV heads its query heads read.
  public var kvGroups: Range<Int>
  public var ffnUnits: Range<Int>
  public var vocabulary: Range<Int>?
  public var holdsEmbedding: Bool

  public init(
    layers: Range<Int>, queryHeads: Range<Int>, kvGroups: Range<Int>, ffnUnits: Range<Int>,
    vocabulary: Range<Int>?, holdsEmbedding: Bool
  ) {
    self.layers = layers
    self.queryHeads = queryHeads
    self.kvGroups = kvGroups
    self.ffnUnits = ffnUnits
    self.vocabulary = vocabulary
    self.holdsEmbedding = holdsEmbedding
  }

  /// The whole model in one process.
  public static func whole(_ config: ModelConfig) -> ShardSpec {
    ShardSpec(
      layers: 0..<config.layerCount, queryHeads: 0..<config.headCount,
      kvGroups: 0..<config.headCountKV,
      ffnUnits: 0..<CanonicalUnits(config: config).ffnUnitCount,
      vocabulary: 0..<config.vocabularySize, holdsEmbedding: true)
  }

  /// The KV heads query heads `heads` read, `group` query heads to a KV head.
  public static func kvHeads(of heads: Range<Int>, group: Int) -> Range<Int> {
    let first = heads.lowerBound / group
    return first..<(heads.isEmpty ? first : (heads.upperBound + group - 1) / group)
  }

  /// Where the shard's first query head sits in its first KV head's group (0 when its heads
  /// start a group).
  public func queryHeadOffset(group: Int) -> Int {
    queryHeads.lowerBound - kvGroups.lowerBound * group
  }
}
