public import ContextCache
public import Core
import Foundation
import Synchronization

/// Runs the engine: one thread owns the engine, the scheduler and every sequence's sampler,
/// detokenizer and stop matcher; HTTP handlers hand it requests and read their events from
/// each request's sink (a `RequestLog`). Each iteration is schedule → dispatch (one engine
/// step for every running sequence) → update (sample, detokenize, match stops, emit events,
/// tell the scheduler).
public final class ServingLoop: Sendable {
  /// A validated, tokenized request.
  public struct Submission: Sendable {
    public var id: UInt64
    public var prompt: [TokenID]
    public var request: GenerationRequest
    /// Most tokens to generate per choice.
    public var maxTokens: Int
    public var deadline: Double
    public var events: any GenerationSink
    /// Whether to send a `.checkpoint` after each sampled token (for durable request state).
    public var checkpoints = false
    /// Choices taken over part-way (by index): each carries on from its progress, its
    /// generated tokens computed again after the prompt (through the fragment cache for the
    /// prompt's blocks).
    public var resumed: [Int: ResumePoint] = [:]
    /// The ids of the prompt's whole blocks (before its last token), for the fragment cache.
    public var fragmentIDs: [FragmentID] = []
    /// How many of those blocks, from the first, the cache promises: loaded, not computed.
    public var cachedBlockCount = 0
    /// Their parts, when the router found them itself (one process); workers fetch their own.
    public var cachedBlocks: [[FragmentPart.Address: FragmentPart]] = []
  }

  /// Figures for `/metrics` and `/ready`, updated every step.
  public struct Snapshot: Sendable {
    public var running = 0
    public var queued = 0
    public var kvBlocksUsed = 0
    public var kvBlocksTotal = 0
    public var preemptions = 0
    public var steps = 0
    public var largestBatch = 0
    public var promptTokens = 0
    public var generatedTokens = 0
    public var workersUp = 0
    public var workers: [WorkerReport] = []
    public var engineFailed: String?
  }

  private struct Inbox {
    var submissions: [Submission] = []
    var cancellations: [UInt64] = []
    var stopping = false
  }

  private let inbox = Mutex(Inbox())
  private let state = Mutex(Snapshot())
  private let wake = DispatchSemaphore(value: 0)
  private let log = Log("serving")

  public init() {}

  public var snapshot: Snapshot { state.withLock { $0 } }

  /// Hands a request to the loop; its events arrive on `submission.events`.
  public func submit(_ submission: Submission) {
    inbox.withLock { $0.submissions.append(submission) }
    wake.signal()
  }

  /// Cancels a request (a client went away); its KV blocks are freed with the next step.
  public func cancel(_ id: UInt64) {
    inbox.withLock { $0.cancellations.append(id) }
    wake.signal()
  }

  public func stop() {
    inbox.withLock { $0.stopping = true }
    wake.signal()
  }

  /// Runs on the calling thread until `stop()`; the engine and vocabulary are used only here.
  /// With `fragments`, prompts' computed blocks are kept in the context-fragment cache.
  public func run(
    engine: some BatchEngine, vocabulary: Vocabulary, limits: Scheduler.Limits,
    fragments: FragmentCache? = nil
  ) {
    var worker = LoopState(
      engine: engine, vocabulary: vocabulary, limits: limits, fragments: fragments, log: log)
    state.withLock { $0.kvBlocksTotal = limits.totalBlocks }
    while true {
      let (submissions, cancellations, stopping) = inbox.withLock { inbox in
        defer {
          inbox.submissions = []
          inbox.cancellations = []
        }
        return (inbox.submissions, inbox.cancellations, inbox.stopping)
      }
      if stopping {
        for submission in submissions { submission.events.handBack() }  // never admitted
        worker.handBackAll()
        return
      }
      for submission in submissions { worker.admit(submission) }
      for id in cancellations { worker.cancel(id) }
      worker.expire(now: Clock.now())
      if worker.scheduler.isIdle {
        state.withLock { worker.update(&$0) }
        _ = wake.wait(timeout: .now() + .milliseconds(500))
        continue
      }
      worker.step()
      state.withLock { worker.update(&$0) }
    }
  }
}

/// The loop thread's state: never touched by another thread.
private struct LoopState<Engine: BatchEngine> {
  /// One choice of a request. A class, so that sampling mutates the sampler's scratch (several
  /// vocabulary-sized buffers) in place: a struct copied out of the dictionary still shares
  /// them with it, and mutating the copy would copy them.
  final class Choice {
    let request: UInt64
    let index: Int
    var sampler: Sampler
    var history: [TokenID]
    var detokenizer: StreamingDetokenizer
    var stops: StopMatcher
    var generated = 0
    var finished = false
    /// Whether the prompt's blocks went to the fragment cache.
    var keptBlocks = false
    /// Cached blocks the sequence started with.
    var loadedBlocks = 0
    /// UTF-8 bytes the detokenizer has produced, and those sent (the stop matcher holds some
    /// back, and never sends a stop sequence).
    var produced = 0
    var sent = 0
    /// Log-probability entries waiting for their token's text to be sent, with the offset in
    /// the produced text where that text starts.
    var pendingLogprobs: [ChoiceProgress.PendingLogprob] = []

