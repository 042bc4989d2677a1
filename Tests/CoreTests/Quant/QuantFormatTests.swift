import Core
import TestSupport
import Testing

/// Naive decoders written straight from ggml's block definitions, one element at a time,
/// as independent oracles for `Quantization` and `ReferenceDot`.
enum NaiveDecode {
  static func f16(_ bytes: [UInt8], _ at: Int) -> Float {
    let bits = UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    // Decode binary16 by hand: sign, 5-bit exponent, 10-bit mantissa.
    let sign: Float = bits >> 15 == 1 ? -1 : 1
    let exponent = Int(bits >> 10 & 0x1F)
    let mantissa = Float(bits & 0x3FF)
    if exponent == 0 { return sign * mantissa * Float(sign: .plus, exponent: -24, significand: 1) }
    if exponent == 31 { return mantissa == 0 ? sign * .infinity : .nan }
    return sign * (1 + mantissa / 1024)
      * Float(sign: .plus, exponent: exponent - 15, significand: 1)
  }

  static func element(_ type: GGMLType, _ bytes: [UInt8], _ index: Int) -> Float {
    let block = index / 32
    let j = index % 32
    switch type {
    case .f32:
      let b = bytes[(4 * index)..<(4 * index + 4)].enumerated().reduce(UInt32(0)) {
        $0 | UInt32($1.element) << (8 * $1.offset)
      }
      return Float(bitPattern: b)
    case .f16: return f16(bytes, 2 * index)
    case .bf16:
      return Float(bitPattern: (UInt32(bytes[2 * index]) | UInt32(bytes[2 * index + 1]) << 8) << 16)
    case .q8_0:
      let base = block * 34
      return Float(Int8(bitPattern: bytes[base + 2 + j])) * f16(bytes, base)
    case .q4_0:
      let base = block * 18
      let byte = bytes[base + 2 + j % 16]
      let q = j < 16 ? Int(byte & 0x0F) : Int(byte >> 4)
      return Float(q - 8) * f16(bytes, base)
    case .q4_1:
      let base = block * 20
      let byte = bytes[base + 4 + j % 16]
      let q = j < 16 ? Int(byte & 0x0F) : Int(byte >> 4)
      return Float(q) * f16(bytes, base) + f16(bytes, base + 2)
    default:
      return .nan
    }
  }
}

@Suite struct QuantFormatTests {
  static let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

  func randomValues(_ count: Int, seed: UInt64, scale: Float = 2) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) }
  }

  @Test(arguments: types) func dequantizeMatchesNaiveDecoding(type: GGMLType) throws {
    for count in [32, 64, 96, 576] {
      let bytes = try Quantization.quantize(randomValues(count, seed: UInt64(count)), as: type)
      #expect(bytes.count == type.rowByteCount(elementCount: count))
      let fast = try bytes.withUnsafeBytes { try Quantization.dequantize(type, $0, count: count) }
      let naive = (0..<count).map { NaiveDecode.element(type, bytes, $0) }
      #expect(fast == naive)
    }
  }

  @Test(arguments: types) func quantizationErrorIsWithinTheFormatsStep(type: GGMLType) throws {
    let values = randomValues(256, seed: 7)
    let bytes = try Quantization.quantize(values, as: type)
    let back = try bytes.withUnsafeBytes { try Quantization.dequantize(type, $0, count: 256) }
    // Worst-case rounding error per format for values in [-2, 2].
    let bound: Float =
      switch type {
      case .f32: 0
      case .f16: 1e-3
      case .bf16: 8e-3
      case .q8_0: 2.0 / 127 * 0.51 + 1e-3
      case .q4_0: 2.0 / 8 + 1e-2  // the end opposite the extreme clamps at +7, a full step
      case .q4_1: 4.0 / 15 * 0.51 + 1e-2
      default: 0
      }
    for (a, b) in zip(values, back) { #expect(abs(a - b) <= bound) }
  }

  @Test(arguments: types) func referenceDotMatchesNaiveDot(type: GGMLType) throws {
    for count in [32, 160, 576, 1536] {
      let bytes = try Quantization.quantize(randomValues(count, seed: 3 &* UInt64(count)), as: type)
      let x = randomValues(count, seed: 11 &+ UInt64(count))
      let naive = (0..<count).reduce(0.0) {
        $0 + Double(NaiveDecode.element(type, bytes, $1)) * Double(x[$1])
      }
      let dot = try bytes.withUnsafeBytes { row in
        try x.withUnsafeBufferPointer {
          try ReferenceDot.dot(type, row: row.baseAddress!, $0.baseAddress!, count: count)
        }
      }
      // f32 accumulation over `count` products of magnitude ≤ 4.
      #expect(abs(Double(dot) - naive) <= 1e-5 * Double(count) * 4)
    }
  }

  @Test func quantizersFollowGGMLsRounding() throws {
    // Q8_0: d = amax/127, values rounded half away from zero.
    var values = [Float](repeating: 0, count: 32)
    values[0] = 1.27
    values[1] = -0.635
    values[2] = 0.005
    let q8 = try Quantization.quantize(values, as: .q8_0)
    #expect(Int8(bitPattern: q8[2]) == 127 && Int8(bitPattern: q8[3]) == -64 && q8[4] == 1)
    // Q4_0: the largest-magnitude value maps to -8 (nibble 0).
    values[0] = -4
    let q4 = try Quantization.quantize(values, as: .q4_0)
    #expect(q4[2] & 0x0F == 0)
    #expect(NaiveDecode.f16(q4, 0) == 0.5)
  }

  @Test func rejectsUnsupportedTypesAndPartialBlocks() {
    #expect(throws: QuantError.unsupportedType(.q6_K)) {
      try Quantization.quantize([Float](repeating: 0, count: 256), as: .q6_K)
    }
    #expect(throws: QuantError.notBlockAligned(type: .q4_1, count: 33)) {
      try Quantization.quantize([Float](repeating: 0, count: 33), as: .q4_1)
    }
  }

  @Test func realModelBlocksDecodeLikeTheNaiveOracle() throws {
    let file = try ModelFiles.smolLM2()
    for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight"] {
      let info = try file.requiredTensor(name)
      let data = file.data(of: info)
      for row in [0, 1, info.rowCount / 2, info.rowCount - 1] {
        let rowBytes = UnsafeRawBufferPointer(
          rebasing: data[(row * info.rowByteCount)..<((row + 1) * info.rowByteCount)])
        let decoded = try Quantization.dequantize(info.type, rowBytes, count: info.rowLength)
        let naive = (0..<info.rowLength).map { NaiveDecode.element(info.type, Array(rowBytes), $0) }
        #expect(decoded == naive, "\(name) row \(row)")
        #expect(decoded.allSatisfy { $0.isFinite })
        let x = randomValues(info.rowLength, seed: UInt64(row))
        let dot = try x.withUnsafeBufferPointer {
          try ReferenceDot.dot(
            info.type, row: rowBytes.baseAddress!, $0.baseAddress!, count: info.rowLength)
        }
        let expected = zip(naive, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(Double(dot) - expected) <= 1e-3 * max(1, abs(expected)))
      }
    }
  }
}
