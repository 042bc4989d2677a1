public import ContextCache
public import Core
import Foundation

/// Where every request enters: an HTTP body is validated, its chat rendered through the
/// model's template, its prompt tokenized and checked against the limits, its cached prefix
/// looked up, and the one `Submission` built. Takeover of another router's requests builds
/// its submissions here too, from the stored spec.
public struct RequestIntake: Sendable {
  public struct Limits: Sendable {
    public var modelID: String
    /// Most prompt tokens a request may bring (nil: the context length decides).
    public var maxPromptTokens: Int?
    public var maxOutputTokens: Int
    /// Seconds a request may take.
    public var requestTimeout: Double

    public init(
      modelID: String, maxPromptTokens: Int? = nil, maxOutputTokens: Int = 4096,
      requestTimeout: Double = 600
    ) {
      self.modelID = modelID
      self.maxPromptTokens = maxPromptTokens
      self.maxOutputTokens = maxOutputTokens
      self.requestTimeout = requestTimeout
    }
  }

  public let limits: Limits
  public let tokenizer: any Tokenizer
  public let formatter: ChatFormatter?
  public let contextLength: Int
  /// The context-fragment cache, when prompts' prefixes may be reused.
  public let fragments: FragmentCache?
  /// Whether workers hold the model (they fetch cached parts themselves; the router only
  /// counts what they promise).
  public let workersHoldTheModel: Bool
  let clock: any TimeSource

  public init(
    limits: Limits, tokenizer: any Tokenizer, formatter: ChatFormatter?, contextLength: Int,
    fragments: FragmentCache?, workersHoldTheModel: Bool, clock: any TimeSource = SystemClock()
  ) {
    self.limits = limits
    self.tokenizer = tokenizer
    self.formatter = formatter
    self.contextLength = contextLength
    self.fragments = fragments
    self.workersHoldTheModel = workersHoldTheModel
    self.clock = clock
  }

  /// A request number no other router (or earlier run of this one) will pick: request ids
  /// live on in Redis.
  func newLoopID() -> UInt64 { UInt64.random(in: 1...UInt64.max) }

  /// Validates a body for an endpoint and makes its spec: tokenized, its limits cut to the
  /// context, its id and time given.
  func spec(from body: Data, endpoint: RequestSpec.Endpoint) throws(APIError) -> RequestSpec {
    let requestLimits = RequestLimits(maxOutputTokens: limits.maxOutputTokens)
    let pick = { UInt64.random(in: 0...UInt64(UInt32.max)) }
    var checked: CheckedBody
    switch endpoint {
    case .chat:
      checked = try RequestValidation.chat(
        RequestDecoding.decode(ChatCompletionRequest.self, from: body), limits: requestLimits,
        seed: pick)
    case .completion:
      checked = try RequestValidation.completion(
        RequestDecoding.decode(CompletionRequest.self, from: body), limits: requestLimits,
        seed: pick)
    }
    guard checked.spec.model == limits.modelID else { throw .modelNotFound(checked.spec.model) }
    let prompt = try promptTokens(checked.input)
    guard !prompt.isEmpty else { throw .invalid("The prompt is empty", param: "prompt") }
    if let limit = limits.maxPromptTokens, prompt.count > limit {
      throw .invalid(
        "The prompt has \(prompt.count) tokens; this server accepts at most \(limit)",
        param: endpoint == .chat ? "messages" : "prompt", code: "prompt_too_long")
    }
    let room = contextLength - prompt.count
    guard room >= 1 else {
      throw .contextLengthExceeded(tokens: prompt.count + 1, limit: contextLength)
    }
    if let maxTokens = checked.requestedMaxTokens, maxTokens > room {
      throw .contextLengthExceeded(tokens: prompt.count + maxTokens, limit: contextLength)
    }
    let loopID = newLoopID()
    checked.spec.loopID = loopID
    checked.spec.id = RequestSpec.responseID(loopID, endpoint: endpoint)
    checked.spec.created = Int(Date().timeIntervalSince1970)
    checked.spec.prompt = prompt
    checked.spec.maxTokens = min(checked.requestedMaxTokens ?? room, room, limits.maxOutputTokens)
    return checked.spec
  }

  /// The prompt's tokens: a chat rendered through the model's template, text tokenized
  /// (special tokens parsed), or ids checked against the vocabulary.
  func promptTokens(_ input: PromptInput) throws(APIError) -> [TokenID] {
    switch input {
    case .messages(let messages):
      guard let formatter else {
        throw .invalid("This model has no chat template; use /v1/completions", param: "messages")
      }
      do {
        return tokenizer.encode(
          try formatter.render(messages), addSpecial: true, parseSpecial: true)
      } catch {
        throw .invalid("The messages cannot be rendered: \(error)", param: "messages")
      }
    case .text(let text):
      // BOS once, as the model asks (a template that writes it is not doubled).
      return tokenizer.encode(text, addSpecial: true, parseSpecial: true)
    case .tokens(let ids):
      let size = tokenizer.vocabulary.count
      guard ids.allSatisfy({ $0 >= 0 && Int($0) < size }) else {
        throw .invalid(
          "'prompt' holds a token id outside the vocabulary (0..<\(size))", param: "prompt")
      }
      return ids
    }
  }

  /// The prompt's block ids and how many of them, from the first, the cache can supply —
  /// with their parts when this process holds the whole model. May block on Redis: call it
  /// off the async threads.
  func cachedPrefix(for prompt: [TokenID]) -> CachedPrefix {
    guard let fragments else { return .none }
    let ids = fragments.ids(for: prompt)
    guard !ids.isEmpty else { return .none }
    if workersHoldTheModel {
      return CachedPrefix(ids: ids, blockCount: fragments.promisedByWorkers(ids), blocks: [])
    }
    let blocks = fragments.prefix(ids)
    return CachedPrefix(ids: ids, blockCount: blocks.count, blocks: blocks)
  }

  /// The submission for `spec`, its events going to `events`.
  func submission(
    _ spec: RequestSpec, events: any GenerationSink, prefix: CachedPrefix, checkpoints: Bool,
    resumed: [Int: ResumePoint] = [:]
  ) -> Submission {
    Submission(
      spec: spec, events: events, deadline: clock.now() + limits.requestTimeout,
      checkpoints: checkpoints, resumed: resumed, prefix: prefix)
  }

  /// What a stored request asks of this model: tokens in its vocabulary, a length within its
  /// context (a record from another model, or damaged, must not reach the engine).
  func check(_ stored: StoredRequest) throws(RequestStateError) {
    let vocabulary = tokenizer.vocabulary.count
    let tokens = stored.spec.prompt + stored.tokens.joined()
    guard tokens.allSatisfy({ $0 >= 0 && Int($0) < vocabulary }) else {
      throw .damaged(id: stored.spec.id, detail: "a token outside this model's vocabulary")
    }
    guard stored.spec.prompt.count + stored.spec.maxTokens <= contextLength else {
      throw .damaged(id: stored.spec.id, detail: "longer than this model's context")
    }
  }
}
