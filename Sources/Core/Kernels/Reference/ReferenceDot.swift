/// Plain, obviously correct dot products of one quantized row with an f32 vector, block by
/// block as the formats define them. They are the oracles the fast kernels are tested against
/// and the fallback where no fast kernel exists.
public enum ReferenceDot {
  /// `sum_i row[i] * x[i]` for `count` elements of a row stored as `type`.
  public static func dot(
    _ type: GGMLType, row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int
  ) throws(QuantError) -> Float {
    try Quantization.checkCount(type, count)
    var sum: Float = 0
    switch type {
    case .f32:
      let w = row.assumingMemoryBound(to: Float.self)
      for i in 0..<count { sum += w[i] * x[i] }
    case .f16:
      for i in 0..<count {
        sum +=
          HalfPrecision.float(fromF16: row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          * x[i]
      }
    case .bf16:
      for i in 0..<count {
        sum +=
          HalfPrecision.float(fromBF16: row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          * x[i]
      }
    case .q8_0:
      for block in 0..<count / 32 {
        let b = row + block * 34
        let qs = (b + 2).assumingMemoryBound(to: Int8.self)
        let xs = x + block * 32
        var acc: Float = 0
        for j in 0..<32 { acc += Float(qs[j]) * xs[j] }
        sum += acc * BlockFormats.f16(b, 0)
      }
    case .q4_0:
      for block in 0..<count / 32 {
        let b = row + block * 18
        let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
        let xs = x + block * 32
        var acc: Float = 0
        for j in 0..<16 {
          acc += Float(Int(qs[j] & 0xF) - 8) * xs[j] + Float(Int(qs[j] >> 4) - 8) * xs[j + 16]
        }
        sum += acc * BlockFormats.f16(b, 0)
      }
    case .q4_1:
      for block in 0..<count / 32 {
        let b = row + block * 20
        let qs = (b + 4).assumingMemoryBound(to: UInt8.self)
        let xs = x + block * 32
        var acc: Float = 0
        var xSum: Float = 0
        for j in 0..<16 {
          acc += Float(qs[j] & 0xF) * xs[j] + Float(qs[j] >> 4) * xs[j + 16]
          xSum += xs[j] + xs[j + 16]
        }
        sum += acc * BlockFormats.f16(b, 0) + xSum * BlockFormats.f16(b, 2)
      }
    default:
      throw .unsupportedType(type)
    }
    return sum
  }
}
