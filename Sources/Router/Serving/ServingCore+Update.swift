import Core

/// The third phase of a step: what the engine's outcome means for each request.
extension ServingCore {
  mutating func update(_ execution: Execution) {
    for (request, failure) in execution.unloadable {
      Log("serving").error("request \(request): the cached prefix could not be loaded: \(failure)")
      fail(request, .prefixUnavailable)
    }
    switch execution.outcome {
    case .success(let logits): apply(logits, of: execution.plan)
    case .failure(let failure): recover(from: failure, in: execution.plan)
    }
    counters.preemptions = scheduler.preemptionCount
  }

  /// Samples a token for every slice that wanted logits, sends each choice's events, and
  /// completes the plan in the scheduler.
  private mutating func apply(_ logits: UnsafeBufferPointer<Float>, of plan: Scheduler.StepPlan) {
    // Only a step that ran something shows the engine works (one that only released does
    // not: /ready keeps saying why the last real step failed).
    if !plan.slices.isEmpty {
      failuresInARow = 0
      counters.engineFailed = nil
    }
    counters.steps += 1
    counters.largestBatch = max(counters.largestBatch, plan.slices.count)
    let vocabularySize = engine.vocabularySize
    var sampled: [Int: TokenID] = [:]
    var finished: Set<Int> = []
    var row = 0
    for slice in plan.slices where slice.wantsLogits {
      defer { row += 1 }
      guard let (request, processor) = outputs[slice.sequence], !processor.finished,
        var live = requests[request], let base = logits.baseAddress,
        let history = scheduler.tokens(of: slice.sequence)
      else { continue }
      let generatedBefore = processor.generated
      let output = processor.accept(
        logits: UnsafeBufferPointer(start: base + row * vocabularySize, count: vocabularySize),
        history: history)
      sampled[slice.sequence] = output.token
      live.completionTokens += processor.generated - generatedBefore
      counters.generatedTokens += processor.generated - generatedBefore
      let events = live.submission.events
      if !output.text.isEmpty || !output.logprobs.isEmpty {
        events.send(.delta(choice: processor.index, text: output.text, logprobs: output.logprobs))
      }
      if let reason = output.finishReason {
        finished.insert(slice.sequence)
        live.unfinished -= 1
        events.send(
          .finished(choice: processor.index, reason: reason, completionTokens: processor.generated))
      }
      if live.submission.checkpoints {
        events.send(.checkpoint(processor.progress(after: output)))
      }
      requests[request] = live
      if live.unfinished == 0, let ended = remove(request) { finish(ended) }
    }
    scheduler.complete(plan, sampled: sampled, finished: finished)
  }

  /// A failed step: every running sequence goes back to the queue to be computed again
  /// (their blocks are released with the next step). A lost worker costs only that; a broken
  /// engine — or a worker still lost after `maxRecoveries` tries — also fails the requests
  /// of the step.
  private mutating func recover(from failure: EngineFailure, in plan: Scheduler.StepPlan) {
    failuresInARow += 1
    let recoverable = failure.isRecoverable && failuresInARow <= Self.maxRecoveries
    Log("serving").error(
      "step failed: \(failure); "
        + (recoverable ? "its sequences are computed again" : "its requests fail"))
    replay()
    guard !recoverable else { return }
    counters.engineFailed = "\(failure)"
    let failing = Set(plan.slices.compactMap { outputs[$0.sequence]?.request })
    for request in failing { fail(request, .engine(failure)) }
  }
}
