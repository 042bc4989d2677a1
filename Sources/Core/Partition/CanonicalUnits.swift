/// The fixed pieces the two per-layer reductions are cut into, whatever the layout.
///
/// Tensor parallelism splits the attention output projection and the FFN down projection
/// along their input dimension, so each needs a sum across ranks. To make the result
/// independent of how many ranks there are, the sum is always cut into the same units:
///
/// - attention output: one unit per KV-head group (its query heads' columns);
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

  public init(config: ModelConfig) {
    let width = config.headsPerKVGroup * config.headDimension
    attentionUnitColumns = (0..<config.headCountKV).map { $0 * width..<($0 + 1) * width }
    let chunk = Self.ffnChunkSize
    let ff = config.feedForwardLength
    ffnUnitColumns = stride(from: 0, to: ff, by: chunk).map { $0..<min($0 + chunk, ff) }
  }

  public var attentionUnitCount: Int { attentionUnitColumns.count }
  public var ffnUnitCount: Int { ffnUnitColumns.count }
}
