/// ggml's Q5_0 and its 256-element K-quant super-blocks, byte for byte, dequantized in
/// ggml's order of float operations (`dequantize_row_*` in ggml-quants.c), so the values are
/// bitwise llama.cpp's:
///
/// ```
/// Q5_0 (32):  d: f16 | qh: u32 | qs: 16     x[j] = ((qs[j] & 0xF | bit j of qh << 4) - 16) · d
///                                           x[j+16] = ((qs[j] >> 4 | bit j+16 << 4) - 16) · d
/// Q4_K (256): d, dmin: f16 | scales: 12 (8 × 6-bit scale, 6-bit min) | qs: 128 nibbles
///             sub-block s of 32: x = (d · scale[s]) · q − (dmin · min[s])
/// Q6_K (256): ql: 128 | qh: 64 | scales: 16 × int8 | d: f16
///             x = (d · scale[s]) · ((4 low bits | 2 high bits << 4) − 32), s per 16 values
/// ```
public enum KQuantFormats {
  public static let superBlockSize = 256

  /// Q5_0: one 32-element block (22 bytes).
  @inline(__always)
  static func dequantizeQ5_0(_ block: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
    let d = BlockFormats.f16(block, 0)
    let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self).littleEndian
    let qs = block.advanced(by: 6).assumingMemoryBound(to: UInt8.self)
    for j in 0..<16 {
      let low = Int32(qs[j] & 0xF) | Int32((qh >> UInt32(j)) & 1) << 4
      let high = Int32(qs[j] >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
      out[j] = Float(low - 16) * d
      out[j + 16] = Float(high - 16) * d
    }
  }

  /// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K/Q5_K super-block.
  @inline(__always)
  static func scaleAndMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
    return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
  }

  /// Q4_K: one 256-element super-block (144 bytes).
  @inline(__always)
  static func dequantizeQ4_K(_ block: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
    let d = BlockFormats.f16(block, 0)
    let dmin = BlockFormats.f16(block, 2)
    let scales = block.advanced(by: 4).assumingMemoryBound(to: UInt8.self)
    var q = block.advanced(by: 16).assumingMemoryBound(to: UInt8.self)
    var y = out
    for chunk in 0..<4 {
      let (scale1, min1) = scaleAndMin(2 * chunk, scales)
      let (scale2, min2) = scaleAndMin(2 * chunk + 1, scales)
      let d1 = d * Float(scale1)
      let m1 = dmin * Float(min1)
      let d2 = d * Float(scale2)
      let m2 = dmin * Float(min2)
      for l in 0..<32 { y[l] = d1 * Float(q[l] & 0xF) - m1 }
      for l in 0..<32 { y[32 + l] = d2 * Float(q[l] >> 4) - m2 }
      q += 32
      y += 64
    }
  }

  /// Q6_K: one 256-element super-block (210 bytes).
  @inline(__always)
  static func dequantizeQ6_K(_ block: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
    var ql = block.assumingMemoryBound(to: UInt8.self)
    var qh = block.advanced(by: 128).assumingMemoryBound(to: UInt8.self)
    var scales = block.advanced(by: 192).assumingMemoryBound(to: Int8.self)
    let d = BlockFormats.f16(block, 208)
    var y = out
    for _ in 0..<2 {
      for l in 0..<32 {
        let group = l / 16
        let q1 = Int32((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32
        let q2 = Int32((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32
        let q3 = Int32((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32
        let q4 = Int32((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32
        y[l] = d * Float(scales[group]) * Float(q1)
        y[l + 32] = d * Float(scales[group + 2]) * Float(q2)
        y[l + 64] = d * Float(scales[group + 4]) * Float(q3)
        y[l + 96] = d * Float(scales[group + 6]) * Float(q4)
      }
      y += 128
      ql += 64
      qh += 32
      scales += 8
    }
  }
}
