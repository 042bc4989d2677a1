import Foundation
import Testing

@testable import Core

/// Greedy choice, replayability, stream independence, non-finite logits, and agreement with a
/// naive full-sort reference on a real-sized vocabulary.
@Suite struct SamplerDeterminismTests {
  static let vocabularyCount = 49_152

  @Test func greedyReturnsTheArgmax() {
    var sampler = Sampler(parameters: SamplingParameters())
    let logits = SamplingStatistics.randomLogits(count: Self.vocabularyCount, scale: 3, seed: 1)
    let argmax = logits.indices.max { logits[$0] < logits[$1] }!
    for position in 0..<5 {
      let token = sampler.sample(logits: logits, history: [], choiceIndex: 0, position: position)
      #expect(token == TokenID(argmax))
    }
  }

  @Test func greedyBreaksTiesToTheLowestID() {
    var sampler = Sampler(parameters: SamplingParameters(seed: 99))
    #expect(sampler.sample(logits: [1, 3, 2, 3, 3], history: [], choiceIndex: 0, position: 0) == 1)
    #expect(sampler.sample(logits: [0, 0, 0], history: [], choiceIndex: 4, position: 7) == 0)
  }

  @Test func sameSeedChoiceAndPositionGiveTheSameToken() {
    let logits = SamplingStatistics.randomLogits(count: Self.vocabularyCount, scale: 1, seed: 2)
    let parameters = SamplingParameters(temperature: 1, seed: 1234)
    var reused = Sampler(parameters: parameters)
    let first = (0..<50).map {
      reused.sample(logits: logits, history: [], choiceIndex: 2, position: $0)
    }
    // Replaying any step, in any order, with a fresh sampler draws the same token.
    for position in [49, 0, 17, 17, 3] {
      var fresh = Sampler(parameters: parameters)
      let token = fresh.sample(logits: logits, history: [], choiceIndex: 2, position: position)
      #expect(token == first[position])
    }
    // A different seed gives a different sequence.
    var other = Sampler(parameters: SamplingParameters(temperature: 1, seed: 1235))
    let second = (0..<50).map {
      other.sample(logits: logits, history: [], choiceIndex: 2, position: $0)
    }
    #expect(first != second)
  }

  @Test func choicesDrawIndependentStreams() {
    // A fair coin: choice 0 and choice 1 at the same positions must not be correlated.
    let parameters = SamplingParameters(temperature: 1, seed: 77)
    let coin: [Float] = [0, 0]
    func flips(choice: Int) -> [Double] {
      var sampler = Sampler(parameters: parameters)
      return (0..<SamplingStatistics.drawCount).map {
        Double(sampler.sample(logits: coin, history: [], choiceIndex: choice, position: $0))
      }
    }
    let first = flips(choice: 0)
    let second = flips(choice: 1)
    let limit = 4 / Double(SamplingStatistics.drawCount).squareRoot()
    #expect(abs(SamplingStatistics.correlation(first, second)) < limit)
    #expect(abs(first.reduce(0, +) / Double(first.count) - 0.5) < 0.02)
  }

