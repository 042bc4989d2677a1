import ContextCache
import Core

/// The serving loop's state and its step, owned by the loop's thread alone. A step is three
/// phases, as in vLLM's `EngineCore.step()`:
/// - `schedule`: the scheduler (pure) plans who runs and how much;
/// - `execute`: the plan runs on the engine, with its releases and cached-prefix loads, and
///   comes back as an explicit outcome (logits, or a typed failure);
/// - `update`: each choice's output processor samples and turns tokens into text, the
///   requests get their events, and the scheduler learns what happened.
/// A failed step sends every running sequence back to the queue through the scheduler, so
/// each KV block stays accounted for; a lost worker costs a recomputation, a broken engine
/// fails the requests of the step.
struct ServingCore<Engine: BatchEngine> {
  /// A request being served: its submission, its choices' sequences and processors.
  struct Live {
    let submission: Submission
    /// Sequence by choice index (choices that ended before a takeover have none).
    var sequences: [Int: Int]
    var unfinished: Int
    var completionTokens: Int
  }

  /// What a step's `execute` gives `update`.
  struct Execution {
    /// The plan as it ran (slices whose cached prefix fell short, or whose request failed to
    /// load, left it).
    var plan: Scheduler.StepPlan
    var outcome: Result<UnsafeBufferPointer<Float>, EngineFailure>
    /// Requests whose cached prefix could not be loaded at all.
    var unloadable: [UInt64: EngineFailure] = [:]
  }

  let engine: Engine
  let vocabulary: Vocabulary
  var scheduler: Scheduler
  var prefixes: PrefixCacheKeeper
  var requests: [UInt64: Live] = [:]
  /// Each sequence's request and output processor.
  var outputs: [Int: (request: UInt64, processor: OutputProcessor)] = [:]
  var nextSequence = 1
  var counters = ServingLoop.Snapshot()
  /// Recoverable failures in a row; past `maxRecoveries` they count as broken (a step that
  /// makes its workers die every time must not be retried for ever).
  var failuresInARow = 0
  static var maxRecoveries: Int { 3 }
  /// The engine's state generation last seen (see `EngineReadiness`).
  var generation: UInt64?
  /// Since when the engine cannot run a step, and how long requests wait for it.
  var recoveringSince: Double?
  let recoveryTimeout: Double

  init(
    engine: Engine, vocabulary: Vocabulary, limits: Scheduler.Limits, fragments: FragmentCache?,
    recoveryTimeout: Double = 60
  ) {
    self.engine = engine
    self.vocabulary = vocabulary
    scheduler = Scheduler(limits: limits)
    prefixes = PrefixCacheKeeper(fragments: fragments, blockSize: limits.blockSize)
    self.recoveryTimeout = recoveryTimeout
  }

  var isIdle: Bool { scheduler.isIdle }

  // MARK: Between steps

  /// Keeps the engine going and says whether a step can run. When the engine lost every
  /// sequence's state (a new plan), the running sequences are computed again — each from its
  /// prompt (its whole blocks through the fragment cache) and generated tokens, with its
  /// sampler where it was, so its stream goes on exactly where it paused. When no step can
  /// run for `recoveryTimeout`, the requests fail.
  mutating func maintain(now: Double) -> Bool {
    switch engine.maintain() {
    case .ready(let current):
      if let generation, generation != current { replay() }
      generation = current
      recoveringSince = nil
      counters.recovering = nil
      return true
    case .recovering(let reason):
      let since = recoveringSince ?? now
      recoveringSince = since
      counters.recovering = "no plan for \(Int(now - since)) s: \(reason)"
      if now - since >= recoveryTimeout, !requests.isEmpty {
        let seconds =
          recoveryTimeout == recoveryTimeout.rounded()
          ? String(Int(recoveryTimeout)) : String(recoveryTimeout)
        Log("serving").error(
          "no plan for \(seconds) s (\(reason)): \(requests.count) requests fail")
        for request in Array(requests.keys) {
          fail(request, .noPlan("none for \(seconds) s: \(reason)"))
        }
      }
      return false
    }
  }

