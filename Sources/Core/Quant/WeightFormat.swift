/// How Tessera reads and multiplies each ggml type, in one table: a new weight type is one
/// entry here (its block dequantizer, and whether and how the matrix kernels take it), not an
/// edit of every list that names types.
public struct WeightFormat: Sendable {
  /// What the matrix kernels multiply a type's rows with.
  public enum Activations: Sendable, Equatable {
    /// f32 activations (float weights).
    case float32
    /// Activations quantized to Q8 in 32-element blocks (every quantized type; K-quants by
    /// their 32-element sub-blocks).
    case q8
  }

  public let type: GGMLType
  /// Elements one block holds (32; 256 for K-quants; 1 for float types).
  public var blockSize: Int { type.blockSize }
  /// How the matrix kernels take it (nil: readable, no kernel yet).
  public let kernel: Activations?
  /// Expands one block into `blockSize` floats, in ggml's order of operations.
  let dequantizeBlock: @Sendable (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void

  /// Every type Tessera can read.
  public static let table: [GGMLType: WeightFormat] = Dictionary(
    uniqueKeysWithValues: [
      WeightFormat(type: .f32, kernel: .float32) { $1[0] = $0.loadUnaligned(as: Float.self) },
      WeightFormat(type: .f16, kernel: .float32) {
        $1[0] = HalfPrecision.float(fromF16: $0.loadUnaligned(as: UInt16.self))
      },
      WeightFormat(type: .bf16, kernel: .float32) {
        $1[0] = HalfPrecision.float(fromBF16: $0.loadUnaligned(as: UInt16.self))
      },
      WeightFormat(type: .q4_0, kernel: .q8) { BlockFormats.dequantizeBlock(.q4_0, $0, $1) },
      WeightFormat(type: .q4_1, kernel: .q8) { BlockFormats.dequantizeBlock(.q4_1, $0, $1) },
      WeightFormat(type: .q8_0, kernel: .q8) { BlockFormats.dequantizeBlock(.q8_0, $0, $1) },
      WeightFormat(type: .q5_0, kernel: .q8, dequantizeBlock: KQuantFormats.dequantizeQ5_0),
      WeightFormat(type: .q4_K, kernel: .q8, dequantizeBlock: KQuantFormats.dequantizeQ4_K),
      WeightFormat(type: .q6_K, kernel: .q8, dequantizeBlock: KQuantFormats.dequantizeQ6_K),
    ].map { ($0.type, $0) })

  /// The types the matrix kernels multiply.
  public static let kernelTypes = Set(table.values.filter { $0.kernel != nil }.map(\.type))
  /// The types that can be dequantized (and so embedded, normed, or converted at load).
  public static let readableTypes = Set(table.keys)
}
