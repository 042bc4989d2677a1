public import Core

/// One choice's state after a token: enough to carry on generating it elsewhere with the same
/// result — the sampler needs only the seed, the choice index and the history (prompt and
/// generated tokens, kept beside this); the detokenizer its held-back bytes; the stop matcher
/// its held-back text; and the log-probabilities not yet sent with their text.
public struct ChoiceProgress: Sendable, Codable, Equatable {
  public struct PendingLogprob: Sendable, Codable, Equatable {
    public var entry: TokenLogprob
    /// Where the entry's token text starts in the produced text (UTF-8 bytes).
    public var start: Int
  }

  public var index: Int
  /// Tokens generated so far (an end-of-generation token is not one).
  public var generated: Int
  /// The token just sampled.
  public var token: TokenID
  public var detokenizerBytes: [UInt8]
  public var stopHeld: String
  public var stopped: Bool
  /// UTF-8 bytes detokenized so far, and those sent to the client.
  public var produced: Int
  public var sent: Int
  public var pendingLogprobs: [PendingLogprob]
  /// Set when the choice ended.
  public var finishReason: FinishReason?
  /// Completion logprobs: the characters of the entries' texts sent so far (the next
  /// `text_offset`). The request log fills it in; the loop does not know it.
  public var logprobOffset = 0

  enum CodingKeys: String, CodingKey {
    case index, generated, token, produced, sent, stopped
    case detokenizerBytes = "detokenizer_bytes"
    case stopHeld = "stop_held"
    case pendingLogprobs = "pending_logprobs"
    case finishReason = "finish_reason"
    case logprobOffset = "logprob_offset"
  }
}

/// Where a choice taken over stands: its progress and the tokens it generated.
public struct ResumePoint: Sendable, Equatable {
  public var progress: ChoiceProgress
  public var tokens: [TokenID]

  public init(progress: ChoiceProgress, tokens: [TokenID]) {
    self.progress = progress
    self.tokens = tokens
  }
}
