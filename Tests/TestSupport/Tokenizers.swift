public import Core

/// The real models' tokenizers, built once per test process.
public enum Tokenizers {
  public static func smolLM2() throws -> BPETokenizer {
    try cache.withLock { cached in
      if let cached { return cached }
      let tokenizer = BPETokenizer(vocabulary: try Vocabulary(gguf: ModelFiles.smolLM2()))
      cached = tokenizer
      return tokenizer
    }
  }

  /// Gemma 3's SentencePiece tokenizer (262,144 tokens).
  public static func gemma3() throws -> SentencePieceTokenizer {
    try gemmaCache.withLock { cached in
      if let cached { return cached }
      let tokenizer = SentencePieceTokenizer(
        vocabulary: try Vocabulary(gguf: ModelFiles.gemma3()))
      cached = tokenizer
      return tokenizer
    }
  }

  private static let cache = Locked<BPETokenizer?>(nil)
  private static let gemmaCache = Locked<SentencePieceTokenizer?>(nil)
}
