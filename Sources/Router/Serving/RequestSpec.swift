public import Core

/// The one shape of a request, from intake to the serving loop and into Redis: everything a
/// router needs to run it from the start or from where another router stopped (the prompt as
/// tokens, the sampling parameters with the seed that was decided, the stops and the
/// limits). `RequestIntake` makes it from an HTTP body; takeover reads it back from the store.
public struct RequestSpec: Sendable, Codable, Equatable {
  /// Which OpenAI endpoint the request came to (it decides the response's shape).
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
  /// With the seed decided: the client's, or one the router picked (recorded, so a replay
  /// is exact).
  public var sampling: SamplingParameters
  public var stop: [String]
  public var choices: Int
  public var stream: Bool
  public var includeUsage: Bool
  /// Top alternatives per token for logprobs; nil: no logprobs.
  public var logprobs: Int?

  public init(
    loopID: UInt64, endpoint: Endpoint, model: String, created: Int, prompt: [TokenID],
    maxTokens: Int, sampling: SamplingParameters, stop: [String] = [], choices: Int = 1,
    stream: Bool = false, includeUsage: Bool = false, logprobs: Int? = nil
  ) {
    self.id = Self.responseID(loopID, endpoint: endpoint)
    self.loopID = loopID
    self.endpoint = endpoint
    self.model = model
    self.created = created
    self.prompt = prompt
    self.maxTokens = maxTokens
    self.sampling = sampling
    self.stop = stop
    self.choices = choices
    self.stream = stream
    self.includeUsage = includeUsage
    self.logprobs = logprobs
  }

  /// The response id for a loop number: `chatcmpl-` or `cmpl-` and 16 hexadecimal digits.
  public static func responseID(_ loopID: UInt64, endpoint: Endpoint) -> String {
    let hex = String(loopID, radix: 16)
    return (endpoint == .chat ? "chatcmpl-" : "cmpl-")
      + String(repeating: "0", count: 16 - hex.count) + hex
  }
}
