/// The fixed pieces the two per-layer reductions are cut into, whatever the layout.
///
/// Tensor parallelism splits the attention output projection and the FFN down projection
/// along their input dimension, so each needs a sum across ranks. To make the result
/// independent of how many ranks there are, the sum is always cut into the same units:
///
/// - attention output: one unit per KV-head group (its query heads' columns), or per query
///   head when the model has a single KV head (Gemma 3: 4 units), which would otherwise
///   leave nothing to split. Groups keep each KV head on one rank (no K/V projection
///   computed twice) and the numerics SmolLM2's goldens were checked with; with head units
///   ranks that share a KV head each compute it;
/// - FFN down: one unit per `ffnChunkSize` columns of the FFN dimension (the last may be
///   shorter; always a multiple of 32, the quant block).
///
/// Each unit's partial sum is computed the same way by whichever process owns it, and the
/// partials are folded in unit order (`tk_fold_partials`), so one process and any TP layout
/// produce the same bits.
public struct CanonicalUnits: Sendable, Equatable, Codable {
  /// FFN columns per unit.
  public static let ffnChunkSize = 256

  public let attentionUnitColumns: [Range<Int>]
  public let ffnUnitColumns: [Range<Int>]
  /// Query heads in one attention unit.
  public let headsPerAttentionUnit: Int

  public init(config: ModelConfig) {
    headsPerAttentionUnit = config.headCountKV == 1 ? 1 : config.headsPerKVGroup
    let width = headsPerAttentionUnit * config.headDimension
    attentionUnitColumns = (0..<(config.headCount / headsPerAttentionUnit)).map {
      $0 * width..<($0 + 1) * width
    }
    let chunk = Self.ffnChunkSize
    let ff = config.feedForwardLength
    ffnUnitColumns = stride(from: 0, to: ff, by: chunk).map { $0..<min($0 + chunk, ff) }
  }

  public var attentionUnitCount: Int { attentionUnitColumns.count }

  /// The attention units a shard computes: those of its query heads.
  public func attentionUnits(of shard: ShardSpec) -> Range<Int> {
    shard.queryHeads.lowerBound / headsPerAttentionUnit..<shard.queryHeads.upperBound
      / headsPerAttentionUnit
  }
  public var ffnUnitCount: Int { ffnUnitColumns.count }
}
