import Foundation
import Testing

@testable import Core

@Suite struct LogProbabilitiesTests {
  @Test func equalsTheLogSoftmaxOfTheRawLogits() {
    let logits = SamplingStatistics.randomLogits(count: 1_000, scale: 4, seed: 11)
    let probabilities = SamplingStatistics.softmax(logits)
    for id in [0, 1, 500, 999] {
      let expected = log(probabilities[id])
      let got = Double(LogProbabilities.of(TokenID(id), logits: logits))
      #expect(abs(got - expected) < 1e-5 * max(1, abs(expected)))
    }
    let total = (0..<logits.count).reduce(0.0) {
      $0 + exp(Double(LogProbabilities.of(TokenID($1), logits: logits)))
    }
    #expect(abs(total - 1) < 1e-5)
  }

  @Test func isStableForLargeLogitsAndInvariantToAShift() {
    let logits: [Float] = [10_000, 9_999, 9_990, -10_000]
    let shifted = logits.map { $0 - 10_000 }
    for id in TokenID(0)..<4 {
      let value = LogProbabilities.of(id, logits: logits)
      #expect(value.isFinite)
      #expect(value == LogProbabilities.of(id, logits: shifted))
    }
    #expect(abs(LogProbabilities.of(0, logits: logits) - -0.313_294_9) < 1e-5)
  }

  @Test func topIsSortedByProbabilityThenID() {
    let logits: [Float] = [1, 3, 2, 3, -1, 2]
    let top = LogProbabilities.top(4, logits: logits)
    #expect(top.map(\.id) == [1, 3, 2, 5])
    #expect(top[0].logprob == top[1].logprob)
    #expect(top[1].logprob > top[2].logprob)
    for entry in top {
      #expect(entry.logprob == LogProbabilities.of(entry.id, logits: logits))
    }
    #expect(LogProbabilities.top(0, logits: logits).isEmpty)
    #expect(LogProbabilities.top(-3, logits: logits).isEmpty)
    #expect(LogProbabilities.top(100, logits: logits).map(\.id) == [1, 3, 2, 5, 0, 4])
  }

  @Test func topMatchesAFullSortOnALargeVocabulary() {
    let logits = SamplingStatistics.randomLogits(count: 49_152, scale: 3, seed: 3)
    let expected = (0..<logits.count).sorted {
      logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1)
    }
    #expect(LogProbabilities.top(20, logits: logits).map { Int($0.id) } == Array(expected[..<20]))
  }

  @Test func handlesNonFiniteLogits() {
    let masked: [Float] = [0, -.infinity, .nan, 0]
    #expect(LogProbabilities.of(0, logits: masked) == Float(log(0.5)))
    #expect(LogProbabilities.of(1, logits: masked) == -.infinity)
    #expect(LogProbabilities.of(2, logits: masked) == -.infinity)
    #expect(LogProbabilities.top(4, logits: masked).map(\.id) == [0, 3, 1, 2])
    let infinite: [Float] = [0, .infinity, 5]
    #expect(LogProbabilities.of(1, logits: infinite) == 0)
    #expect(LogProbabilities.of(2, logits: infinite) == -.infinity)
    #expect(LogProbabilities.of(7, logits: infinite) == -.infinity)
    #expect(LogProbabilities.of(-1, logits: infinite) == -.infinity)
  }
}
