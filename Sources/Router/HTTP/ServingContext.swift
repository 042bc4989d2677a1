public import ContextCache
public import Core
import Foundation
public import RedisClient
import Synchronization

/// What the HTTP handlers share: the model's identity and tokenizer, the limits, the
/// serving loop. Immutable apart from the loop and the id counter, so handlers on any thread
/// may use it.
public final class ServingContext: Sendable {
  public struct Options: Sendable {
    public var modelID: String
    /// Most prompt tokens a request may bring (nil: the context length decides).
    public var maxPromptTokens: Int?
    public var maxOutputTokens: Int
    public var maxBodyBytes: Int
    public var requestTimeout: Double
    /// Accepted bearer keys; empty: no authentication.
    public var apiKeys: Set<String>

    public init(
      modelID: String, maxPromptTokens: Int? = nil, maxOutputTokens: Int = 4096,
      maxBodyBytes: Int = 1 << 20, requestTimeout: Double = 600, apiKeys: Set<String> = []
    ) {
      self.modelID = modelID
      self.maxPromptTokens = maxPromptTokens
      self.maxOutputTokens = maxOutputTokens
      self.maxBodyBytes = maxBodyBytes
      self.requestTimeout = requestTimeout
      self.apiKeys = apiKeys
    }
  }

  public let options: Options
  public let tokenizer: BPETokenizer
  public let formatter: ChatFormatter?
  public let contextLength: Int
  public let loop: ServingLoop
  public let created = Int(Date().timeIntervalSince1970)
  /// Whether the engine is up (set by whoever starts the loop).
  let engineReady = Atomic<Bool>(false)
  /// What `/v1/cluster` shows.
  public let cluster: ClusterInfo
  /// The Redis given with `--redis`, if any.
  public let redis: RedisClient?
  /// The context-fragment cache, when prompts' prefixes may be reused.
  public let fragments: FragmentCache?
  /// The requests this router runs and their durable state.
  public let requests: RequestRegistry
  private let log = Log("requests")
  private let lookups = DispatchQueue(label: "tessera.fragments.lookup", attributes: .concurrent)

  public init(
    options: Options, tokenizer: BPETokenizer, formatter: ChatFormatter?, contextLength: Int,
    loop: ServingLoop, cluster: ClusterInfo = ClusterInfo(plan: nil), redis: RedisClient? = nil,
    fragments: FragmentCache? = nil, requests: RequestRegistry = RequestRegistry(journal: nil)
  ) {
    self.requests = requests
    self.cluster = cluster
    self.redis = redis
    self.fragments = fragments
    self.options = options
    self.tokenizer = tokenizer
    self.formatter = formatter
    self.contextLength = contextLength
    self.loop = loop
  }

  public func markReady(_ ready: Bool) { engineReady.store(ready, ordering: .releasing) }
  public var isReady: Bool {
    engineReady.load(ordering: .acquiring) && loop.snapshot.engineFailed == nil
  }

  /// The prompt's block ids and how many of them, from the first, the cache can supply —
  /// with their parts when this process holds the whole model (workers fetch their own).
  /// Runs off the async threads (Redis calls block).
  func cachedPrefix(for prompt: [TokenID]) async -> (
    ids: [FragmentID], count: Int, blocks: [[FragmentPart.Address: FragmentPart]]
  ) {
    guard fragments != nil else { return ([], 0, []) }
    return await offThread { self.cachedPrefixNow(for: prompt) }
  }

  /// `cachedPrefix(for:)` on the calling thread (which may block on Redis).
  func cachedPrefixNow(for prompt: [TokenID]) -> (
    ids: [FragmentID], count: Int, blocks: [[FragmentPart.Address: FragmentPart]]
  ) {
    guard let fragments else { return ([], 0, []) }
    let ids = fragments.ids(for: prompt)
    guard !ids.isEmpty else { return ([], 0, []) }
    if cluster.plan != nil { return (ids, fragments.promisedByWorkers(ids), []) }
    let blocks = fragments.prefix(ids)
    return (ids, blocks.count, blocks)
  }