  /// Sends every running sequence back to be computed again on the engine's new state.
  mutating func replay() {
    let blockSize = scheduler.limits.blockSize
    var cached: [Int: Int] = [:]
    for sequence in scheduler.running.map(\.id) {
      guard let request = outputs[sequence]?.request, let live = requests[request],
        prefixes.wasKept(request)
      else { continue }
      cached[sequence] = live.submission.prefix.ids.count * blockSize
    }
    let replayed = scheduler.requeueRunning { cached[$0] ?? 0 }
    guard !replayed.isEmpty else { return }
    counters.replayedSequences += replayed.count
  }

  /// One step: schedule → execute → update.
  mutating func step() {
    let plan = schedule()
    let execution = execute(plan)
    update(execution)
  }

  // MARK: Schedule

  mutating func schedule() -> Scheduler.StepPlan { scheduler.nextStep() }

  // MARK: Execute

  /// Runs `plan` on the engine: frees what it releases (before loading prefixes into the
  /// room it counted on), loads cached prefixes, runs the step and keeps the prompt blocks
  /// computed in it.
  mutating func execute(_ plan: Scheduler.StepPlan) -> Execution {
    engine.release(sequences: plan.releases)
    var execution = Execution(
      plan: plan, outcome: .success(UnsafeBufferPointer(start: nil, count: 0)))
    loadCachedPrefixes(&execution)
    let entries = execution.plan.slices.map {
      InferenceEngine.Entry(
        sequence: $0.sequence, tokens: $0.tokens,
        logitRows: $0.wantsLogits ? [$0.tokens.count - 1] : [],
        argmaxOnly: outputs[$0.sequence]?.processor.needsOnlyArgmax ?? false)
    }
    guard !entries.isEmpty, case .success = execution.outcome else { return execution }
    do {
      execution.outcome = .success(try engine.runStep(entries))
      engine.rest()
      keepPromptBlocks(execution.plan)
    } catch {
      execution.outcome = .failure(error)
    }
    return execution
  }

  /// Loads the cached prefixes of sequences the plan admits. When fewer blocks load than were
  /// promised, the sequence starts computing at the first missing block: its slice leaves
  /// this step and the scheduler plans the rest of its prompt from there.
  private mutating func loadCachedPrefixes(_ execution: inout Execution) {
    let blockSize = scheduler.limits.blockSize
    for slice in execution.plan.slices where slice.loadsCachedTokens > 0 {
      guard let request = outputs[slice.sequence]?.request, let live = requests[request],
        execution.unloadable[request] == nil
      else { continue }
      let promised = slice.loadsCachedTokens / blockSize
      do {
        let loaded = try prefixes.load(
          live.submission.prefix, promised: promised, sequence: slice.sequence, on: engine)
        if loaded < promised {
          scheduler.reviseCachedPrefix(id: slice.sequence, tokens: loaded * blockSize)
          execution.plan.slices.removeAll { $0.sequence == slice.sequence }
        }
      } catch  where error.isRecoverable {
        execution.outcome = .failure(error)  // a lost worker: the whole step is lost
        return
      } catch {
        execution.unloadable[request] = error
        let sequences = Set(live.sequences.values)
        execution.plan.slices.removeAll { sequences.contains($0.sequence) }  // every choice
      }
    }
  }

  /// After a prompt's chunk ran (before sampling, so a request that ends at once counts
  /// too), the blocks it completed go to the fragment cache, from the request's first choice.
  private mutating func keepPromptBlocks(_ plan: Scheduler.StepPlan) {
    for slice in plan.slices {
      guard let (request, processor) = outputs[slice.sequence], processor.index == 0,
        let live = requests[request],
        let sequence = scheduler.running.first(where: { $0.id == slice.sequence }),
        sequence.computed < sequence.promptCount
      else { continue }
      // The scheduler counts the slice as computed once the step is reported.
      prefixes.keep(
        request: request, sequence: slice.sequence, prefix: live.submission.prefix,
        computed: sequence.computed + slice.tokens.count, promptDone: slice.wantsLogits,
        on: engine)
    }
  }
}
