public import Core

/// The real model's tokenizer, built once per test process.
public enum Tokenizers {
  public static func smolLM2() throws -> BPETokenizer {
    try cache.withLock { cached in
      if let cached { return cached }
      let tokenizer = BPETokenizer(vocabulary: try Vocabulary(gguf: ModelFiles.smolLM2()))
      cached = tokenizer
      return tokenizer
    }
  }

  private static let cache = Locked<BPETokenizer?>(nil)
}
