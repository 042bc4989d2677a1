import Core
import TestSupport
import Testing

@Suite struct GoldenTokenizationTests {
  @Test func promptIDsEqualLlamaCpps() throws {
    let tokenizer = try Tokenizers.smolLM2()
    let golden = try Golden.smolLM2()
    #expect(golden.cases.count >= 8)
    for goldenCase in golden.cases {
      #expect(tokenizer.encode(goldenCase.prompt) == goldenCase.promptIDs, "\(goldenCase.name)")
    }
  }

  @Test func tokenizerStringsEqualLlamaCpps() throws {
    let tokenizer = try Tokenizers.smolLM2()
    let strings = try #require(try Golden.smolLM2().tokenizer)
    for item in strings {
      #expect(tokenizer.encode(item.text) == item.ids, "\(item.text)")
    }
  }

  @Test func decodingGivesBackTheText() throws {
    let tokenizer = try Tokenizers.smolLM2()
    let golden = try Golden.smolLM2()
    for goldenCase in golden.cases where goldenCase.kind == "raw" {
      var detokenizer = StreamingDetokenizer(vocabulary: tokenizer.vocabulary)
      var text = ""
      for id in goldenCase.promptIDs { text += detokenizer.append(id) }
      text += detokenizer.finish()
      #expect(text == goldenCase.prompt)
    }
  }
}
