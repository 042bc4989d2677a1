import Foundation
import TestSupport

@testable import Core

/// Statistics helpers for the sampling tests: draws, reference distributions and chi-square.
enum SamplingStatistics {
  /// How many draws the distribution tests take (at positions 0..<drawCount).
  static let drawCount = 20_000

  /// Token frequencies of `count` draws at positions 0..<count.
  static func counts(
    _ parameters: SamplingParameters, logits: [Float], history: [TokenID] = [],
    choiceIndex: Int = 0, count: Int = drawCount
  ) -> [Int] {
    var sampler = Sampler(parameters: parameters)
    var counts = [Int](repeating: 0, count: logits.count)
    for position in 0..<count {
      let token = sampler.sample(
        logits: logits, history: history, choiceIndex: choiceIndex, position: position)
      counts[Int(token)] += 1
    }
    return counts
  }

  /// softmax(logits / temperature), in Double with Foundation's exp.
  static func softmax(_ logits: [Float], temperature: Double = 1) -> [Double] {
    let maxLogit = Double(logits.max()!)
    let weights = logits.map { exp((Double($0) - maxLogit) / temperature) }
    let total = weights.reduce(0, +)
    return weights.map { $0 / total }
  }

  /// Logits whose softmax is exactly `probabilities` (up to rounding).
  static func logits(probabilities: [Double]) -> [Float] {
    probabilities.map { Float(log($0)) }
  }

  /// `probabilities` with entries outside `kept` zeroed and the rest renormalized.
  static func restricted(_ probabilities: [Double], to kept: Set<Int>) -> [Double] {
    let total = kept.reduce(0) { $0 + probabilities[$1] }
    return probabilities.indices.map { kept.contains($0) ? probabilities[$0] / total : 0 }
  }

  /// Pearson's chi-square of `observed` against `expected` probabilities, over the categories
  /// with non-zero expectation, and its degrees of freedom.
  static func chiSquare(observed: [Int], expected: [Double]) -> (statistic: Double, df: Int) {
    let total = Double(observed.reduce(0, +))
    var statistic = 0.0
    var categories = 0
    for (count, probability) in zip(observed, expected) where probability > 0 {
      let expectedCount = total * probability
      statistic +=
        (Double(count) - expectedCount) * (Double(count) - expectedCount)
        / expectedCount
      categories += 1
    }
    return (statistic, categories - 1)
  }

  /// The 0.999 quantile of the chi-square distribution: exact table for df ≤ 10,
  /// Wilson–Hilferty above.
  static func chiSquareCritical999(df: Int) -> Double {
    let table = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588]
    if df >= 1, df <= table.count { return table[df - 1] }
    let d = Double(df)
    let z = 3.090_232  // 0.999 standard normal quantile
    let term = 1 - 2 / (9 * d) + z * (2 / (9 * d)).squareRoot()
    return d * term * term * term
  }

  /// Whether `observed` is consistent with `expected` at the 0.999 level, and draws of
  /// probability-0 tokens never happen.
  static func matches(_ observed: [Int], _ expected: [Double]) -> Bool {
    for (count, probability) in zip(observed, expected) where probability == 0 && count > 0 {
      return false
    }
    let (statistic, df) = chiSquare(observed: observed, expected: expected)
    return df == 0 || statistic < chiSquareCritical999(df: df)
  }

  /// Pearson correlation of two equally long samples.
  static func correlation(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    let meanX = x.reduce(0, +) / n
    let meanY = y.reduce(0, +) / n
    var covariance = 0.0
    var varianceX = 0.0
    var varianceY = 0.0
    for (a, b) in zip(x, y) {
      covariance += (a - meanX) * (b - meanY)
      varianceX += (a - meanX) * (a - meanX)
      varianceY += (b - meanY) * (b - meanY)
    }
    return covariance / (varianceX * varianceY).squareRoot()
  }

  /// Repeatable standard-normal logits scaled by `scale`, via Box–Muller over SplitMix64.
  static func randomLogits(count: Int, scale: Float, seed: UInt64) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in
      let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
      let u2 = Double.random(in: 0..<1, using: &generator)
      return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)) * scale
    }
  }
}
