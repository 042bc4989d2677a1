import TestSupport
import Testing

@testable import Core

/// A tiny byte-level vocabulary: every printable ASCII byte, "Ġ" for space, a few merges and
/// two special tokens.
private func makeVocabulary(addBOS: Bool = false) throws -> Vocabulary {
  var tokens = ["<s>", "<|user|>", "<|im_start|>"]
  var types: [TokenType] = [.control, .userDefined, .control]
  for byte in 0..<256 {
    tokens.append(String(Character(ByteLevel.scalarForByte[byte])))
    types.append(.normal)
  }
  let merged = ["ab", "abc", "Ġa", "bc", "Ġab"]
  tokens += merged
  types += Array(repeating: .normal, count: merged.count)
  // Ranks: "b c" beats "a b", so "abc" must become a + bc... unless "a bc" exists (it does not).
  let merges = ["b c", "a b", "ab c", "Ġ a", "Ġa b"]
  return try Vocabulary(
    tokens: tokens, types: types, merges: merges, preTokenizer: PreTokenizer(name: "gpt2"),
    bosID: 0, addBOS: addBOS)
}

@Suite struct BPETokenizerTests {
  private func texts(_ ids: [TokenID], _ vocabulary: Vocabulary) -> [String] {
    ids.map { vocabulary.tokens[Int($0)] }
  }

  @Test func appliesMergesInRankOrder() throws {
    let vocabulary = try makeVocabulary()
    let tokenizer = BPETokenizer(vocabulary: vocabulary)
    // "b c" (rank 0) applies before "a b" (rank 1): a + bc, and no merge joins them.
    #expect(texts(tokenizer.encode("abc"), vocabulary) == ["a", "bc"])
    #expect(texts(tokenizer.encode("ab"), vocabulary) == ["ab"])
    // "a b" (rank 1) wins over "Ġ a" (rank 3), and no merge joins Ġ with ab afterwards.
    #expect(texts(tokenizer.encode(" ab"), vocabulary) == ["Ġ", "ab"])
    #expect(texts(tokenizer.encode(" a"), vocabulary) == ["Ġa"])
    // Leftmost first on equal ranks: "abab" → ab ab.
    #expect(texts(tokenizer.encode("abab"), vocabulary) == ["ab", "ab"])
  }

  @Test func parsesSpecialTokensOnlyWhenAsked() throws {
    let vocabulary = try makeVocabulary()
    let tokenizer = BPETokenizer(vocabulary: vocabulary)
    #expect(tokenizer.encode("<|im_start|>x", parseSpecial: true).first == 2)
    #expect(tokenizer.encode("<|im_start|>x", parseSpecial: false).first != 2)
    // User-defined tokens are always matched, as llama.cpp does.
    #expect(tokenizer.encode("a<|user|>b", parseSpecial: false).contains(1))
  }

  @Test func addsBOSWhenTheVocabularyAsks() throws {
    let tokenizer = BPETokenizer(vocabulary: try makeVocabulary(addBOS: true))
    #expect(tokenizer.encode("a", addSpecial: true).first == 0)
    #expect(tokenizer.encode("a", addSpecial: false).first != 0)
  }

  @Test func rejectsInconsistentVocabularies() {
    #expect(throws: TokenizerError.self) {
      try Vocabulary(tokens: ["a"], types: [], merges: [], preTokenizer: PreTokenizer(name: "gpt2"))
    }
    #expect(
      throws: TokenizerError.inconsistentVocabulary("eos token id 7 is outside the vocabulary")
    ) {
      try Vocabulary(
        tokens: ["a"], types: [.normal], merges: [], preTokenizer: PreTokenizer(name: "gpt2"),
        eosID: 7)
    }
    #expect(throws: TokenizerError.unsupportedPreTokenizer("klingon")) {
      try PreTokenizer(name: "klingon")
    }
  }

  @Test func handlesEmptyAndLongInput() throws {
    let tokenizer = try Tokenizers.smolLM2()
    #expect(tokenizer.encode("").isEmpty)
    // One 20,000-byte word with no pre-tokenizer split: exercises the heap on a long piece.
    let long = String(repeating: "abcdefghij", count: 2000)
    let ids = tokenizer.encode(long)
    var detokenizer = StreamingDetokenizer(vocabulary: tokenizer.vocabulary)
    let text = ids.map { detokenizer.append($0) }.joined() + detokenizer.finish()
    #expect(text == long)
  }
}

