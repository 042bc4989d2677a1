public import Core

/// `stop`: a string or a list of strings.
struct StopField: Decodable, Sendable {
  let values: [String]

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      values = []
    } else if let one = try? container.decode(String.self) {
      values = [one]
    } else {
      values = try container.decode([String].self)
    }
  }
}

/// A completion `prompt`: a string or an array of token ids.
enum PromptField: Decodable, Sendable {
  case text(String)
  case tokens([Int])

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let text = try? container.decode(String.self) {
      self = .text(text)
    } else if let tokens = try? container.decode([Int].self) {
      self = .tokens(tokens)
    } else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "must be a string or an array of token ids")
    }
  }
}

struct StreamOptions: Decodable, Sendable {
  let includeUsage: Bool?
  enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}

/// `POST /v1/chat/completions`.
struct ChatCompletionRequest: Decodable, Sendable {
  let model: String
  let messages: [OpenAIChatMessage]
  let maxTokens: Int?
  let maxCompletionTokens: Int?
  let temperature: Double?
  let topP: Double?
  let topK: Int?
  let minP: Double?
  let seed: Int64?
  let stop: StopField?
  let presencePenalty: Double?
  let frequencyPenalty: Double?
  let n: Int?
  let stream: Bool?
  let streamOptions: StreamOptions?
  let logprobs: Bool?
  let topLogprobs: Int?
  let user: String?

  enum CodingKeys: String, CodingKey {
    case model, messages, temperature, seed, stop, n, stream, logprobs, user
    case maxTokens = "max_tokens"
    case maxCompletionTokens = "max_completion_tokens"
    case topP = "top_p"
    case topK = "top_k"
    case minP = "min_p"
    case presencePenalty = "presence_penalty"
    case frequencyPenalty = "frequency_penalty"
    case streamOptions = "stream_options"
    case topLogprobs = "top_logprobs"
  }
}

/// `POST /v1/completions`.
struct CompletionRequest: Decodable, Sendable {
  let model: String
  let prompt: PromptField
  let maxTokens: Int?
  let temperature: Double?
  let topP: Double?
  let topK: Int?
  let minP: Double?
  let seed: Int64?
  let stop: StopField?
  let presencePenalty: Double?
  let frequencyPenalty: Double?
  let n: Int?
  let stream: Bool?
  let streamOptions: StreamOptions?
  let logprobs: Int?
  let user: String?

  enum CodingKeys: String, CodingKey {
    case model, prompt, temperature, seed, stop, n, stream, logprobs, user
    case maxTokens = "max_tokens"
    case topP = "top_p"
    case topK = "top_k"
    case minP = "min_p"
    case presencePenalty = "presence_penalty"
    case frequencyPenalty = "frequency_penalty"
    case streamOptions = "stream_options"
  }
}

/// What a completion or chat prompt is made of, before the intake turns it into tokens.
public enum PromptInput: Sendable, Equatable {
  case messages([ChatMessage])
  case text(String)
  case tokens([TokenID])
}

/// A body that passed validation: the spec it asks for — its prompt not tokenized yet, its
/// token limit not yet cut to the context, its loop id and time not given yet (the intake
/// does all three) — and the prompt's input.
struct CheckedBody: Sendable {
  var spec: RequestSpec
  var input: PromptInput
  /// The client's `max_tokens` (nil: as many as fit the context).
  var requestedMaxTokens: Int?

  init(
    endpoint: RequestSpec.Endpoint, model: String, input: PromptInput, maxTokens: Int?,
    sampling: SamplingParameters, stop: [String], choices: Int, stream: Bool,
    includeUsage: Bool, logprobs: Int?
  ) {
    spec = RequestSpec(
      loopID: 0, endpoint: endpoint, model: model, created: 0, prompt: [], maxTokens: 0,
      sampling: sampling, stop: stop, choices: choices, stream: stream,
      includeUsage: includeUsage, logprobs: logprobs)
    self.input = input
    requestedMaxTokens = maxTokens
  }
}

/// Limits requests are checked against.
public struct RequestLimits: Sendable {
  public var maxOutputTokens: Int
  public var maxChoices = 8
  public var maxStops = 4

  public init(maxOutputTokens: Int) { self.maxOutputTokens = maxOutputTokens }
}

enum RequestValidation {
  static let chatRoles: Set<String> = ["system", "developer", "user", "assistant"]

