public import Core

/// One generated token's log-probability and the most likely alternatives at its position
/// (log-probabilities of the raw logits, before penalties and temperature).
public struct TokenLogprob: Sendable, Equatable, Codable {
  public var token: TokenID
  public var text: String
  public var logprob: Float
  public var top: [Alternative]

  public struct Alternative: Sendable, Equatable, Codable {
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
  case failed(ServingFailure)
  /// A choice's state after a sampled token, following that token's events (asked for with
  /// `Submission.checkpoints`): what durable request state records.
  case checkpoint(ChoiceProgress)
}

/// Where the serving loop sends a request's events (on the loop's thread: must not block).
public protocol GenerationSink: Sendable {
  func send(_ event: GenerationEvent)
  /// No more events follow (after `.done`, `.failed`, or a cancellation with no event).
  func end()
  /// The router is stopping with the request unfinished: no more events from this process.
  /// A sink with durable state leaves the request for another router (or this one, restarted)
  /// to take over; the default fails it.
  func handBack()
}

extension GenerationSink {
  public func handBack() {
    send(.failed(.shuttingDown))
    end()
  }
}

/// An async stream as a sink (tests and simple callers).
extension AsyncStream<GenerationEvent>.Continuation: GenerationSink {
  public func send(_ event: GenerationEvent) { yield(event) }
  public func end() { finish() }
}
