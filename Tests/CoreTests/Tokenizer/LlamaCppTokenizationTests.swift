import Core
import Foundation
import TestSupport
import Testing

/// Strings beyond the golden file (code, JSON, many scripts, emoji, whitespace runs, long
/// documents), tokenized by llama.cpp through `scripts/gen-tokenizer-fixtures.py`.
private struct LlamaCppFixture: Decodable {
  struct Case: Decodable {
    let name: String
    let text: String
    let idsSpecial: [Int32]
    let idsPlain: [Int32]
    enum CodingKeys: String, CodingKey {
      case name, text
      case idsSpecial = "ids_special"
      case idsPlain = "ids_plain"
    }
  }
  struct Tokens: Decodable {
    let eogIDs: [Int32]
    enum CodingKeys: String, CodingKey { case eogIDs = "eog_ids" }
  }
  let cases: [Case]
  let pieces: [String: String]
  let tokens: Tokens

  static func load(_ model: Model = .smolLM2) throws -> LlamaCppFixture {
    let url = FixturePaths.url("tokenizer/\(model.rawValue)-llamacpp.json")
    return try JSONDecoder().decode(LlamaCppFixture.self, from: Data(contentsOf: url))
  }

  /// The models with a fixture: byte-level BPE and SentencePiece.
  enum Model: String, CaseIterable {
    case smolLM2 = "smollm2"
    case gemma3

    func tokenizer() throws -> any Tokenizer {
      switch self {
      case .smolLM2: try Tokenizers.smolLM2()
      case .gemma3: try Tokenizers.gemma3()
      }
    }
  }
}

@Suite struct LlamaCppTokenizationTests {
  @Test(arguments: LlamaCppFixture.Model.allCases)
  fileprivate func idsEqualLlamaCppsWithSpecialParsing(_ model: LlamaCppFixture.Model) throws {
    let tokenizer = try model.tokenizer()
    let fixture = try LlamaCppFixture.load(model)
    #expect(fixture.cases.count >= 60)
    for item in fixture.cases {
      #expect(
        tokenizer.encode(item.text, addSpecial: false, parseSpecial: true) == item.idsSpecial,
        "\(item.name)")
    }
  }

  @Test(arguments: LlamaCppFixture.Model.allCases)
  fileprivate func idsEqualLlamaCppsWithoutSpecialParsing(_ model: LlamaCppFixture.Model) throws {
    let tokenizer = try model.tokenizer()
    for item in try LlamaCppFixture.load(model).cases {
      #expect(
        tokenizer.encode(item.text, addSpecial: false, parseSpecial: false) == item.idsPlain,
        "\(item.name)")
    }
  }

  @Test(arguments: LlamaCppFixture.Model.allCases)
  fileprivate func piecesEqualLlamaCpps(_ model: LlamaCppFixture.Model) throws {
    let vocabulary = try model.tokenizer().vocabulary
    let fixture = try LlamaCppFixture.load(model)
    for (id, hex) in fixture.pieces {
      let bytes = vocabulary.bytes(of: try #require(Int32(id)), includeSpecial: true)
      #expect(bytes.map { String(format: "%02x", $0) }.joined() == hex, "token \(id)")
    }
  }

  @Test(arguments: LlamaCppFixture.Model.allCases)
  fileprivate func endOfGenerationTokensEqualLlamaCpps(_ model: LlamaCppFixture.Model) throws {
    let vocabulary = try model.tokenizer().vocabulary
    #expect(vocabulary.endOfGenerationIDs == Set(try LlamaCppFixture.load(model).tokens.eogIDs))
  }
}
