public import Core

/// Continuous batching as a pure state machine: no I/O, no model, no clock. The serving loop
/// asks it for the next step, runs the step on an engine, samples, and reports back; the
/// scheduler decides who joins, who runs, how much of a prompt goes into a step, and who is
/// preempted when the KV cache is full.
///
/// The rules, each step:
/// 1. Sequences that finished or were cancelled since the last step are released.
/// 2. Every running sequence in the decode phase feeds its one pending token (oldest first).
///    A sequence that needs a new KV block when none is free preempts the most recently
///    admitted running sequence (recomputation: its blocks are freed and it goes back to the
///    front of the queue with its prompt and generated tokens, to be prefilled again —
///    Tessera's determinism contract makes the replay exact).
/// 3. Sequences still prefilling get chunks of their prompt from the step's token budget.
/// 4. Waiting requests are admitted, first come first served, while a running slot is free,
///    budget remains and the free blocks cover the whole prompt plus one block per running
///    sequence; never in a step that preempted. A prompt prefix found in the context-fragment
///    cache is loaded at admission (its first slice says how many tokens) and not computed.
///
/// The scheduler's block count mirrors the engine's KV cache (same block size and count), so
/// a step it plans never runs out of blocks.
public struct Scheduler: Sendable {
  public let limits: Limits
  public private(set) var queue: [Sequence] = []
  public private(set) var running: [Sequence] = []
  private var toRelease: [Int] = []
  private var admissions = 0
  public private(set) var preemptionCount = 0

  public init(limits: Limits) { self.limits = limits }

  public var queuedCount: Int { queue.count }
  public var runningCount: Int { running.count }
  public var blocksUsed: Int { running.reduce(0) { $0 + blocks(for: $1.computed) } }
  public var freeBlocks: Int { limits.totalBlocks - blocksUsed }

  func blocks(for tokens: Int) -> Int { (tokens + limits.blockSize - 1) / limits.blockSize }

  /// Queues a sequence (`id` unique among live ones) that may generate up to `maxNewTokens`;
  /// its first `cachedTokens` prompt tokens (whole blocks, fewer than the prompt) are loaded
  /// from the fragment cache at admission rather than computed.
  public mutating func submit(
    id: Int, prompt: [TokenID], maxNewTokens: Int, cachedTokens: Int = 0
  ) -> SubmitOutcome {
    guard !prompt.isEmpty else { return .emptyPrompt }
    let needed = blocks(for: prompt.count + maxNewTokens)
    guard needed <= limits.totalBlocks else {
      return .tooLarge(blocksNeeded: needed, totalBlocks: limits.totalBlocks)
    }
    guard queue.count < limits.maxQueued else { return .queueFull }
    var sequence = Sequence(
      id: id, tokens: prompt, promptCount: prompt.count, maxNewTokens: maxNewTokens)
    if cachedTokens > 0, cachedTokens < prompt.count, cachedTokens % limits.blockSize == 0 {
      sequence.cachedTokens = cachedTokens
    }
    queue.append(sequence)
    return .queued
  }

  /// Removes a sequence wherever it is; a running one's blocks are released with the next
  /// step. Returns false for an unknown id.
  @discardableResult
  public mutating func cancel(id: Int) -> Bool {
    if let index = queue.firstIndex(where: { $0.id == id }) {
      queue.remove(at: index)
      return true
    }
    if let index = running.firstIndex(where: { $0.id == id }) {
      running.remove(at: index)
      toRelease.append(id)
      return true
    }
    return false
  }