    /// Passes detokenized text through the stop matcher; returns what may be sent now.
    func sendable(_ piece: String) -> String {
      produced += piece.utf8.count
      let text = stops.append(piece)
      sent += text.utf8.count
      return text
    }

    /// The stop matcher's held-back text, at the end (nothing if a stop sequence matched).
    func finishText() -> String {
      let text = stops.finish()
      sent += text.utf8.count
      return text
    }

    /// Holds a token's entry until its text goes out (call before its text is added).
    func queue(_ entry: TokenLogprob) {
      pendingLogprobs.append(.init(entry: entry, start: produced))
    }

    /// The entries whose token's text has begun to go out; when `finishing`, also the rest,
    /// unless a stop sequence matched: the tokens of a stop sequence are never reported.
    func releasedLogprobs(finishing: Bool) -> [TokenLogprob] {
      let keepAll = finishing && !stops.stopped
      let ready = pendingLogprobs.prefix { keepAll || $0.start < sent }
      pendingLogprobs.removeFirst(ready.count)
      if finishing { pendingLogprobs.removeAll() }
      return ready.map(\.entry)
    }

    /// The state to carry on from elsewhere after `token`.
    func progress(token: TokenID, finishReason: FinishReason?) -> ChoiceProgress {
      ChoiceProgress(
        index: index, generated: generated, token: token,
        detokenizerBytes: detokenizer.pendingBytes, stopHeld: stops.held, stopped: stops.stopped,
        produced: produced, sent: sent,
        pendingLogprobs: pendingLogprobs,
        finishReason: finishReason)
    }

    /// Takes up a choice where `progress` left it (its history already holds its tokens).
    func carryOn(from progress: ChoiceProgress, stops: [String]) {
      generated = progress.generated
      detokenizer = StreamingDetokenizer(
        vocabulary: detokenizer.vocabulary, pending: progress.detokenizerBytes)
      self.stops = StopMatcher(stops: stops, held: progress.stopHeld, stopped: progress.stopped)
      produced = progress.produced
      sent = progress.sent
      pendingLogprobs = progress.pendingLogprobs
      keptBlocks = true  // the prompt's blocks were kept by whoever computed them first
    }

    init(
      request: UInt64, index: Int, sampler: Sampler, history: [TokenID],
      detokenizer: StreamingDetokenizer, stops: StopMatcher
    ) {
      self.request = request
      self.index = index
      self.sampler = sampler
      self.history = history
      self.detokenizer = detokenizer
      self.stops = stops
    }
  }

  struct Live {
    let submission: ServingLoop.Submission
    var sequences: [Int]
    var unfinished: Int
    var completionTokens = 0
  }

  let engine: Engine
  let vocabulary: Vocabulary
  let fragments: FragmentCache?
  let log: Log
  var scheduler: Scheduler
  var requests: [UInt64: Live] = [:]
  var choices: [Int: Choice] = [:]
  var nextSequence = 1
  var counters = ServingLoop.Snapshot()
  var nextWorkerReport = 0.0

  init(
    engine: Engine, vocabulary: Vocabulary, limits: Scheduler.Limits, fragments: FragmentCache?,
    log: Log
  ) {
    self.engine = engine
    self.vocabulary = vocabulary
    self.fragments = fragments
    self.log = log
    scheduler = Scheduler(limits: limits)
  }

