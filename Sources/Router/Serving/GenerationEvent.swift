public import Core

/// One generated token's log-probability and the most likely alternatives at its position
/// (log-probabilities of the raw logits, before penalties and temperature).
public struct TokenLogprob: Sendable, Equatable {
  public var token: TokenID
  public var text: String
  public var logprob: Float
  public var top: [Alternative]

  public struct Alternative: Sendable, Equatable {
    public var token: TokenID
    public var text: String
    public var logprob: Float
  }
}

/// What the serving loop tells a request's handler, in order.
public enum GenerationEvent: Sendable {
  /// Text for one choice (after stop-sequence matching), and the logprobs of the tokens
  /// sampled since the last event (when asked for).
  case delta(choice: Int, text: String, logprobs: [TokenLogprob])
  /// A choice ended.
  case finished(choice: Int, reason: FinishReason, completionTokens: Int)
  /// Every choice ended.
  case done(promptTokens: Int, completionTokens: Int)
  /// The request failed (nothing more follows).
  case failed(APIError)
}
