import Core

/// How an event changes a request's state, and what a reader may see of it.
extension RequestLog.State {
  /// Folds an event into the result; returns what the journal records when the event closes
  /// a unit (a checkpoint: the choice's new tokens and text; the end).
  mutating func absorb(_ event: GenerationEvent) -> JournalUnit.Kind? {
    switch event {
    case .delta(let choice, let text, let entries) where choice < result.texts.count:
      clock?.tokensArrived()
      result.texts[choice] += text
      result.logprobs[choice] += entries
    case .finished(let choice, let reason, _) where choice < result.reasons.count:
      result.reasons[choice] = reason
    case .done(let prompt, let completion):
      result.usage = StoredUsage(promptTokens: prompt, completionTokens: completion)
      result.status = .finished
      ended = true
      return endKind
    case .failed(let failure):
      result.failure = APIError(failure)
      result.status = .failed
      ended = true
      return endKind
    case .checkpoint(var checkpoint) where checkpoint.index < progress.count:
      let choice = checkpoint.index
      let before = progress[choice]
      if checkpoint.generated > result.tokens[choice].count {
        result.tokens[choice].append(checkpoint.token)
      }
      checkpoint.logprobOffset = encoder.logprobOffsets[choice]
      progress[choice] = checkpoint
      return .progress(
        checkpoint, tokens: Array(result.tokens[choice].dropFirst(before?.generated ?? 0)),
        text: Array(result.texts[choice].utf8.dropFirst(before?.sent ?? 0)))
    default:
      break
    }
    return nil
  }

  var endKind: JournalUnit.Kind {
    .end(status: result.status, usage: result.usage, error: result.failure?.message)
  }

  mutating func takeWaiters() -> [RequestLog.Waiter] {
    defer { waiters = [] }
    return waiters
  }

  func batch(after: Int) -> RequestLog.Batch? {
    // Events before `firstEvent` are in Redis: the reader fetches them at once, not after
    // this router's first new event.
    if after + 1 < firstEvent { return .init(first: firstEvent, payloads: [], ended: false) }
    let start = max(after + 1, firstEvent)
    // Handed back or lost, the stream ends at what Redis took; otherwise at the last event.
    let lastVisible = ended && (handedBack || visible >= total)
    if start < visible {
      return .init(
        first: start, payloads: Array(payloads[(start - firstEvent)..<(visible - firstEvent)]),
        ended: lastVisible)
    }
    return lastVisible ? .init(first: start, payloads: [], ended: true) : nil
  }
}
