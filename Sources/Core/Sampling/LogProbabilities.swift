// Log-probabilities for the OpenAI `logprobs` / `top_logprobs` options.
//
// They are the log-softmax of the raw model logits: before penalties, truncation and
// temperature, as vLLM reports them by default and OpenAI documents them (the model's own
// distribution, so a token chosen at temperature 2 shows its true likelihood). Computed in
// Double with max subtraction, log Σ exp(logit - max) summed in id order with
// DeterministicMath, so the values are the same bits on every machine. NaN counts as
// -infinity; if the largest logit is not finite, the tokens equal to it share the mass equally
// and every other token gets -infinity.

/// Log-probabilities of tokens under the raw logits (see the file header).
public enum LogProbabilities {
  /// The log-probability of `token`; -infinity for an id outside the row.
  public static func of(_ token: TokenID, logits: UnsafeBufferPointer<Float>) -> Float {
    guard token >= 0, Int(token) < logits.count else { return -.infinity }
    let normalizer = Normalizer(logits)
    return normalizer.logProbability(of: token)
  }

  /// The log-probability of `token` in an array row; see `of(_:logits:)`.
  public static func of(_ token: TokenID, logits: [Float]) -> Float {
    logits.withUnsafeBufferPointer { of(token, logits: $0) }
  }

  /// The `count` most likely tokens with their log-probabilities, most likely first, ties to
  /// the lower id; fewer if the row is shorter, none if `count` ≤ 0.
  public static func top(_ count: Int, logits: UnsafeBufferPointer<Float>)
    -> [(id: TokenID, logprob: Float)]
  {
    let count = min(count, logits.count)
    guard count > 0 else { return [] }
    let normalizer = Normalizer(logits)
    var ids = [Int32](repeating: 0, count: count)
    ids.withUnsafeMutableBufferPointer {
      CandidateOrder(logits: logits).selectFirst(count, into: $0)
    }
    return ids.map { (id: $0, logprob: normalizer.logProbability(of: $0)) }
  }

  /// The top log-probabilities of an array row; see `top(_:logits:)`.
  public static func top(_ count: Int, logits: [Float]) -> [(id: TokenID, logprob: Float)] {
    logits.withUnsafeBufferPointer { top(count, logits: $0) }
  }

  /// log Σ exp over one row, computed once per call.
  private struct Normalizer {
    let order: CandidateOrder
    let maxLogit: Float
    /// log Σ exp(logit - max) when the maximum is finite; otherwise -log(number of maxima).
    let logSum: Double

    init(_ logits: UnsafeBufferPointer<Float>) {
      order = CandidateOrder(logits: logits)
      var maxLogit = -Float.infinity
      for id in 0..<logits.count { maxLogit = max(maxLogit, order.logit(Int32(id))) }
      self.maxLogit = maxLogit
      var sum = 0.0
      if maxLogit.isFinite {
        sum = DeterministicMath.expSum(logits, ids: nil, maxLogit: maxLogit)
      } else {
        for id in 0..<logits.count where order.logit(Int32(id)) == maxLogit { sum += 1 }
      }
      logSum = DeterministicMath.log(sum)
    }

    func logProbability(of id: TokenID) -> Float {
      let logit = order.logit(id)
      if !maxLogit.isFinite { return logit == maxLogit ? Float(-logSum) : -.infinity }
      return Float(Double(logit) - Double(maxLogit) - logSum)
    }
  }
}
