import Core
import Foundation
import TestSupport
import Testing

/// Q5_0, Q4_K, Q6_K (and Q8_0) rows of the real Gemma 3 file, dequantized bitwise as ggml's
/// own `gguf` package does (`scripts/gen-dequant-fixtures.py`); and K-quant rows that are no
/// whole number of 256-element super-blocks are refused.
@Suite struct KQuantFormatTests {
  struct Fixture: Decodable {
    struct Row: Decodable {
      let type: String
      let tensor: String
      let row: Int
      let columns: Int
      let sha256: String
      let first: [Float]
    }
    let cases: [Row]
  }

  @Test func gemmaRowsDequantizeBitwiseAsGGMLDoes() throws {
    let file = try ModelFiles.gemma3()
    let fixture = try JSONDecoder().decode(
      Fixture.self, from: Data(contentsOf: FixturePaths.url("quant/gemma3-dequant.json")))
    #expect(Set(fixture.cases.map(\.type)) == ["Q5_0", "Q4_K", "Q6_K", "Q8_0"])
    for row in fixture.cases {
      let info = try #require(file.tensor(named: row.tensor))
      #expect(info.type.description == row.type)
      #expect(info.rowLength == row.columns)
      let data = file.data(of: info)
      let base = try #require(data.baseAddress) + row.row * info.rowByteCount
      var values = [Float](repeating: 0, count: row.columns)
      try values.withUnsafeMutableBufferPointer { out in
        try Quantization.dequantize(info.type, base, count: row.columns, into: out.baseAddress!)
      }
      var hash = SHA256()
      values.withUnsafeBufferPointer { hash.update(floats: $0) }
      #expect(SHA256.hex(hash.finalize()) == row.sha256, "\(row.tensor) row \(row.row)")
      #expect(Array(values.prefix(row.first.count)) == row.first)
    }
  }

  @Test func kQuantRowsMustBeWholeSuperBlocks() {
    for type in [GGMLType.q4_K, .q6_K] {
      #expect(type.rowByteCount(elementCount: 640) == nil)
      #expect(type.rowByteCount(elementCount: 1024) == 4 * type.bytesPerBlock)
      #expect(throws: QuantError.notBlockAligned(type: type, count: 640)) {
        _ = try Quantization.dequantize(
          type, UnsafeRawBufferPointer(start: nil, count: 0), count: 640)
      }
    }
  }

  @Test func theTableKnowsEveryTypeOnce() {
    #expect(WeightFormat.readableTypes.isSuperset(of: [.q5_0, .q4_K, .q6_K]))
    #expect(
      WeightFormat.kernelTypes == [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K])
    for (type, format) in WeightFormat.table { #expect(format.type == type) }
  }
}