  @Test func drawIsTheInverseCDFOfTheCounterRNG() {
    let logits = SamplingStatistics.logits(probabilities: [0.3, 0.2, 0.5])
    // Temperature alone walks ids in order: token 0 (0.3), 1 (0.2), 2 (0.5).
    var plain = Sampler(parameters: SamplingParameters(temperature: 1, seed: 5))
    // A truncating stage walks the candidate order: token 2 (0.5), 0 (0.3), 1 (0.2).
    var sorted = Sampler(parameters: SamplingParameters(temperature: 1, topK: 2, seed: 5))
    for position in 0..<2_000 {
      let u = CounterRNG.uniform(seed: 5, choiceIndex: 0, position: position)
      // Skip draws within rounding distance of a boundary.
      if [0.3, 0.5, 0.5 / 0.8].contains(where: { abs(u - $0) < 1e-6 }) { continue }
      #expect(
        plain.sample(logits: logits, history: [], choiceIndex: 0, position: position)
          == (u < 0.3 ? 0 : (u < 0.5 ? 1 : 2)))
      // top-k 2 keeps tokens 2 and 0, renormalized: 0.5 / 0.8 and 0.3 / 0.8.
      #expect(
        sorted.sample(logits: logits, history: [], choiceIndex: 0, position: position)
          == (u < 0.5 / 0.8 ? 2 : 0))
    }
  }

  @Test func neverChoosesNaNOrMaskedTokens() {
    let logits: [Float] = [.nan, 1, -.infinity, 1, .nan, -.infinity]
    let observed = SamplingStatistics.counts(
      SamplingParameters(temperature: 2, seed: 6), logits: logits, count: 4_000)
    #expect(observed[0] == 0 && observed[2] == 0 && observed[4] == 0 && observed[5] == 0)
    #expect(SamplingStatistics.matches(observed, [0, 0.5, 0, 0.5, 0, 0]))
    // With top-k wider than the finite tokens, masked ones still never win.
    let topK = SamplingStatistics.counts(
      SamplingParameters(temperature: 1, topK: 5, seed: 6), logits: logits, count: 4_000)
    #expect(topK[1] + topK[3] == 4_000)
  }

  @Test func nonFiniteMaximumFallsBackToGreedy() {
    var sampler = Sampler(parameters: SamplingParameters(temperature: 1, seed: 8))
    let allMasked: [Float] = [-.infinity, .nan, -.infinity]
    #expect(sampler.sample(logits: allMasked, history: [], choiceIndex: 0, position: 0) == 0)
    let infinite: [Float] = [1, .infinity, 3, .infinity]
    #expect(sampler.sample(logits: infinite, history: [], choiceIndex: 0, position: 0) == 1)
  }

  @Test func reusesOneSamplerAcrossVocabularySizes() {
    var sampler = Sampler(parameters: SamplingParameters(temperature: 1, topP: 0.9, seed: 3))
    for count in [3, 1, 100, 3] {
      let logits = (0..<count).map { Float($0) }
      let token = sampler.sample(logits: logits, history: [], choiceIndex: 0, position: 0)
      #expect(token >= 0 && Int(token) < count)
    }
  }

  /// (name, parameters, logit scale, logit quantization step or 0).
  static let referenceCases: [(String, SamplingParameters, Float, Float)] = [
    ("plain", SamplingParameters(temperature: 1), 3, 0),
    ("flat", SamplingParameters(temperature: 1), 0.1, 0),
    ("hot", SamplingParameters(temperature: 2.5), 1, 0),
    // Logits spread over ~70 nats, drawn hot enough to reach the far bucket.
    ("wideHot", SamplingParameters(temperature: 8), 9, 0),
    // Many exact ties, broken by id.
    ("ties", SamplingParameters(temperature: 1.2, topP: 0.97), 2, 0.5),
    ("topK", SamplingParameters(temperature: 0.8, topK: 40), 2, 0),
    ("topKTies", SamplingParameters(temperature: 1, topK: 300), 1, 1),
    ("topP", SamplingParameters(temperature: 1, topP: 0.9), 2, 0),
    ("topPWide", SamplingParameters(temperature: 1.3, topP: 0.95), 0.5, 0),
    ("minP", SamplingParameters(temperature: 0.7, minP: 0.05), 2, 0),
    ("chain", SamplingParameters(temperature: 0.9, topK: 50, topP: 0.8, minP: 0.02), 1.5, 0),
    (
      "penalized",
      SamplingParameters(
        temperature: 1, repetitionPenalty: 1.3, presencePenalty: 0.4, frequencyPenalty: 0.3,
        penaltyWindow: 16),
      3, 0
    ),
  ]

  @Test(arguments: referenceCases)
  func matchesAFullSortReferenceOnARealVocabulary(
    name: String, parameters: SamplingParameters, scale: Float, step: Float
  ) {
    var logits = SamplingStatistics.randomLogits(
      count: Self.vocabularyCount, scale: scale, seed: 21)
    if step > 0 { logits = logits.map { ($0 / step).rounded() * step } }
    for id in stride(from: 5, to: logits.count, by: 997) { logits[id] = -.infinity }
    let history = (0..<40).map { TokenID(($0 * 7_919) % 300) }
    var parameters = parameters
    parameters.seed = 31
    var sampler = Sampler(parameters: parameters)
    let reference = ReferenceSampler(logits: logits, history: history, parameters: parameters)
    for position in 0..<60 {
      let u = CounterRNG.uniform(seed: 31, choiceIndex: 1, position: position)
      let token = sampler.sample(
        logits: logits, history: history, choiceIndex: 1, position: position)
      #expect(token == reference.draw(uniform: u), "\(name) at position \(position)")
    }
  }
}

/// The sampling pipeline written the obvious way: full sort, Foundation's exp, one array per
/// stage, and a walk in id order when no stage truncates. Slow, and an independent check of
/// the banded partial sorts and of the unsorted draw.
struct ReferenceSampler {
  /// The surviving candidates, most likely first, and their tempered weights.
  private var ids: [Int] = []
  private var tempered: [Double] = []

  init(logits: [Float], history: [TokenID], parameters: SamplingParameters) {
    var logits = logits.map { $0.isNaN ? -Float.infinity : $0 }
    let window =
      parameters.penaltyWindow < 0 ? history[...] : history.suffix(parameters.penaltyWindow)
    var counts: [Int: Int] = [:]
    for token in window { counts[Int(token), default: 0] += 1 }
    for (id, count) in counts {
      var logit = logits[id]
      let repetition = parameters.repetitionPenalty
      logit = logit > 0 ? logit / repetition : logit * repetition
      logit -= Float(count) * parameters.frequencyPenalty + parameters.presencePenalty
      logits[id] = logit
    }
    ids = logits.indices.sorted {
      logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1)
    }
    if parameters.temperature == 0 {
      ids = [ids[0]]
      tempered = [1]
      return
    }
    if parameters.topK > 0 { ids = Array(ids.prefix(parameters.topK)) }
    let maxLogit = Double(logits[ids[0]])
    let weights = ids.map { exp(Double(logits[$0]) - maxLogit) }
    if parameters.topP < 1 {
      let total = weights.reduce(0, +)
      var cumulative = 0.0
      var kept = 0
      while kept < ids.count {
        cumulative += weights[kept] / total
        kept += 1
        if cumulative >= Double(parameters.topP) { break }
      }
      ids = Array(ids.prefix(kept))
    }
    if parameters.minP > 0 {
      let kept = weights.prefix(ids.count).prefix { $0 >= Double(parameters.minP) }.count
      ids = Array(ids.prefix(max(kept, 1)))
    }
    // Nothing truncated: the draw walks the vocabulary in id order.
    if !parameters.truncates(vocabularyCount: logits.count) { ids.sort() }
    let temperature = Double(parameters.temperature)
    tempered = ids.map { exp((Double(logits[$0]) - maxLogit) / temperature) }
  }

  /// The inverse-CDF draw for `uniform`.
  func draw(uniform: Double) -> TokenID {
    let target = uniform * tempered.reduce(0, +)
    var cumulative = 0.0
    for (id, weight) in zip(ids, tempered) {
      cumulative += weight
      if cumulative > target { return TokenID(id) }
    }
    return TokenID(ids.last!)
  }
}
