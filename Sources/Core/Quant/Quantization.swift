/// Dequantization of whole rows in the types of `WeightFormat.table`, and quantization into
/// the 32-element block formats.
public enum Quantization {
  /// The types Tessera can dequantize (`WeightFormat.readableTypes`).
  public static var computableTypes: Set<GGMLType> { WeightFormat.readableTypes }

  static func checkCount(_ type: GGMLType, _ count: Int) throws(QuantError) {
    guard computableTypes.contains(type) else { throw .unsupportedType(type) }
    guard count >= 0, count % type.blockSize == 0 else {
      throw .notBlockAligned(type: type, count: count)
    }
  }

  /// Expands `count` elements of `type` at `source` into floats at `out`.
  /// The caller guarantees `source` holds `type.rowByteCount(count)` bytes.
  public static func dequantize(
    _ type: GGMLType, _ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>
  ) throws(QuantError) {
    try checkCount(type, count)
    switch type {
    case .f32:
      out.update(from: source.assumingMemoryBound(to: Float.self), count: count)
    case .f16:
      for i in 0..<count {
        out[i] = HalfPrecision.float(
          fromF16: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
      }
    case .bf16:
      for i in 0..<count {
        out[i] = HalfPrecision.float(
          fromBF16: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
      }
    default:
      guard let format = WeightFormat.table[type] else { throw .unsupportedType(type) }
      let blockBytes = type.bytesPerBlock
      let blockSize = format.blockSize
      for block in 0..<count / blockSize {
        format.dequantizeBlock(source + block * blockBytes, out + block * blockSize)
      }
    }
  }

  /// Dequantizes a buffer holding exactly `count` elements of `type`.
  public static func dequantize(
    _ type: GGMLType, _ bytes: UnsafeRawBufferPointer, count: Int
  ) throws(QuantError) -> [Float] {
    try checkCount(type, count)
    guard let base = bytes.baseAddress, type.rowByteCount(elementCount: count) == bytes.count
    else {
      if count == 0 { return [] }
      throw .notBlockAligned(type: type, count: count)
    }
    var result = [Float](repeating: 0, count: count)
    var failure: QuantError?
    result.withUnsafeMutableBufferPointer { out in
      do throws(QuantError) {
        try dequantize(type, base, count: count, into: out.baseAddress!)
      } catch { failure = error }
    }
    if let failure { throw failure }
    return result
  }

  /// The types `quantize` writes (synthetic test models use them).
  public static let quantizableTypes: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

  /// Encodes floats as `type`, the way ggml's reference quantizers do.
  public static func quantize(_ values: [Float], as type: GGMLType) throws(QuantError) -> [UInt8] {
    guard quantizableTypes.contains(type) else { throw .unsupportedType(type) }
    try checkCount(type, values.count)
    guard let byteCount = type.rowByteCount(elementCount: values.count) else {
      throw .notBlockAligned(type: type, count: values.count)
    }
    var bytes = [UInt8](repeating: 0, count: byteCount)
    values.withUnsafeBufferPointer { x in
      bytes.withUnsafeMutableBytes { out in
        guard let x = x.baseAddress, let out = out.baseAddress else { return }
        for i in 0..<values.count {
          switch type {
          case .f32: out.storeBytes(of: x[i].bitPattern, toByteOffset: 4 * i, as: UInt32.self)
          case .f16:
            out.storeBytes(of: HalfPrecision.f16(from: x[i]), toByteOffset: 2 * i, as: UInt16.self)
          case .bf16:
            out.storeBytes(of: HalfPrecision.bf16(from: x[i]), toByteOffset: 2 * i, as: UInt16.self)
          default: break
          }
        }
        let blockBytes = type.bytesPerBlock
        for block in 0..<values.count / BlockFormats.blockSize {
          let source = x + block * BlockFormats.blockSize
          let target = out + block * blockBytes
          switch type {
          case .q8_0: BlockFormats.quantizeQ8_0(source, into: target)
          case .q4_0: BlockFormats.quantizeQ4_0(source, into: target)
          case .q4_1: BlockFormats.quantizeQ4_1(source, into: target)
          default: break
          }
        }
      }
    }
    return bytes
  }
}