  static func chat(_ request: ChatCompletionRequest, limits: RequestLimits, seed: () -> UInt64)
    throws(APIError) -> CheckedBody
  {
    guard !request.messages.isEmpty else {
      throw .invalid("'messages' must hold at least one message", param: "messages")
    }
    for (index, message) in request.messages.enumerated()
    where !chatRoles.contains(message.role) {
      throw .invalid(
        "'\(message.role)' is not a supported role (system, developer, user, assistant)",
        param: "messages[\(index)].role")
    }
    if request.topLogprobs != nil, request.logprobs != true {
      throw .invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
    }
    if let top = request.topLogprobs, !(0...20).contains(top) {
      throw .invalid("'top_logprobs' must be 0...20", param: "top_logprobs")
    }
    let maxTokens = request.maxCompletionTokens ?? request.maxTokens
    let param = request.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens"
    return CheckedBody(
      endpoint: .chat, model: request.model,
      input: .messages(
        request.messages.map {
          ChatMessage(role: $0.role == "developer" ? "system" : $0.role, content: $0.content)
        }),
      maxTokens: try checkedMaxTokens(maxTokens, param: param, limits: limits),
      sampling: try sampling(
        temperature: request.temperature, topP: request.topP, topK: request.topK,
        minP: request.minP, presence: request.presencePenalty,
        frequency: request.frequencyPenalty, seed: request.seed, pick: seed),
      stop: try stops(request.stop, limits: limits),
      choices: try choices(request.n, limits: limits), stream: request.stream ?? false,
      includeUsage: try includeUsage(request.streamOptions, stream: request.stream),
      logprobs: request.logprobs == true ? (request.topLogprobs ?? 0) : nil)
  }

  static func completion(_ request: CompletionRequest, limits: RequestLimits, seed: () -> UInt64)
    throws(APIError) -> CheckedBody
  {
    let input: PromptInput
    switch request.prompt {
    case .text(let text): input = .text(text)
    case .tokens(let ids):
      guard !ids.isEmpty else { throw .invalid("'prompt' must not be empty", param: "prompt") }
      guard let tokens = Optional(ids.compactMap { TokenID(exactly: $0) }),
        tokens.count == ids.count
      else { throw .invalid("'prompt' holds a token id out of range", param: "prompt") }
      input = .tokens(tokens)
    }
    if let logprobs = request.logprobs, !(0...5).contains(logprobs) {
      throw .invalid("'logprobs' must be 0...5", param: "logprobs")
    }
    return CheckedBody(
      endpoint: .completion, model: request.model, input: input,
      maxTokens: try checkedMaxTokens(request.maxTokens ?? 16, param: "max_tokens", limits: limits),
      sampling: try sampling(
        temperature: request.temperature, topP: request.topP, topK: request.topK,
        minP: request.minP, presence: request.presencePenalty,
        frequency: request.frequencyPenalty, seed: request.seed, pick: seed),
      stop: try stops(request.stop, limits: limits),
      choices: try choices(request.n, limits: limits), stream: request.stream ?? false,
      includeUsage: try includeUsage(request.streamOptions, stream: request.stream),
      logprobs: request.logprobs)
  }

  static func checkedMaxTokens(_ value: Int?, param: String, limits: RequestLimits)
    throws(APIError) -> Int?
  {
    guard let value else { return nil }
    guard (1...limits.maxOutputTokens).contains(value) else {
      throw .invalid("'\(param)' must be 1...\(limits.maxOutputTokens)", param: param)
    }
    return value
  }

  static func sampling(
    temperature: Double?, topP: Double?, topK: Int?, minP: Double?, presence: Double?,
    frequency: Double?, seed: Int64?, pick: () -> UInt64
  ) throws(APIError) -> SamplingParameters {
    if let temperature, !(0...2).contains(temperature) {
      throw .invalid("'temperature' must be 0...2", param: "temperature")
    }
    if let topK, topK < -1 {
      throw .invalid("'top_k' must be >= -1 (-1 or 0: off)", param: "top_k")
    }
    let parameters = SamplingParameters(
      temperature: Float(temperature ?? 1), topK: max(topK ?? 0, 0), topP: Float(topP ?? 1),
      minP: Float(minP ?? 0), presencePenalty: Float(presence ?? 0),
      frequencyPenalty: Float(frequency ?? 0),
      seed: seed.map { UInt64(bitPattern: $0) } ?? pick())
    do {
      return try parameters.validated()
    } catch {
      let names = [
        "topP": "top_p", "minP": "min_p", "presencePenalty": "presence_penalty",
        "frequencyPenalty": "frequency_penalty", "temperature": "temperature", "topK": "top_k",
      ]
      if case .invalidParameter(let name, _, let reason) = error {
        let param = names[name] ?? name
        throw .invalid("'\(param)' \(reason)", param: param)
      }
      throw .invalid("\(error)")
    }
  }

  static func stops(_ field: StopField?, limits: RequestLimits) throws(APIError) -> [String] {
    let values = field?.values ?? []
    guard values.count <= limits.maxStops else {
      throw .invalid("'stop' holds at most \(limits.maxStops) sequences", param: "stop")
    }
    guard values.allSatisfy({ !$0.isEmpty }) else {
      throw .invalid("'stop' sequences must not be empty", param: "stop")
    }
    return values
  }

  static func choices(_ n: Int?, limits: RequestLimits) throws(APIError) -> Int {
    let value = n ?? 1
    guard (1...limits.maxChoices).contains(value) else {
      throw .invalid("'n' must be 1...\(limits.maxChoices)", param: "n")
    }
    return value
  }

  static func includeUsage(_ options: StreamOptions?, stream: Bool?) throws(APIError) -> Bool {
    guard let options else { return false }
    guard stream == true else {
      throw .invalid(
        "'stream_options' is only allowed with 'stream': true", param: "stream_options")
    }
    return options.includeUsage ?? false
  }
}
