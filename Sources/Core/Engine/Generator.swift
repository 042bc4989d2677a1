#if canImport(Glibc)
  import Glibc
#endif

/// Why a generation ended, as OpenAI spells it.
public enum FinishReason: String, Sendable, Codable, Equatable {
  /// The model produced an end-of-generation token (or a stop sequence matched).
  case stop
  /// The token limit (or the context) was reached.
  case length
}

/// One prompt's generation on a single-process engine: prefill, then sample and decode one
/// token at a time until an end-of-generation token or the limit.
public struct GenerationResult: Sendable {
  public var promptTokens: [TokenID]
  /// Generated tokens, without the final end-of-generation token.
  public var tokens: [TokenID]
  public var finishReason: FinishReason
  public var promptMilliseconds: Double
  public var generateMilliseconds: Double
}

/// What the generator drives: one process's `InferenceEngine`, or a cluster of workers.
public protocol TokenEngine: AnyObject {
  var contextLength: Int { get }
  /// Feeds a prompt; returns the logits after its last token (valid until the next call).
  func prefill(sequence: Int, tokens: [TokenID]) throws -> UnsafeBufferPointer<Float>
  /// Appends one token; returns the logits predicting the next (valid until the next call).
  func decode(sequence: Int, token: TokenID) throws -> UnsafeBufferPointer<Float>
  func release(sequence: Int)
}

extension InferenceEngine: TokenEngine {}

public final class Generator {
  public let engine: any TokenEngine
  public let vocabulary: Vocabulary

  public init(engine: any TokenEngine, vocabulary: Vocabulary) {
    self.engine = engine
    self.vocabulary = vocabulary
  }

  /// Generates up to `maxTokens` tokens after `prompt`.
  ///
  /// - Parameters:
  ///   - choiceIndex: which of several parallel choices this is (part of the RNG key).
  ///   - onStep: called with each generated token and the logits it was sampled from.
  public func generate(
    prompt: [TokenID], maxTokens: Int, sampling: SamplingParameters, choiceIndex: Int = 0,
    sequence: Int = 0, onStep: (TokenID, UnsafeBufferPointer<Float>) -> Void = { _, _ in }
  ) throws -> GenerationResult {
    guard !prompt.isEmpty else { throw ModelError.invalidConfig("the prompt is empty") }
    defer { engine.release(sequence: sequence) }
    let context = engine.contextLength
    guard prompt.count < context else {
      throw ModelError.contextFull(sequenceLength: prompt.count, limit: context)
    }
    let start = SystemClock.now()
    // The engine's reused logits buffer: valid until the next step, never copied.
    var logits = try engine.prefill(sequence: sequence, tokens: prompt)
    let promptDone = SystemClock.now()
    var sampler = Sampler(parameters: sampling)
    var history = prompt
    history.reserveCapacity(prompt.count + maxTokens)
    var generated: [TokenID] = []
    generated.reserveCapacity(maxTokens)
    var reason = FinishReason.length
    while generated.count < maxTokens {
      let token = sampler.sample(
        logits: logits, history: history, choiceIndex: choiceIndex, position: history.count)
      onStep(token, logits)
      if vocabulary.endOfGenerationIDs.contains(token) {
        reason = .stop
        break
      }
      generated.append(token)
      history.append(token)
      guard generated.count < maxTokens, history.count < context else { break }
      logits = try engine.decode(sequence: sequence, token: token)
    }
    let end = SystemClock.now()
    return GenerationResult(
      promptTokens: prompt, tokens: generated, finishReason: reason,
      promptMilliseconds: (promptDone - start) * 1000,
      generateMilliseconds: (end - promptDone) * 1000)
  }
}