@Suite struct PreTokenizerTests {
  private func pieces(_ text: String, _ name: String = "smollm") throws -> [String] {
    let scalars = Array(text.unicodeScalars)
    var start = 0
    return try PreTokenizer(name: name).split(scalars).map { length in
      defer { start += length }
      var piece = String.UnicodeScalarView()
      piece.append(contentsOf: scalars[start..<start + length])
      return String(piece)
    }
  }

  @Test func splitsLikeTheGPT2Pattern() throws {
    #expect(try pieces("Hello world", "gpt2") == ["Hello", " world"])
    #expect(try pieces("it's we'll I'M", "gpt2") == ["it", "'s", " we", "'ll", " I", "'", "M"])
    #expect(try pieces("a  b", "gpt2") == ["a", " ", " b"])
    #expect(try pieces("a \n\n b", "gpt2") == ["a", " \n\n", " b"])
    #expect(try pieces("x   ", "gpt2") == ["x", "   "])
    #expect(try pieces("foo(bar);", "gpt2") == ["foo", "(", "bar", ");"])
    #expect(try pieces("123 456", "gpt2") == ["123", " 456"])
  }

  @Test func smollmIsolatesEveryDigit() throws {
    #expect(try pieces("abc 123") == ["abc", " ", "1", "2", "3"])
    #expect(try pieces("x٣y") == ["x", "٣", "y"])  // Arabic-Indic digit three is \p{N}
  }

  @Test func combiningMarksAreNotLetters() throws {
    // "e" + COMBINING ACUTE ACCENT: the mark is neither letter nor number.
    #expect(try pieces("cafe\u{301}!") == ["cafe", "\u{301}!"])
  }
}

@Suite struct StreamingDetokenizerTests {
  @Test func holdsBackIncompleteCharacters() {
    #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xF0, 0x9F]) == 1)
    #expect(StreamingDetokenizer.completePrefixLength([0xF0, 0x9F, 0x99, 0x82]) == 4)
    #expect(StreamingDetokenizer.completePrefixLength([0xE4, 0xBD]) == 0)
    // A stray continuation byte can never complete: emitted (as U+FFFD) at once.
    #expect(StreamingDetokenizer.completePrefixLength([0x61, 0x80]) == 2)
    #expect(StreamingDetokenizer.completePrefixLength([]) == 0)
  }

  @Test func emitsEmojiOnlyWhenComplete() throws {
    let tokenizer = try Tokenizers.smolLM2()
    let text = "🙂 你好世界 👨‍👩‍👧"
    let ids = tokenizer.encode(text)
    var detokenizer = StreamingDetokenizer(vocabulary: tokenizer.vocabulary)
    var output = ""
    for id in ids {
      let chunk = detokenizer.append(id)
      #expect(!chunk.unicodeScalars.contains("\u{FFFD}"))
      output += chunk
    }
    #expect(detokenizer.pendingByteCount == 0)
    #expect(output == text)
  }

  /// Rebuilt from its held-back bytes at any token, a detokenizer carries on as the original
  /// (a request taken over mid-character by another router).
  @Test func carriesOnFromItsPendingBytes() throws {
    let tokenizer = try Tokenizers.smolLM2()
    let ids = tokenizer.encode("🙂 你好世界 👨‍👩‍👧 done")
    var whole = StreamingDetokenizer(vocabulary: tokenizer.vocabulary)
    let reference = ids.map { whole.append($0) }.joined() + whole.finish()
    var sawPending = false
    for cut in 1..<ids.count {
      var first = StreamingDetokenizer(vocabulary: tokenizer.vocabulary)
      let before = ids[..<cut].map { first.append($0) }.joined()
      sawPending = sawPending || first.pendingByteCount > 0
      var second = StreamingDetokenizer(
        vocabulary: tokenizer.vocabulary, pending: first.pendingBytes)
      let after = ids[cut...].map { second.append($0) }.joined() + second.finish()
      #expect(before + after == reference)
    }
    #expect(sawPending)  // some cut fell inside a character
  }

  @Test func controlTokensPrintOnlyWhenAsked() throws {
    let vocabulary = try Tokenizers.smolLM2().vocabulary
    let imEnd = try #require(vocabulary.id(of: "<|im_end|>"))
    var plain = StreamingDetokenizer(vocabulary: vocabulary)
    #expect(plain.append(imEnd) == "")
    var special = StreamingDetokenizer(vocabulary: vocabulary, includeSpecial: true)
    #expect(special.append(imEnd) == "<|im_end|>")
    #expect(vocabulary.endOfGenerationIDs.contains(imEnd))
  }
}
