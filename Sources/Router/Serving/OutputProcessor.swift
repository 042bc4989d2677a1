public import Core

/// One choice's output, token by token: samples from the logits, turns tokens into text,
/// holds back what may still be a stop sequence, and keeps each token's log-probability until
/// its text goes out. No I/O: the loop turns what `accept` returns into events.
///
/// The token history is not kept here: the scheduler owns each sequence's tokens and hands
/// them in. A class, so that sampling reuses the sampler's scratch (several vocabulary-sized
/// buffers) in place.
final class OutputProcessor {
  /// What one sampled token produced.
  struct Output {
    var token: TokenID
    /// Text that may be sent now (after stop matching).
    var text: String
    /// Log-probability entries whose token's text began to go out with `text`.
    var logprobs: [TokenLogprob]
    /// Set when the choice ended with this token.
    var finishReason: FinishReason?
  }

  let index: Int
  private let vocabulary: Vocabulary
  private let maxTokens: Int
  private let topLogprobs: Int?
  private var sampler: Sampler
  private var detokenizer: StreamingDetokenizer
  private var stops: StopMatcher
  /// Tokens generated (an end-of-generation token is not one).
  private(set) var generated = 0
  private(set) var finished = false
  /// UTF-8 bytes the detokenizer has produced, and those sent (the stop matcher holds some
  /// back, and never sends a stop sequence).
  private var produced = 0
  private var sent = 0
  /// Log-probability entries waiting for their token's text to be sent, with the offset in
  /// the produced text where that text starts.
  private var pendingLogprobs: [ChoiceProgress.PendingLogprob] = []

  /// Whether this choice's next token depends only on where the largest logit is: greedy,
  /// no penalties, no logprobs (a cluster then sends the argmax, not the logits).
  let needsOnlyArgmax: Bool

  /// A choice of `spec`, fresh or carrying on from `progress` (a request taken over).
  init(spec: RequestSpec, index: Int, vocabulary: Vocabulary, progress: ChoiceProgress? = nil) {
    self.index = index
    self.vocabulary = vocabulary
    maxTokens = spec.maxTokens
    topLogprobs = spec.logprobs
    sampler = Sampler(parameters: spec.sampling)
    needsOnlyArgmax = spec.logprobs == nil && spec.sampling.dependsOnlyOnTheArgmax
    detokenizer = StreamingDetokenizer(
      vocabulary: vocabulary, pending: progress?.detokenizerBytes ?? [])
    stops = StopMatcher(
      stops: spec.stop, held: progress?.stopHeld ?? "", stopped: progress?.stopped ?? false)
    if let progress {
      generated = progress.generated
      produced = progress.produced
      sent = progress.sent
      pendingLogprobs = progress.pendingLogprobs
    }
  }

  /// Samples the token after `history` (prompt and generated tokens) from `logits` and
  /// processes it.
  func accept(logits: UnsafeBufferPointer<Float>, history: [TokenID]) -> Output {
    let token = sampler.sample(
      logits: logits, history: history, choiceIndex: index, position: history.count)
    if let top = topLogprobs { queue(logprob(token, logits: logits, top: top)) }
    var text = ""
    var reason: FinishReason?
    if vocabulary.endOfGenerationIDs.contains(token) {
      reason = .stop
    } else {
      generated += 1
      text = sendable(detokenizer.append(token))
      if stops.stopped {
        reason = .stop
      } else if generated >= maxTokens {
        reason = .length
      }
    }
    if reason != nil, !stops.stopped {
      text += sendable(detokenizer.finish()) + finishText()
    }
    finished = reason != nil
    return Output(
      token: token, text: text, logprobs: releasedLogprobs(finishing: finished),
      finishReason: reason)
  }

  /// The state to carry on from elsewhere after `output`.
  func progress(after output: Output) -> ChoiceProgress {
    ChoiceProgress(
      index: index, generated: generated, token: output.token,
      detokenizerBytes: detokenizer.pendingBytes, stopHeld: stops.held, stopped: stops.stopped,
      produced: produced, sent: sent, pendingLogprobs: pendingLogprobs,
      finishReason: output.finishReason)
  }

  /// Passes detokenized text through the stop matcher; returns what may be sent now.
  private func sendable(_ piece: String) -> String {
    produced += piece.utf8.count
    let text = stops.append(piece)
    sent += text.utf8.count
    return text
  }

  /// The stop matcher's held-back text, at the end (nothing if a stop sequence matched).
  private func finishText() -> String {
    let text = stops.finish()
    sent += text.utf8.count
    return text
  }

  /// Holds a token's entry until its text goes out (call before its text is added).
  private func queue(_ entry: TokenLogprob) {
    pendingLogprobs.append(.init(entry: entry, start: produced))
  }

  /// The entries whose token's text has begun to go out; when `finishing`, also the rest,
  /// unless a stop sequence matched: the tokens of a stop sequence are never reported.
  private func releasedLogprobs(finishing: Bool) -> [TokenLogprob] {
    let keepAll = finishing && !stops.stopped
    let ready = pendingLogprobs.prefix { keepAll || $0.start < sent }
    pendingLogprobs.removeFirst(ready.count)
    if finishing { pendingLogprobs.removeAll() }
    return ready.map(\.entry)
  }

  private func logprob(_ token: TokenID, logits: UnsafeBufferPointer<Float>, top: Int)
    -> TokenLogprob
  {
    func piece(_ id: TokenID) -> String {
      var detokenizer = StreamingDetokenizer(vocabulary: vocabulary, includeSpecial: true)
      return detokenizer.append(id) + detokenizer.finish()
    }
    let alternatives = top > 0 ? LogProbabilities.top(top, logits: logits) : []
    return TokenLogprob(
      token: token, text: piece(token), logprob: LogProbabilities.of(token, logits: logits),
      top: alternatives.map { .init(token: $0.id, text: piece($0.id), logprob: $0.logprob) })
  }
}
