import Foundation
import Testing

@testable import Core

/// The distributions the stochastic pipeline draws from, checked by chi-square at the 0.999
/// level over 20,000 draws at fixed seeds.
@Suite struct SamplerDistributionTests {
  /// A known five-token distribution, most likely first.
  static let probabilities = [0.5, 0.25, 0.15, 0.07, 0.03]
  static let logits = SamplingStatistics.logits(probabilities: probabilities)

  private func counts(_ parameters: SamplingParameters, logits: [Float] = logits) -> [Int] {
    SamplingStatistics.counts(parameters, logits: logits)
  }

  @Test(arguments: [UInt64(0), 1, 0xDEAD_BEEF])
  func drawsFromTheSoftmaxAtTemperatureOne(seed: UInt64) {
    let observed = counts(SamplingParameters(temperature: 1, seed: seed))
    #expect(SamplingStatistics.matches(observed, Self.probabilities))
  }

  @Test func reordersNothingWhenTheVocabularyIsShuffled() {
    // The same distribution with the likely tokens at high ids.
    let shuffled = Array(Self.logits.reversed())
    let observed = counts(SamplingParameters(temperature: 1, seed: 4), logits: shuffled)
    #expect(SamplingStatistics.matches(observed, Self.probabilities.reversed()))
  }

  @Test(arguments: [Float(0.5), 0.8, 1.5, 3])
  func temperatureScalesTheLogits(temperature: Float) {
    let observed = counts(SamplingParameters(temperature: temperature, seed: 2))
    let expected = SamplingStatistics.softmax(Self.logits, temperature: Double(temperature))
    #expect(SamplingStatistics.matches(observed, expected))
    // And not the untempered distribution: a lower temperature sharpens, a higher flattens.
    #expect(!SamplingStatistics.matches(observed, Self.probabilities))
    let topShare = Double(observed[0]) / Double(SamplingStatistics.drawCount)
    #expect(temperature < 1 ? topShare > 0.5 : topShare < 0.5)
  }

  @Test(arguments: [1, 2, 3, 4])
  func topKKeepsTheKMostLikelyRenormalized(k: Int) {
    let observed = counts(SamplingParameters(temperature: 1, topK: k, seed: 3))
    #expect(observed[k...].allSatisfy { $0 == 0 })
    let expected = SamplingStatistics.restricted(Self.probabilities, to: Set(0..<k))
    #expect(SamplingStatistics.matches(observed, expected))
  }

  @Test func topKNeverLeavesTheTopKOnALargeVocabulary() {
    let logits = SamplingStatistics.randomLogits(count: 49_152, scale: 2, seed: 9)
    let ranked = (0..<logits.count).sorted {
      logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1)
    }
    let allowed = Set(ranked[..<8].map { TokenID($0) })
    var sampler = Sampler(parameters: SamplingParameters(temperature: 1.5, topK: 8, seed: 5))
    for position in 0..<500 {
      let token = sampler.sample(logits: logits, history: [], choiceIndex: 0, position: position)
      #expect(allowed.contains(token))
    }
  }

  @Test func topPKeepsTheShortestPrefixReachingP() {
    // Cumulative mass: 0.5, 0.75, 0.9, 0.97, 1.
    let cases: [(Float, Int)] = [(0.3, 1), (0.5, 1), (0.6, 2), (0.8, 3), (0.9, 3), (0.95, 4)]
    for (topP, kept) in cases {
      let observed = counts(SamplingParameters(temperature: 1, topP: topP, seed: 6))
      let expected = SamplingStatistics.restricted(Self.probabilities, to: Set(0..<kept))
      #expect(SamplingStatistics.matches(observed, expected), "topP \(topP)")
      #expect(observed[kept...].allSatisfy { $0 == 0 }, "topP \(topP)")
    }
  }

  @Test func minPKeepsTokensWithinAFactorOfTheMostLikely() {
    // p / pmax: 1, 0.5, 0.3, 0.14, 0.06.
    let cases: [(Float, Int)] = [(0.05, 5), (0.1, 4), (0.2, 3), (0.4, 2), (0.6, 1), (1, 1)]
    for (minP, kept) in cases {
      let observed = counts(SamplingParameters(temperature: 1, minP: minP, seed: 7))
      let expected = SamplingStatistics.restricted(Self.probabilities, to: Set(0..<kept))
      #expect(SamplingStatistics.matches(observed, expected), "minP \(minP)")
      #expect(observed[kept...].allSatisfy { $0 == 0 }, "minP \(minP)")
    }
  }

  @Test func topPRenormalizesOverTheTopKSet() {
    // Over the top 2, token 0 has 2/3 ≥ 0.6, so top-p keeps it alone; over the whole
    // vocabulary it would also keep token 1 (0.5 < 0.6).
    let observed = counts(SamplingParameters(temperature: 1, topK: 2, topP: 0.6, seed: 8))
    #expect(observed[0] == SamplingStatistics.drawCount)
  }

  @Test func temperatureAppliesAfterTruncation() {
    // min-p judges the untempered distribution: at temperature 3 the kept set is still the
    // first three tokens, drawn from their tempered, renormalized weights.
    let temperature = 3.0
    let observed = counts(SamplingParameters(temperature: Float(temperature), minP: 0.2, seed: 9))
    let tempered = SamplingStatistics.softmax(Self.logits, temperature: temperature)
    let expected = SamplingStatistics.restricted(tempered, to: [0, 1, 2])
    #expect(SamplingStatistics.matches(observed, expected))
  }

  @Test func followsTheSoftmaxOverAWideVocabulary() {
    // 200 tokens spread over 40 nats exercise every lazy band, including the last.
    let logits: [Float] = (0..<200).map { id in
      let distance = Float(id % 40)
      let offset = Float(id / 40) / 10
      return offset - distance
    }
    let observed = counts(SamplingParameters(temperature: 4, seed: 10), logits: logits)
    let expected = SamplingStatistics.softmax(logits, temperature: 4)
    #expect(SamplingStatistics.matches(observed, expected))
  }
}