  /// Plans the next step.
  public mutating func nextStep() -> StepPlan {
    var plan = StepPlan()
    plan.releases = toRelease
    toRelease = []
    var budget = limits.stepTokens
    var free = freeBlocks

    // Decode (one pending token): oldest first; preempt the newest when blocks run out.
    var index = 0
    while index < running.count, budget > 0 {
      let sequence = running[index]
      guard sequence.pending == 1 else {
        index += 1
        continue
      }
      let extra = blocks(for: sequence.computed + 1) - blocks(for: sequence.computed)
      while extra > free, let victim = newestRunning(otherThan: sequence.id) {
        free += blocks(for: running[victim].computed)
        preempt(at: victim, into: &plan)
        if victim < index { index -= 1 }
      }
      if extra <= free {
        free -= extra
        budget -= 1
        plan.slices.append(
          Slice(
            sequence: sequence.id, tokens: [sequence.tokens[sequence.computed]],
            wantsLogits: true))
      }
      index += 1
    }

    // Prefill (several pending tokens): chunks from what is left of the budget.
    for sequence in running where sequence.pending > 1 && budget > 0 {
      let chunk = min(sequence.pending, budget)
      let extra = blocks(for: sequence.computed + chunk) - blocks(for: sequence.computed)
      guard extra <= free else { continue }
      free -= extra
      budget -= chunk
      plan.slices.append(
        Slice(
          sequence: sequence.id,
          tokens: Array(sequence.tokens[sequence.computed..<(sequence.computed + chunk)]),
          wantsLogits: chunk == sequence.pending))
    }

    // Admission: first come first served, when the whole prompt's blocks fit and leave one
    // block for each running sequence to grow into — and not in a step that had to preempt,
    // or the victim would come straight back and be preempted again (thrashing).
    while plan.preempted.isEmpty, running.count < limits.maxRunning, budget > 0,
      let next = queue.first
    {
      let promptBlocks = blocks(for: next.tokens.count)
      guard promptBlocks + running.count <= free else { break }
      var admitted = queue.removeFirst()
      admissions += 1
      admitted.admission = admissions
      // A cached prefix is loaded, not computed: it takes blocks but no budget.
      let cached = admitted.cachedTokens
      admitted.computed = cached
      let chunk = min(admitted.tokens.count - cached, budget)
      free -= blocks(for: cached + chunk)
      budget -= chunk
      running.append(admitted)
      var slice = Slice(
        sequence: admitted.id, tokens: Array(admitted.tokens[cached..<(cached + chunk)]),
        wantsLogits: cached + chunk == admitted.tokens.count)
      slice.loadsCachedTokens = cached
      plan.slices.append(slice)
    }
    return plan
  }

  /// Reports a step's outcome: every slice of `plan` was computed; `sampled` holds the token
  /// drawn for each slice that wanted logits, and `finished` the sequences that are done
  /// (end of generation or a stop sequence; the token limit the scheduler checks itself).
  /// A slice that wanted logits but got no token finishes its sequence.
  public mutating func complete(_ plan: StepPlan, sampled: [Int: TokenID], finished: Set<Int>) {
    for slice in plan.slices {
      guard let index = running.firstIndex(where: { $0.id == slice.sequence }) else { continue }
      running[index].computed += slice.tokens.count
      if slice.wantsLogits, let token = sampled[slice.sequence] {
        running[index].append(token)
      }
      let sequence = running[index]
      if finished.contains(sequence.id) || sequence.generatedCount >= sequence.maxNewTokens
        || sequence.pending == 0
      {
        running.remove(at: index)
        toRelease.append(sequence.id)
      }
    }
  }

  /// A sequence just admitted with a cached prefix got only `tokens` of it: it continues from
  /// there (the rest of its prompt is planned from the next step on).
  public mutating func reviseCachedPrefix(id: Int, tokens: Int) {
    guard let index = running.firstIndex(where: { $0.id == id }),
      running[index].computed == running[index].cachedTokens, tokens < running[index].computed
    else { return }
    running[index].computed = tokens
    running[index].cachedTokens = tokens
  }

  /// The tokens of a running sequence: its prompt, then what it generated. The scheduler is
  /// the one place a sequence's history is kept.
  public func tokens(of id: Int) -> [TokenID]? {
    running.first { $0.id == id }?.tokens
  }

  /// A step failed and the engine's caches can no longer be trusted: every running sequence
  /// goes back to the front of the queue (oldest first) to be computed again from its prompt
  /// and generated tokens, and its blocks are released with the next step — nothing is lost
  /// and no block is left held. `cachedTokens` says how many of a sequence's first tokens
  /// the fragment cache holds (whole blocks; fewer than its tokens are kept). Returns the
  /// sequences sent back.
  @discardableResult
  public mutating func requeueRunning(cachedTokens: (Int) -> Int = { _ in 0 }) -> [Int] {
    let sent = running.sorted { $0.admission < $1.admission }
    running = []
    for var sequence in sent.reversed() {
      let cached = min(cachedTokens(sequence.id), sequence.tokens.count - 1)
      sequence.computed = 0
      sequence.cachedTokens = max(0, cached / limits.blockSize * limits.blockSize)
      toRelease.append(sequence.id)
      queue.insert(sequence, at: 0)
    }
    return sent.map(\.id)
  }

  /// Whether nothing is queued, running or waiting to be released.
  public var isIdle: Bool { queue.isEmpty && running.isEmpty && toRelease.isEmpty }

  private func newestRunning(otherThan id: Int) -> Int? {
    running.indices.filter { running[$0].id != id }.max {
      running[$0].admission < running[$1].admission
    }
  }

  private mutating func preempt(at index: Int, into plan: inout StepPlan) {
    var victim = running.remove(at: index)
    victim.computed = 0  // recomputed from its prompt and generated tokens when readmitted
    victim.cachedTokens = 0
    plan.releases.append(victim.id)
    plan.preempted.append(victim.id)
    plan.slices.removeAll { $0.sequence == victim.id }
    queue.insert(victim, at: 0)
    preemptionCount += 1
  }
}
