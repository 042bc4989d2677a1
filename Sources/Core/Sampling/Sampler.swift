// Token sampling: penalties, then greedy argmax, a draw at temperature alone (no stage
// truncates: the whole vocabulary in id order, float weights, no sorting — tk_draw_in_id_order),
// or the stochastic pipeline with top-k / top-p / min-p (SamplingPipeline.swift), drawing with
// CounterRNG.
//
// Penalties follow llama.cpp's penalties sampler: over the last `penaltyWindow` tokens of
// prompt + generated text, each distinct token t with count c gets
//   logit = logit > 0 ? logit / repetitionPenalty : logit × repetitionPenalty
//   logit -= c × frequencyPenalty + presencePenalty
// in Float, once per distinct token. Counting uses a vocabulary-sized array, not a
// dictionary, so nothing depends on hash order.
//
// The sampler is a pure function of (parameters, logits, history, choice index, position):
// it keeps only scratch buffers between calls, sized on the first call and reused afterwards,
// so steady-state sampling does not allocate. NaN logits count as -infinity; if the largest
// logit is not finite (all -infinity, or some +infinity) the result is the greedy one.

import CKernels

/// Chooses next tokens from logits under fixed `SamplingParameters`.
///
/// Deterministic: the same parameters, logits, history, choice index and position give the
/// same token on every machine and thread count. Keep one sampler per sequence (or per
/// thread) to reuse its scratch; copies are independent.
public struct Sampler: Sendable {
  /// The parameters every call samples with.
  public let parameters: SamplingParameters

  /// Penalized copy of the logits row. `[vocabularyCount]`
  private var penalizedLogits: [Float] = []
  /// Occurrences of each token in the penalty window; all zero between calls.
  /// `[vocabularyCount]`
  private var tokenCounts: [Int32] = []
  /// The stochastic stages and their scratch.
  private var pipeline = SamplingPipeline()
  /// The draw when nothing truncates, and its scratch.
  private var unsorted = UnsortedDraw()

  /// Creates a sampler; `parameters` should have passed `SamplingParameters.validated()`.
  public init(parameters: SamplingParameters) {
    self.parameters = parameters
  }

  /// Chooses the next token.
  ///
  /// - Parameters:
  ///   - logits: The full vocabulary row from the model; it is read, never modified.
  ///   - history: Prompt and generated tokens so far, for the penalties. Ids outside the
  ///     vocabulary are ignored.
  ///   - choiceIndex: Which of the request's parallel choices this is.
  ///   - position: The absolute position of the token being chosen (normally
  ///     `history.count`). With `choiceIndex` and the seed it selects the random draw.
  /// - Returns: A token id in `0..<logits.count`.
  public mutating func sample(
    logits: UnsafeBufferPointer<Float>, history: [TokenID], choiceIndex: Int, position: Int
  ) -> TokenID {
    precondition(!logits.isEmpty, "sampling needs a non-empty logits row")
    let vocabularyCount = logits.count
    if penalizedLogits.count != vocabularyCount {
      penalizedLogits = [Float](repeating: 0, count: vocabularyCount)
      tokenCounts = [Int32](repeating: 0, count: vocabularyCount)
    }
    let parameters = self.parameters
    return penalizedLogits.withUnsafeMutableBufferPointer { penalized in
      tk_copy_without_nan(logits.baseAddress, penalized.baseAddress, Int32(vocabularyCount))
      tokenCounts.withUnsafeMutableBufferPointer { counts in
        Self.applyPenalties(parameters, history: history, to: penalized, counts: counts)
      }
      let row = UnsafeBufferPointer(penalized)
      let (argmax, maxLogit) = Self.argmax(row)
      if parameters.isGreedy || !maxLogit.isFinite { return argmax }
      let uniform = CounterRNG.uniform(
        seed: parameters.seed, choiceIndex: choiceIndex, position: position)
      if !parameters.truncates(vocabularyCount: vocabularyCount) {
        return unsorted.draw(
          row, maxLogit: maxLogit, temperature: parameters.temperature, uniform: uniform)
          ?? argmax
      }
      return pipeline.draw(
        CandidateOrder(logits: row), maxLogit: maxLogit, parameters: parameters,
        uniform: uniform)
    }
  }

  /// Chooses the next token from an array row; see `sample(logits:history:choiceIndex:position:)`.
  public mutating func sample(
    logits: [Float], history: [TokenID], choiceIndex: Int, position: Int
  ) -> TokenID {
    logits.withUnsafeBufferPointer { row in
      sample(logits: row, history: history, choiceIndex: choiceIndex, position: position)
    }
  }

  /// The lowest id with the largest logit, and that logit (a row without NaN).
  private static func argmax(_ logits: UnsafeBufferPointer<Float>) -> (TokenID, Float) {
    let best = Int(tk_argmax(logits.baseAddress, Int32(logits.count)))
    return (TokenID(best), logits[best])
  }

  /// Applies the repetition, frequency and presence penalties over the window of `history`.
  /// `counts` is all zero on entry and on return.
  private static func applyPenalties(
    _ parameters: SamplingParameters, history: [TokenID],
    to logits: UnsafeMutableBufferPointer<Float>, counts: UnsafeMutableBufferPointer<Int32>
  ) {
    let repetition = parameters.repetitionPenalty
    let frequency = parameters.frequencyPenalty
    let presence = parameters.presencePenalty
    guard repetition != 1 || frequency != 0 || presence != 0 else { return }
    let windowStart =
      parameters.penaltyWindow < 0 ? 0 : max(0, history.count - parameters.penaltyWindow)
    let window = history[windowStart...]
    for token in window where token >= 0 && Int(token) < logits.count {
      counts[Int(token)] += 1
    }
    // Each distinct token once: the first visit applies its penalty and clears its count.
    for token in window where token >= 0 && Int(token) < logits.count {
      let id = Int(token)
      let count = counts[id]
      guard count > 0 else { continue }
      counts[id] = 0
      var logit = logits[id]
      logit = logit > 0 ? logit / repetition : logit * repetition
      logit -= Float(count) * frequency + presence
      logits[id] = logit
    }
  }
}

/// Temperature only: an inverse-CDF draw over the whole vocabulary in id order (see
/// tk_draw_in_id_order), with no sorting — the same distribution as a walk in candidate order,
/// at a fraction of the cost.
private struct UnsortedDraw {
  /// Weights, and sums of 64 of them. `[vocabularyCount]`, `[⌈vocabularyCount / 64⌉]`
  private var weights: [Float] = []
  private var blockSums: [Double] = []

  mutating func draw(
    _ row: UnsafeBufferPointer<Float>, maxLogit: Float, temperature: Float, uniform: Double
  ) -> TokenID? {
    let count = row.count
    if weights.count != count {
      weights = [Float](repeating: 0, count: count)
      blockSums = [Double](repeating: 0, count: (count + 63) / 64)
    }
    let drawn = weights.withUnsafeMutableBufferPointer { weights in
      blockSums.withUnsafeMutableBufferPointer { sums in
        tk_draw_in_id_order(
          row.baseAddress, Int32(count), maxLogit, temperature, uniform, weights.baseAddress,
          sums.baseAddress)
      }
    }
    return drawn >= 0 ? TokenID(drawn) : nil
  }
}