  mutating func admit(_ submission: ServingLoop.Submission) {
    var sequences: [Int] = []
    var completionTokens = 0
    for index in 0..<submission.request.choices {
      let resumed = submission.resumed[index]
      completionTokens += resumed?.progress.generated ?? 0
      if resumed?.progress.finishReason != nil { continue }  // ended before the takeover
      let id = nextSequence
      nextSequence += 1
      let history = submission.prompt + (resumed?.tokens ?? [])
      let outcome = scheduler.submit(
        id: id, prompt: history,
        maxNewTokens: max(1, submission.maxTokens - (resumed?.progress.generated ?? 0)),
        cachedTokens: submission.cachedBlockCount * scheduler.limits.blockSize)
      switch outcome {
      case .queued:
        sequences.append(id)
        let choice = Choice(
          request: submission.id, index: index,
          sampler: Sampler(parameters: submission.request.sampling), history: history,
          detokenizer: StreamingDetokenizer(vocabulary: vocabulary),
          stops: StopMatcher(stops: submission.request.stop))
        if let resumed { choice.carryOn(from: resumed.progress, stops: submission.request.stop) }
        choices[id] = choice
      case .queueFull, .tooLarge, .emptyPrompt:
        for sequence in sequences {
          scheduler.cancel(id: sequence)
          choices[sequence] = nil
        }
        let error: APIError =
          switch outcome {
          case .tooLarge(let needed, let total):
            .invalid(
              "The prompt and max_tokens need \(needed) KV blocks; the server has \(total)",
              param: "max_tokens", code: "context_length_exceeded")
          case .emptyPrompt: .invalid("The prompt is empty", param: "prompt")
          default: .queueFull
          }
        submission.events.send(.failed(error))
        submission.events.end()
        return
      }
    }
    let live = Live(
      submission: submission, sequences: sequences, unfinished: sequences.count,
      completionTokens: completionTokens)
    counters.promptTokens += submission.prompt.count
    guard !sequences.isEmpty else { return finish(live) }  // every choice had ended
    requests[submission.id] = live
  }

  /// Every choice ended: the usage, and the end of the events.
  func finish(_ live: Live) {
    live.submission.events.send(
      .done(promptTokens: live.submission.prompt.count, completionTokens: live.completionTokens))
    live.submission.events.end()
  }

  mutating func cancel(_ id: UInt64) {
    guard let live = requests.removeValue(forKey: id) else { return }
    for sequence in live.sequences {
      scheduler.cancel(id: sequence)
      choices[sequence] = nil
    }
    live.submission.events.end()
  }

  mutating func expire(now: Double) {
    for (id, live) in requests where live.submission.deadline < now {
      live.submission.events.send(.failed(.timeout))
      cancel(id)
    }
  }

  /// The loop stops: every request goes back (durable ones are taken over later; the rest
  /// fail).
  mutating func handBackAll() {
    for (id, live) in requests {
      live.submission.events.handBack()
      for sequence in live.sequences { choices[sequence] = nil }
      requests[id] = nil
    }
  }

  mutating func failAll(_ error: APIError) {
    for (id, live) in requests {
      live.submission.events.send(.failed(error))
      cancel(id)
    }
  }

  mutating func step() {
    var plan = scheduler.nextStep()
    // Free what the plan releases before loading prefixes into the room it counted on.
    engine.release(sequences: plan.releases)
    loadCachedPrefixes(&plan)
    let entries = plan.slices.map {
      InferenceEngine.Entry(
        sequence: $0.sequence, tokens: $0.tokens,
        logitRows: $0.wantsLogits ? [$0.tokens.count - 1] : [])
    }
    let logits: UnsafeBufferPointer<Float>
    do {
      logits = try engine.run(entries)
      engine.rest()
      keepPromptBlocks(plan)
    } catch {
      log.error("step failed: \(error)")
      counters.engineFailed = "\(error)"
      failAll(.unavailable("the model could not run a step: \(error)"))
      // The engine's caches may now disagree with the scheduler's: start afresh.
      scheduler = Scheduler(limits: scheduler.limits)
      return
    }
    counters.engineFailed = nil
    counters.steps += 1
    counters.largestBatch = max(counters.largestBatch, plan.slices.count)
    let vocabularySize = engine.config.vocabularySize
    var sampled: [Int: TokenID] = [:]
    var finished: Set<Int> = []
    var row = 0
    for slice in plan.slices where slice.wantsLogits {
      defer { row += 1 }
      guard let choice = choices[slice.sequence], !choice.finished, let base = logits.baseAddress
      else { continue }
      let rowLogits = UnsafeBufferPointer(start: base + row * vocabularySize, count: vocabularySize)
      let token = choice.sampler.sample(
        logits: rowLogits, history: choice.history, choiceIndex: choice.index,
        position: choice.history.count)
      sampled[slice.sequence] = token
      choice.history.append(token)
      let request = choice.request
      guard var live = requests[request] else { continue }
      if let top = live.submission.request.logprobs {
        choice.queue(logprob(token, logits: rowLogits, top: top))
      }
      var text = ""
      var reason: FinishReason?
      if vocabulary.endOfGenerationIDs.contains(token) {
        reason = .stop
      } else {
        choice.generated += 1
        live.completionTokens += 1
        counters.generatedTokens += 1
        text = choice.sendable(choice.detokenizer.append(token))
        if choice.stops.stopped {
          reason = .stop
        } else if choice.generated >= live.submission.maxTokens {
          reason = .length
        }
      }
      if reason != nil, !choice.stops.stopped {
        text += choice.sendable(choice.detokenizer.finish()) + choice.finishText()
      }
      let logprobs = choice.releasedLogprobs(finishing: reason != nil)
      if !text.isEmpty || !logprobs.isEmpty {
        live.submission.events.send(.delta(choice: choice.index, text: text, logprobs: logprobs))
      }
      if let reason {
        choice.finished = true
        finished.insert(slice.sequence)
        live.unfinished -= 1
        live.submission.events.send(
          .finished(choice: choice.index, reason: reason, completionTokens: choice.generated))
      }
      if live.submission.checkpoints {
        live.submission.events.send(
          .checkpoint(choice.progress(token: token, finishReason: reason)))
      }
      requests[request] = live
      if live.unfinished == 0 {
        finish(live)
        requests[request] = nil
        for sequence in live.sequences { choices[sequence] = nil }
      }
    }
    scheduler.complete(plan, sampled: sampled, finished: finished)
    counters.preemptions = scheduler.preemptionCount
  }

