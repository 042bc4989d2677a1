/// What one worker holds of the model: a contiguous range of layers and, within each, a
/// contiguous range of KV-head groups (with their query heads) and of FFN units. The first
/// stage also holds the token embedding; the last, the output norm and a vocabulary slice.
/// A single process holds everything (`whole(_:)`).
public struct ShardSpec: Sendable, Hashable, Codable {
  public var layers: Range<Int>
  public var kvGroups: Range<Int>
  public var ffnUnits: Range<Int>
  public var vocabulary: Range<Int>?
  public var holdsEmbedding: Bool

  public init(
    layers: Range<Int>, kvGroups: Range<Int>, ffnUnits: Range<Int>, vocabulary: Range<Int>?,
    holdsEmbedding: Bool
  ) {
    self.layers = layers
    self.kvGroups = kvGroups
    self.ffnUnits = ffnUnits
    self.vocabulary = vocabulary
    self.holdsEmbedding = holdsEmbedding
  }

  /// The whole model in one process.
  public static func whole(_ config: ModelConfig) -> ShardSpec {
    ShardSpec(
      layers: 0..<config.layerCount, kvGroups: 0..<config.headCountKV,
      ffnUnits: 0..<CanonicalUnits(config: config).ffnUnitCount,
      vocabulary: 0..<config.vocabularySize, holdsEmbedding: true)
  }
}
