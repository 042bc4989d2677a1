import Foundation
import Testing

@testable import Core

@Suite struct CounterRNGTests {
  @Test func matchesRandom123KnownAnswers() {
    // Random123's kat_vectors for philox4x32 with 10 rounds.
    let cases: [((UInt32, UInt32, UInt32, UInt32), (UInt32, UInt32), [UInt32])] = [
      ((0, 0, 0, 0), (0, 0), [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]),
      (
        (0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), (0xFFFF_FFFF, 0xFFFF_FFFF),
        [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]
      ),
      (
        (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), (0xA409_3822, 0x299F_31D0),
        [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]
      ),
    ]
    for (counter, key, expected) in cases {
      let block = CounterRNG.philox4x32(counter: counter, key: key)
      #expect([block.0, block.1, block.2, block.3] == expected)
    }
  }

  @Test func isAPureFunctionOfSeedChoiceAndPosition() {
    for position in [0, 1, 17, 1 << 40, Int.max, -1] {
      let first = CounterRNG.uniform(seed: 42, choiceIndex: 3, position: position)
      let again = CounterRNG.uniform(seed: 42, choiceIndex: 3, position: position)
      #expect(first == again)
      #expect(first >= 0 && first < 1)
    }
    // Each of the three inputs changes the draw.
    let base = CounterRNG.uniform(seed: 1, choiceIndex: 0, position: 0)
    #expect(CounterRNG.uniform(seed: 2, choiceIndex: 0, position: 0) != base)
    #expect(CounterRNG.uniform(seed: 1, choiceIndex: 1, position: 0) != base)
    #expect(CounterRNG.uniform(seed: 1, choiceIndex: 0, position: 1) != base)
    // The high halves of seed and position matter too.
    #expect(CounterRNG.uniform(seed: 1 | 1 << 40, choiceIndex: 0, position: 0) != base)
    #expect(CounterRNG.uniform(seed: 1, choiceIndex: 0, position: 1 << 40) != base)
  }

  @Test func drawsAreUniformOverPositions() {
    let count = 100_000
    let draws = (0..<count).map { CounterRNG.uniform(seed: 7, choiceIndex: 0, position: $0) }
    #expect(draws.allSatisfy { $0 >= 0 && $0 < 1 })
    // Mean: standard error is 1/sqrt(12 n) ≈ 0.0009.
    let mean = draws.reduce(0, +) / Double(count)
    #expect(abs(mean - 0.5) < 0.004)
    // Chi-square over 20 equal bins.
    var bins = [Int](repeating: 0, count: 20)
    for draw in draws { bins[Int(draw * 20)] += 1 }
    let uniform = [Double](repeating: 1.0 / 20, count: 20)
    #expect(SamplingStatistics.matches(bins, uniform))
    // Kolmogorov–Smirnov: 0.999 critical value ≈ 1.95 / sqrt(n).
    let sorted = draws.sorted()
    var distance = 0.0
    for (index, value) in sorted.enumerated() {
      let above = Double(index + 1) / Double(count) - value
      let below = value - Double(index) / Double(count)
      distance = max(distance, above, below)
    }
    #expect(distance < 1.95 / Double(count).squareRoot())
  }

  @Test func choiceIndicesAndSeedsGiveUncorrelatedStreams() {
    let count = 20_000
    let limit = 4 / Double(count).squareRoot()  // four standard errors
    func stream(seed: UInt64, choice: Int, offset: Int = 0) -> [Double] {
      (0..<count).map {
        CounterRNG.uniform(seed: seed, choiceIndex: choice, position: $0 + offset)
      }
    }
    let base = stream(seed: 5, choice: 0)
    #expect(abs(SamplingStatistics.correlation(base, stream(seed: 5, choice: 1))) < limit)
    #expect(abs(SamplingStatistics.correlation(base, stream(seed: 6, choice: 0))) < limit)
    // Consecutive positions of one stream (lag 1).
    #expect(
      abs(SamplingStatistics.correlation(base, stream(seed: 5, choice: 0, offset: 1))) < limit)
  }
}