  /// Loads the cached prefixes of sequences the plan admits, before the step runs. When fewer
  /// blocks load than were promised (a part evicted or damaged since the lookup), the
  /// sequence starts computing at the first missing block: its slice leaves this step and the
  /// scheduler plans the rest of its prompt from there.
  mutating func loadCachedPrefixes(_ plan: inout Scheduler.StepPlan) {
    let blockSize = scheduler.limits.blockSize
    for slice in plan.slices where slice.loadsCachedTokens > 0 {
      guard let choice = choices[slice.sequence], let live = requests[choice.request] else {
        continue
      }
      let promised = slice.loadsCachedTokens / blockSize
      let ids = Array(live.submission.fragmentIDs.prefix(promised))
      let loaded: Int
      do {
        loaded = try engine.loadCachedPrefix(
          sequence: slice.sequence, ids: ids, blocks: live.submission.cachedBlocks,
          cache: fragments)
      } catch {
        log.error("request \(choice.request): the cached prefix could not be loaded: \(error)")
        live.submission.events.send(
          .failed(.unavailable("the cached prompt prefix could not be loaded")))
        cancel(choice.request)
        plan.slices.removeAll { live.sequences.contains($0.sequence) }  // every choice
        continue
      }
      choice.loadedBlocks = loaded
      fragments?.stats.hitTokens.add(loaded * blockSize)
      if loaded < promised {
        fragments?.stats.partialMisses.add(1)
        scheduler.reviseCachedPrefix(id: slice.sequence, tokens: loaded * blockSize)
        plan.slices.removeAll { $0.sequence == slice.sequence }
      }
    }
  }

  /// After a prompt's last chunk ran (before sampling, so a request that ends at once counts
  /// too), keeps its blocks that were computed, not loaded, in the fragment cache — from the
  /// first choice of each request.
  func keepPromptBlocks(_ plan: Scheduler.StepPlan) {
    guard let fragments else { return }
    for slice in plan.slices where slice.wantsLogits {
      guard let choice = choices[slice.sequence], choice.index == 0, !choice.keptBlocks,
        let live = requests[choice.request]
      else { continue }
      choice.keptBlocks = true
      let ids = live.submission.fragmentIDs
      let first = choice.loadedBlocks
      guard first < ids.count else { continue }
      engine.keepBlocks(
        sequence: slice.sequence, first: first, ids: Array(ids[first...]), cache: fragments)
    }
  }

  func logprob(_ token: TokenID, logits: UnsafeBufferPointer<Float>, top: Int) -> TokenLogprob {
    func piece(_ id: TokenID) -> String {
      var detokenizer = StreamingDetokenizer(vocabulary: vocabulary, includeSpecial: true)
      return detokenizer.append(id) + detokenizer.finish()
    }
    let alternatives = top > 0 ? LogProbabilities.top(top, logits: logits) : []
    return TokenLogprob(
      token: token, text: piece(token), logprob: LogProbabilities.of(token, logits: logits),
      top: alternatives.map { .init(token: $0.id, text: piece($0.id), logprob: $0.logprob) })
  }

  mutating func update(_ snapshot: inout ServingLoop.Snapshot) {
    counters.running = scheduler.runningCount
    counters.queued = scheduler.queuedCount
    counters.kvBlocksUsed = scheduler.blocksUsed
    counters.kvBlocksTotal = scheduler.limits.totalBlocks
    // The workers' reports (strings and all) at most twice a second, not every step.
    let now = Clock.now()
    if now >= nextWorkerReport {
      counters.workers = engine.workerReports(now: now)
      counters.workersUp = counters.workers.filter { $0.ready && $0.stage != nil }.count
      nextWorkerReport = now + 0.5
    }
    snapshot = counters
  }
}