  /// Runs blocking work (Redis calls) off the async threads.
  func offThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      lookups.async { continuation.resume(returning: body()) }
    }
  }

  /// Why the router serves in a degraded way (empty: it does not). The Redis check blocks, so
  /// it runs off the async threads.
  func degradedReasons() async -> [String] {
    guard let redis else { return [] }
    return await withCheckedContinuation { continuation in
      lookups.async {
        guard case .failure(let error) = redis.ping() else {
          continuation.resume(returning: [])
          return
        }
        continuation.resume(
          returning: ["redis at \(redis.url) is unavailable (\(error)): serving without it"])
      }
    }
  }

  /// Stops running a request another router took over: no more state written from here, its
  /// readers' streams end (they resume from the other router).
  public func stopRunning(_ id: String) {
    guard let request = requests.find(id) else { return }
    request.disown()
    loop.cancel(request.spec.loopID)
  }

  /// What a stored request asks of this model: tokens in its vocabulary, a length within its
  /// context (a record from another model, or damaged, must not reach the engine).
  private func check(_ stored: StoredRequest) throws(RequestStateError) {
    let vocabulary = tokenizer.vocabulary.count
    let tokens = stored.spec.prompt + stored.tokens.joined()
    guard tokens.allSatisfy({ $0 >= 0 && Int($0) < vocabulary }) else {
      throw .damaged(id: stored.spec.id, detail: "a token outside this model's vocabulary")
    }
    guard stored.spec.prompt.count + stored.spec.maxTokens <= contextLength else {
      throw .damaged(id: stored.spec.id, detail: "longer than this model's context")
    }
  }

  /// A request number no other router (or earlier run of this one) will pick: request ids
  /// live on in Redis.
  func newID() -> UInt64 { UInt64.random(in: 1...UInt64.max) }

  /// Takes over the unfinished requests in Redis that no live router holds (their lease
  /// expired, or this router held them before a restart) and runs them on from where their
  /// state says: each choice's prompt and generated tokens are computed again (the prompt's
  /// blocks through the fragment cache) and it carries on with the same sampler, detokenizer
  /// and stop-matcher state, so the text is what an uninterrupted run gives. Runs on the
  /// journal's thread.
  public func takeOverOrphans() {
    guard let journal = requests.journal else { return }
    let ids: [String]
    do {
      // Leased covers a request whose log is made but not registered yet.
      ids = try journal.store.claimOrphans(except: requests.knownIDs.union(journal.leasedIDs))
    } catch {
      return  // Redis is down: the next period tries again
    }
    for id in ids {
      do throws(RequestStateError) {
        let stored = try journal.store.load(id)
        guard stored.status == .running else {
          try? journal.store.release(id)  // it ended between the scan and the claim
          continue
        }
        try check(stored)
        let request = RequestLog(stored: stored, journal: journal)
        requests.register(request)
        journal.holdLease(request)
        journal.takeovers.add(1, ordering: .relaxed)
        let cached = cachedPrefixNow(for: stored.spec.prompt)
        log.info(
          "request \(id): taken over after event \(stored.events - 1), "
            + "\(stored.tokens.map(\.count).reduce(0, +)) tokens generated")
        loop.submit(
          .init(
            id: stored.spec.loopID, prompt: stored.spec.prompt,
            request: stored.spec.generationRequest, maxTokens: stored.spec.maxTokens,
            deadline: Clock.now() + options.requestTimeout, events: request, checkpoints: true,
            resumed: stored.resumePoints, fragmentIDs: cached.ids, cachedBlockCount: cached.count,
            cachedBlocks: cached.blocks))
      } catch .unavailable {
        continue  // Redis went away: the lease is in this router's name, the next scan retries
      } catch {
        log.error("request \(id) cannot be taken over: \(error)")
        journal.abandon(id, reason: "its stored state cannot be used: \(error)")
      }
    }
  }

  /// The prompt's tokens: a chat rendered through the model's template, text tokenized
  /// (special tokens parsed), or ids checked against the vocabulary.
  func promptTokens(_ input: GenerationRequest.Input) throws(APIError) -> [TokenID] {
    switch input {
    case .messages(let messages):
      guard let formatter else {
        throw .invalid("This model has no chat template; use /v1/completions", param: "messages")
      }
      do {
        return tokenizer.encode(try formatter.render(messages))
      } catch {
        throw .invalid("The messages cannot be rendered: \(error)", param: "messages")
      }
    case .text(let text):
      return tokenizer.encode(text)
    case .tokens(let ids):
      let size = tokenizer.vocabulary.count
      guard ids.allSatisfy({ $0 >= 0 && Int($0) < size }) else {
        throw .invalid(
          "'prompt' holds a token id outside the vocabulary (0..<\(size))",
          param: "prompt")
      }
      return ids
    }
  }

  /// Validates a body for an endpoint and turns it into a submission-ready request.
  func prepare(_ body: Data, endpoint: GenerationRequest.Endpoint) throws(APIError)
    -> (request: GenerationRequest, prompt: [TokenID], maxTokens: Int)
  {
    let limits = RequestLimits(maxOutputTokens: options.maxOutputTokens)
    let pick = { UInt64.random(in: 0...UInt64(UInt32.max)) }
    let request: GenerationRequest
    switch endpoint {
    case .chat:
      request = try RequestValidation.chat(
        RequestDecoding.decode(ChatCompletionRequest.self, from: body), limits: limits, seed: pick)
    case .completion:
      request = try RequestValidation.completion(
        RequestDecoding.decode(CompletionRequest.self, from: body), limits: limits, seed: pick)
    }
    guard request.model == options.modelID else { throw .modelNotFound(request.model) }
    let prompt = try promptTokens(request.input)
    guard !prompt.isEmpty else { throw .invalid("The prompt is empty", param: "prompt") }
    if let limit = options.maxPromptTokens, prompt.count > limit {
      throw .invalid(
        "The prompt has \(prompt.count) tokens; this server accepts at most \(limit)",
        param: endpoint == .chat ? "messages" : "prompt", code: "prompt_too_long")
    }
    let room = contextLength - prompt.count
    guard room >= 1 else {
      throw .contextLengthExceeded(tokens: prompt.count + 1, limit: contextLength)
    }
    if let maxTokens = request.maxTokens, maxTokens > room {
      throw .contextLengthExceeded(tokens: prompt.count + maxTokens, limit: contextLength)
    }
    return (request, prompt, min(request.maxTokens ?? room, room, options.maxOutputTokens))
  }
}

/// The cluster as `/v1/cluster` reports it: the plan (when workers are used) and the workers.
public struct ClusterInfo: Sendable {
  public let plan: PartitionPlan?

  public init(plan: PartitionPlan?) { self.plan = plan }

  struct Report: Encodable {
    let mode: String
    let ready: Bool
    let tensorParallel: Int
    let pipelineParallel: Int
    let plan: String
    let workers: [WorkerReport]
    enum CodingKeys: String, CodingKey {
      case mode, ready, plan, workers
      case tensorParallel = "tensor_parallel"
      case pipelineParallel = "pipeline_parallel"
    }
  }

  func report(ready: Bool, workers: [WorkerReport]) -> Report {
    Report(
      mode: plan == nil ? "single-process" : "local-workers", ready: ready,
      tensorParallel: plan?.tensorParallel ?? 1, pipelineParallel: plan?.pipelineParallel ?? 1,
      plan: plan?.description ?? "one process holds the whole model", workers: workers)
  }
}
