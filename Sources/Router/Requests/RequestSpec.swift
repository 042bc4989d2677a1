public import Core

/// What a request is, as it is kept in Redis: everything a router needs to run it again from
/// the start or from where another router stopped (the prompt as tokens, the sampling
/// parameters with the seed that was decided, the stops and the limits).
public struct RequestSpec: Sendable, Codable, Equatable {
  public enum Endpoint: String, Sendable, Codable { case chat, completion }

  /// The response id (`chatcmpl-…` or `cmpl-…`): also the request's key in Redis.
  public var id: String
  /// The serving loop's number for it (the hexadecimal part of `id`).
  public var loopID: UInt64
  public var endpoint: Endpoint
  public var model: String
  /// Unix seconds.
  public var created: Int
  public var prompt: [TokenID]
  /// Most tokens each choice generates (already cut to the context).
  public var maxTokens: Int
  public var sampling: SamplingParameters
  public var stop: [String]
  public var choices: Int
  public var stream: Bool
  public var includeUsage: Bool
  public var logprobs: Int?

  public init(
    id: String, loopID: UInt64, request: GenerationRequest, created: Int, prompt: [TokenID],
    maxTokens: Int
  ) {
    self.id = id
    self.loopID = loopID
    endpoint = request.endpoint == .chat ? .chat : .completion
    model = request.model
    self.created = created
    self.prompt = prompt
    self.maxTokens = maxTokens
    sampling = request.sampling
    stop = request.stop
    choices = request.choices
    stream = request.stream
    includeUsage = request.includeUsage
    logprobs = request.logprobs
  }

  /// The request as the serving loop takes it (the prompt as tokens).
  public var generationRequest: GenerationRequest {
    GenerationRequest(
      endpoint: endpoint == .chat ? .chat : .completion, model: model, input: .tokens(prompt),
      maxTokens: maxTokens, sampling: sampling, stop: stop, choices: choices, stream: stream,
      includeUsage: includeUsage, logprobs: logprobs, user: nil)
  }

  /// The response id for a loop number: `chatcmpl-` or `cmpl-` and 16 hexadecimal digits.
  public static func responseID(_ loopID: UInt64, endpoint: GenerationRequest.Endpoint) -> String {
    let hex = String(loopID, radix: 16)
    return (endpoint == .chat ? "chatcmpl-" : "cmpl-")
      + String(repeating: "0", count: 16 - hex.count) + hex
  }
}

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
