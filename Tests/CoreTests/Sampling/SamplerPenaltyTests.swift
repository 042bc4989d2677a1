import Foundation
import Testing

@testable import Core

/// Penalties move the distribution exactly as their formulas say.
@Suite struct SamplerPenaltyTests {
  static let logits: [Float] = [2, 1.5, 1, -0.5, -1]

  /// The distribution the sampler should draw from after penalizing `logits` by hand.
  private func expected(_ penalized: [Float]) -> [Double] {
    SamplingStatistics.softmax(penalized)
  }

  @Test func repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
    let parameters = SamplingParameters(temperature: 1, repetitionPenalty: 1.5, seed: 1)
    // Token 0 twice (penalized once), token 3 once; token 4 never.
    let history: [TokenID] = [0, 3, 0]
    let observed = SamplingStatistics.counts(parameters, logits: Self.logits, history: history)
    #expect(SamplingStatistics.matches(observed, expected([2 / 1.5, 1.5, 1, -0.75, -1])))
    #expect(!SamplingStatistics.matches(observed, expected(Self.logits)))
  }

  @Test func presencePenaltySubtractsOncePerDistinctToken() {
    let parameters = SamplingParameters(temperature: 1, presencePenalty: 1, seed: 2)
    let history: [TokenID] = [0, 0, 0, 2]
    let observed = SamplingStatistics.counts(parameters, logits: Self.logits, history: history)
    #expect(SamplingStatistics.matches(observed, expected([1, 1.5, 0, -0.5, -1])))
  }

  @Test func frequencyPenaltySubtractsPerOccurrence() {
    let parameters = SamplingParameters(temperature: 1, frequencyPenalty: 0.5, seed: 3)
    let history: [TokenID] = [0, 0, 0, 2]
    let observed = SamplingStatistics.counts(parameters, logits: Self.logits, history: history)
    #expect(SamplingStatistics.matches(observed, expected([0.5, 1.5, 0.5, -0.5, -1])))
  }

  @Test func negativePenaltiesEncourageRepetition() {
    let parameters = SamplingParameters(
      temperature: 1, presencePenalty: -1, frequencyPenalty: -0.5, seed: 4)
    let history: [TokenID] = [4, 4]
    let observed = SamplingStatistics.counts(parameters, logits: Self.logits, history: history)
    #expect(SamplingStatistics.matches(observed, expected([2, 1.5, 1, -0.5, 1])))
  }

  @Test func penaltiesCombineInLlamaCppOrder() {
    // Repetition first, then frequency and presence: token 1 → 1.5 / 2 - 2 × 0.25 - 0.5.
    let parameters = SamplingParameters(
      temperature: 1, repetitionPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25,
      seed: 5)
    let history: [TokenID] = [1, 3, 1]
    let observed = SamplingStatistics.counts(parameters, logits: Self.logits, history: history)
    let penalized: [Float] = [2, 1.5 / 2 - 0.5 - 0.5, 1, -0.5 * 2 - 0.25 - 0.5, -1]
    #expect(SamplingStatistics.matches(observed, expected(penalized)))
  }

  @Test func onlyTheWindowIsPenalized() {
    // Greedy makes the window visible: token 0 leads by 0.5 unless penalized by 1.
    let logits: [Float] = [1, 0.5, 0]
    func choice(window: Int, history: [TokenID]) -> TokenID {
      var sampler = Sampler(
        parameters: SamplingParameters(presencePenalty: 1, penaltyWindow: window))
      return sampler.sample(
        logits: logits, history: history, choiceIndex: 0, position: history.count)
    }
    let history: [TokenID] = [0, 2, 2]
    #expect(choice(window: 2, history: history) == 0)  // token 0 is outside the window
    #expect(choice(window: 3, history: history) == 1)
    #expect(choice(window: -1, history: history) == 1)
    #expect(choice(window: 0, history: history) == 0)  // penalties off
    #expect(choice(window: 100, history: history) == 1)
  }

  @Test func greedyStillAppliesPenalties() {
    var sampler = Sampler(parameters: SamplingParameters(repetitionPenalty: 2))
    #expect(sampler.sample(logits: Self.logits, history: [0], choiceIndex: 0, position: 1) == 1)
  }

  @Test func ignoresHistoryTokensOutsideTheVocabulary() {
    var sampler = Sampler(parameters: SamplingParameters(presencePenalty: 2))
    let history: [TokenID] = [-1, 5, 1_000, .max, .min]
    #expect(sampler.sample(logits: Self.logits, history: history, choiceIndex: 0, position: 5) == 0)
  }

  @Test func doesNotCarryPenaltiesBetweenCalls() {
    var sampler = Sampler(parameters: SamplingParameters(presencePenalty: 2))
    #expect(sampler.sample(logits: Self.logits, history: [0], choiceIndex: 0, position: 1) == 1)
    #expect(sampler.sample(logits: Self.logits, history: [], choiceIndex: 0, position: 0) == 0)
  }
}
