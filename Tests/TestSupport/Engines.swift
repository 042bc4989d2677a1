public import Core

/// Engines on the real model for tests.
public enum Engines {
  /// A fresh single-process engine on SmolLM2 (its KV cache sized for tests).
  public static func smolLM2(threads: Int = 2, maxBatch: Int = 256, kvTokens: Int = 4096) throws
    -> InferenceEngine
  {
    let model = try ModelLoader.load(ModelFiles.smolLM2())
    return InferenceEngine(model: model, threads: threads, maxBatch: maxBatch, kvTokens: kvTokens)
  }

  /// A fresh single-process engine on Gemma 3 270M (the model, its weights unpacked at load,
  /// is loaded once per test process and shared: it is immutable).
  public static func gemma3(threads: Int = 2, maxBatch: Int = 256, kvTokens: Int = 4096) throws
    -> InferenceEngine
  {
    let model = try gemmaModel.withLock { cached in
      if let cached { return cached }
      let model = try ModelLoader.load(ModelFiles.gemma3())
      cached = model
      return model
    }
    return InferenceEngine(model: model, threads: threads, maxBatch: maxBatch, kvTokens: kvTokens)
  }

  private static let gemmaModel = Locked<(any LanguageModel)?>(nil)

  /// Teacher-forced logits: row j predicts `continuation[j]` from the prompt and the
  /// continuation before it.
  public static func score(
    _ engine: InferenceEngine, prompt: [TokenID], continuation: [TokenID], sequence: Int = 0
  ) throws -> [[Float]] {
    defer { engine.release(sequence: sequence) }
    let tokens = prompt + continuation.dropLast()
    let rows = Array((prompt.count - 1)..<tokens.count)
    let flat = try engine.feed(sequence: sequence, tokens: tokens, logitsAt: rows)
    let vocabulary = engine.vocabularySize
    return (0..<rows.count).map { Array(flat[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
  }
}
