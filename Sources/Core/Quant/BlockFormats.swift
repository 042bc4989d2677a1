/// ggml's 32-element block formats, byte for byte:
///
/// ```
/// Q4_0: d: f16 | qs: 16 bytes     x[j] = ((qs[j] & 0xF) - 8) * d,  x[j+16] = ((qs[j] >> 4) - 8) * d
/// Q4_1: d: f16 | m: f16 | qs: 16  x[j] = (qs[j] & 0xF) * d + m,    x[j+16] = (qs[j] >> 4) * d + m
/// Q8_0: d: f16 | qs: 32 × int8    x[j] = qs[j] * d
/// ```
/// The quantizers follow ggml's `quantize_row_*_ref`, so synthetic test models quantize the
/// way llama.cpp's tools do.
public enum BlockFormats {
  public static let blockSize = 32

  @inline(__always) static func f16(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
    HalfPrecision.float(fromF16: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
  }

  /// Writes the 32 values of one block at `block` (of `type`) into `out`.
  @inline(__always)
  static func dequantizeBlock(
    _ type: GGMLType, _ block: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>
  ) {
    switch type {
    case .q4_0:
      let d = f16(block, 0)
      let qs = block.advanced(by: 2).assumingMemoryBound(to: UInt8.self)
      for j in 0..<16 {
        out[j] = Float(Int(qs[j] & 0xF) - 8) * d
        out[j + 16] = Float(Int(qs[j] >> 4) - 8) * d
      }
    case .q4_1:
      let d = f16(block, 0)
      let m = f16(block, 2)
      let qs = block.advanced(by: 4).assumingMemoryBound(to: UInt8.self)
      for j in 0..<16 {
        out[j] = Float(qs[j] & 0xF) * d + m
        out[j + 16] = Float(qs[j] >> 4) * d + m
      }
    case .q8_0:
      let d = f16(block, 0)
      let qs = block.advanced(by: 2).assumingMemoryBound(to: Int8.self)
      for j in 0..<32 { out[j] = Float(qs[j]) * d }
    default:
      break
    }
  }

  /// Quantizes 32 floats into one Q8_0 block (34 bytes).
  public static func quantizeQ8_0(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
    var amax: Float = 0
    for j in 0..<32 { amax = max(amax, abs(x[j])) }
    let d = amax / 127
    let id: Float = d != 0 ? 1 / d : 0
    block.storeBytes(of: HalfPrecision.f16(from: d), toByteOffset: 0, as: UInt16.self)
    let qs = block.advanced(by: 2).assumingMemoryBound(to: Int8.self)
    for j in 0..<32 { qs[j] = Int8((x[j] * id).rounded()) }
  }

  /// Quantizes 32 floats into one Q4_0 block (18 bytes).
  public static func quantizeQ4_0(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
    var amax: Float = 0
    var extreme: Float = 0
    for j in 0..<32 where abs(x[j]) > amax {
      amax = abs(x[j])
      extreme = x[j]
    }
    let d = extreme / -8
    let id: Float = d != 0 ? 1 / d : 0
    block.storeBytes(of: HalfPrecision.f16(from: d), toByteOffset: 0, as: UInt16.self)
    let qs = block.advanced(by: 2).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
      let low = min(15, Int8(clamping: Int((x[j] * id + 8.5).rounded(.towardZero))))
      let high = min(15, Int8(clamping: Int((x[j + 16] * id + 8.5).rounded(.towardZero))))
      qs[j] = UInt8(low) | UInt8(high) << 4
    }
  }

  /// Quantizes 32 floats into one Q4_1 block (20 bytes).
  public static func quantizeQ4_1(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
    var low = Float.greatestFiniteMagnitude
    var high = -Float.greatestFiniteMagnitude
    for j in 0..<32 {
      low = min(low, x[j])
      high = max(high, x[j])
    }
    let d = (high - low) / 15
    let id: Float = d != 0 ? 1 / d : 0
    block.storeBytes(of: HalfPrecision.f16(from: d), toByteOffset: 0, as: UInt16.self)
    block.storeBytes(of: HalfPrecision.f16(from: low), toByteOffset: 2, as: UInt16.self)
    let qs = block.advanced(by: 4).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
      let a = min(15, Int8(clamping: Int(((x[j] - low) * id + 0.5).rounded(.towardZero))))
      let b = min(15, Int8(clamping: Int(((x[j + 16] - low) * id + 0.5).rounded(.towardZero))))
      qs[j] = UInt8(a) | UInt8(b) << 4
    }
  }
}
