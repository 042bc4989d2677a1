import Core

/// A request's way in and out of the loop: admission (one sequence per choice), cancellation,
/// deadlines, the end, and the hand-back when the router stops.
extension ServingCore {
  mutating func admit(_ submission: Submission) {
    let spec = submission.spec
    var sequences: [Int: Int] = [:]
    var completionTokens = 0
    for index in 0..<spec.choices {
      let resumed = submission.resumed[index]
      completionTokens += resumed?.progress.generated ?? 0
      if resumed?.progress.finishReason != nil { continue }  // ended before the takeover
      let id = nextSequence
      nextSequence += 1
      let outcome = scheduler.submit(
        id: id, prompt: spec.prompt + (resumed?.tokens ?? []),
        maxNewTokens: max(1, spec.maxTokens - (resumed?.progress.generated ?? 0)),
        cachedTokens: submission.prefix.blockCount * scheduler.limits.blockSize)
      guard outcome == .queued else {
        for sequence in sequences.values {
          scheduler.cancel(id: sequence)
          outputs[sequence] = nil
        }
        prefixes.forget(request: spec.loopID, sequences: Array(sequences.values))
        let failure: ServingFailure =
          switch outcome {
          case .tooLarge(let needed, let total): .tooLarge(blocksNeeded: needed, totalBlocks: total)
          case .emptyPrompt: .emptyPrompt
          default: .queueFull
          }
        submission.events.send(.failed(failure))
        submission.events.end()
        return
      }
      sequences[index] = id
      let processor = OutputProcessor(
        spec: spec, index: index, vocabulary: vocabulary, progress: resumed?.progress)
      outputs[id] = (spec.loopID, processor)
      // The prompt's blocks were kept by whoever computed them first.
      if index == 0, resumed != nil { prefixes.markKept(spec.loopID) }
    }
    let live = Live(
      submission: submission, sequences: sequences, unfinished: sequences.count,
      completionTokens: completionTokens)
    counters.promptTokens += spec.prompt.count
    guard !sequences.isEmpty else { return finish(live) }  // every choice had ended
    requests[spec.loopID] = live
  }

  /// Every choice ended: the usage, and the end of the events.
  func finish(_ live: Live) {
    live.submission.events.send(
      .done(
        promptTokens: live.submission.spec.prompt.count,
        completionTokens: live.completionTokens))
    live.submission.events.end()
  }

  /// Lets a request go: its sequences leave the scheduler (their blocks are released with the
  /// next step) and its processors go.
  @discardableResult
  mutating func remove(_ id: UInt64) -> Live? {
    guard let live = requests.removeValue(forKey: id) else { return nil }
    for sequence in live.sequences.values {
      scheduler.cancel(id: sequence)
      outputs[sequence] = nil
    }
    prefixes.forget(request: id, sequences: Array(live.sequences.values))
    return live
  }

  /// A client went away: the request ends with no event.
  mutating func cancel(_ id: UInt64) {
    remove(id)?.submission.events.end()
  }

  mutating func fail(_ id: UInt64, _ failure: ServingFailure) {
    guard let live = remove(id) else { return }
    live.submission.events.send(.failed(failure))
    live.submission.events.end()
  }

  mutating func expire(now: Double) {
    for (id, live) in requests where live.submission.deadline < now { fail(id, .timedOut) }
  }

  /// The loop stops: every request goes back (durable ones are taken over later; the rest
  /// fail).
  mutating func handBackAll() {
    for id in Array(requests.keys) { remove(id)?.submission.events.handBack() }
  }
}
