public import Core

/// The kernel cases shared by the kernel tests (against the naive reference) and the kernel
/// micro-benchmark (`swift run -c release kernel-bench`).
public enum KernelCases {
  /// Weight types with quantized kernels.
  public static let quantTypes: [GGMLType] = [.q4_0, .q4_1, .q8_0]
  /// Row lengths for correctness: one block, odd block counts, the model's widths.
  public static let rowLengths = [32, 64, 96, 160, 576, 1536]

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
