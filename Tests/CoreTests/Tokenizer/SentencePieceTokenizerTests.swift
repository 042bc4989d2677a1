import Core
import TestSupport
import Testing

/// Gemma 3's SentencePiece tokenizer against llama.cpp's ids (`../shared/golden/gemma3.json`):
/// BOS once as the model asks, `▁` for spaces, byte fallback; and decoding gives the text
/// back.
@Suite struct SentencePieceTokenizerTests {
  @Test func promptIDsEqualLlamaCpps() throws {
    let tokenizer = try Tokenizers.gemma3()
    #expect(tokenizer.vocabulary.kind == .sentencePiece)
    let golden = try Golden.gemma3()
    #expect(golden.cases.count >= 7)
    for goldenCase in golden.cases {
      #expect(
        tokenizer.encode(goldenCase.prompt, addSpecial: true, parseSpecial: true)
          == goldenCase.promptIDs, "\(goldenCase.name)")
    }
  }

  @Test func tokenizerStringsEqualLlamaCpps() throws {
    let tokenizer = try Tokenizers.gemma3()
    let strings = try #require(try Golden.gemma3().tokenizer)
    for item in strings {
      #expect(tokenizer.encode(item.text, addSpecial: true, parseSpecial: true) == item.ids)
    }
  }

  @Test func bosComesOnceEvenWhenTheTextStartsWithIt() throws {
    let tokenizer = try Tokenizers.gemma3()
    let bos = try #require(tokenizer.vocabulary.bosID)
    let ids = tokenizer.encode("<bos>Hello", addSpecial: true, parseSpecial: true)
    #expect(ids.first == bos)
    #expect(ids.dropFirst().first != bos)
    #expect(tokenizer.encode("Hello", addSpecial: false, parseSpecial: true).first != bos)
  }

  @Test func decodingGivesBackTheText() throws {
    let tokenizer = try Tokenizers.gemma3()
    let texts =
      try Golden.gemma3().cases.map(\.prompt) + (try Golden.gemma3().tokenizer ?? []).map(\.text)
      + ["bytes \u{1F9EC}\u{E000}\u{10FFFD} end", "   leading and trailing   ", "a\n\n\tb"]
    for text in texts {
      var detokenizer = StreamingDetokenizer(vocabulary: tokenizer.vocabulary)
      var decoded = ""
      for id in tokenizer.encode(text, addSpecial: true, parseSpecial: true) {
        decoded += detokenizer.append(id)
      }
      decoded += detokenizer.finish()
      #expect(decoded == text)
    }
  }
}
