/// Conversions between `Float` and the two 16-bit float formats ggml stores.
public enum HalfPrecision {
  /// IEEE 754 binary16, as ggml's `ggml_fp16_t`.
  @inlinable public static func float(fromF16 bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
  }

  @inlinable public static func f16(from value: Float) -> UInt16 {
    Float16(value).bitPattern
  }

  /// bfloat16: the top 16 bits of a binary32.
  @inlinable public static func float(fromBF16 bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
  }

  /// Rounds to nearest even, as ggml's `ggml_fp32_to_bf16` does (NaN stays a quiet NaN).
  @inlinable public static func bf16(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 64) }
    let rounded = bits &+ (0x7FFF &+ ((bits >> 16) & 1))
    return UInt16(truncatingIfNeeded: rounded >> 16)
  }
}
