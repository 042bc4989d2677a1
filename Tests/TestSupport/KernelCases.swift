public import Core

/// The kernel cases shared by the kernel tests (against the naive reference) and the kernel
/// micro-benchmark (`swift run -c release kernel-bench`).
public enum KernelCases {
  /// Weight types with quantized kernels.
  public static let quantTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K]
  /// Row lengths for correctness: one block, odd block counts, the models' widths.
  public static let rowLengths = [32, 64, 96, 160, 576, 640, 1536]

  /// The row lengths a type's rows can have (K-quants: whole 256-element super-blocks).
  public static func rowLengths(for type: GGMLType) -> [Int] {
    type.blockSize == 256 ? [256, 512, 1024, 1536] : rowLengths
  }

  /// `rows` rows of `n` weights of `type` in ggml's layout, the same for the same seed: values
  /// in [-2, 2] quantized as ggml does for the types Tessera quantizes, and for the others
  /// random quants with random (finite, small) scales — every such block is a valid one.
  public static func ggmlRows(_ type: GGMLType, rows: Int, n: Int, seed: UInt64) throws -> [UInt8] {
    if Quantization.quantizableTypes.contains(type) {
      return try Quantization.quantize(random(rows * n, seed: seed, scale: 2), as: type)
    }
    guard let rowBytes = type.rowByteCount(elementCount: n) else {
      throw QuantError.notBlockAligned(type: type, count: n)
    }
    var generator = SplitMix64(seed: seed)
    var bytes = (0..<(rows * rowBytes)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    /// Offsets of a block's f16 scales.
    let scaleOffsets: [Int] =
      switch type {
      case .q4_K: [0, 2]
      case .q6_K: [208]
      default: [0]
      }
    for block in stride(from: 0, to: bytes.count, by: type.bytesPerBlock) {
      for offset in scaleOffsets {
        let bits = HalfPrecision.f16(from: Float.random(in: 0.001...0.05, using: &generator))
        bytes[block + offset] = UInt8(bits & 0xFF)
        bytes[block + offset + 1] = UInt8(bits >> 8)
      }
    }
    return bytes
  }

  /// The products of a SmolLM2 forward pass: (name, rows, columns).
  public static let modelProducts: [(name: String, rows: Int, columns: Int)] = [
    ("attn_q 576x576", 576, 576),
    ("attn_k 192x576", 192, 576),
    ("ffn_up 1536x576", 1536, 576),
    ("ffn_down 576x1536", 576, 1536),
    ("output 49152x576", 49152, 576),
  ]

  /// Random values in [-scale, scale], the same for the same seed.
  public static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) }
  }
}
