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

  static func load() throws -> LlamaCppFixture {
    let url = FixturePaths.url("tokenizer/smollm2-llamacpp.json")
    return try JSONDecoder().decode(LlamaCppFixture.self, from: Data(contentsOf: url))
  }
}

@Suite struct LlamaCppTokenizationTests {
  @Test func idsEqualLlamaCppsWithSpecialParsing() throws {
    let tokenizer = try Tokenizers.smolLM2()
    let fixture = try LlamaCppFixture.load()
    #expect(fixture.cases.count >= 60)
    for item in fixture.cases {
      #expect(tokenizer.encode(item.text, parseSpecial: true) == item.idsSpecial, "\(item.name)")
    }
  }

  @Test func idsEqualLlamaCppsWithoutSpecialParsing() throws {
    let tokenizer = try Tokenizers.smolLM2()
    for item in try LlamaCppFixture.load().cases {
      #expect(tokenizer.encode(item.text, parseSpecial: false) == item.idsPlain, "\(item.name)")
    }
  }

  @Test func piecesEqualLlamaCpps() throws {
    let vocabulary = try Tokenizers.smolLM2().vocabulary
    let fixture = try LlamaCppFixture.load()
    for (id, hex) in fixture.pieces {
      let bytes = vocabulary.bytes(of: try #require(Int32(id)), includeSpecial: true)
      #expect(bytes.map { String(format: "%02x", $0) }.joined() == hex, "token \(id)")
    }
  }

  @Test func endOfGenerationTokensEqualLlamaCpps() throws {
    let vocabulary = try Tokenizers.smolLM2().vocabulary
    #expect(vocabulary.endOfGenerationIDs == Set(try LlamaCppFixture.load().tokens.eogIDs))
  }
}
