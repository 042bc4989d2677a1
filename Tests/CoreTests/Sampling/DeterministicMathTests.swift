import CKernels
import Foundation
import Testing

@testable import Core

@Suite struct DeterministicMathTests {
  /// Relative error allowed against the platform libm: a few ulps.
  private let tolerance = 8 * Double.ulpOfOne

  @Test func expAgreesWithTheSystemLibrary() {
    #expect(DeterministicMath.exp(0) == 1)
    var x = -745.0
    while x < 709 {
      let expected = Foundation.exp(x)
      let got = DeterministicMath.exp(x)
      if expected >= Double.leastNormalMagnitude {
        #expect(abs(got - expected) <= tolerance * expected, "exp(\(x))")
      } else {
        #expect(abs(got - expected) <= 2 * Double.leastNonzeroMagnitude, "exp(\(x))")
      }
      x += 0.123_456_7
    }
    #expect(DeterministicMath.exp(-.infinity) == 0)
    #expect(DeterministicMath.exp(-800) == 0)
    #expect(DeterministicMath.exp(800) == .infinity)
    #expect(DeterministicMath.exp(.nan).isNaN)
  }

  @Test func logAgreesWithTheSystemLibrary() {
    for x in [
      Double.leastNormalMagnitude / 1_000, 1e-300, 1e-5, 0.3, 0.7071, 0.99, 1, 1.0001, 1.5, 2, 3,
      10, 49_152, 1e300,
    ] {
      let expected = Foundation.log(x)
      let got = DeterministicMath.log(x)
      #expect(abs(got - expected) <= tolerance * max(abs(expected), 1e-300), "log(\(x))")
    }
    #expect(DeterministicMath.log(1) == 0)
    #expect(DeterministicMath.log(0) == -.infinity)
    #expect(DeterministicMath.log(-1).isNaN)
    #expect(DeterministicMath.log(.infinity) == .infinity)
  }

  /// The vectorized sums are the scalar exps added in the contract's order, bit for bit, at
  /// every kernel level: NaN and -inf logits, underflow, and every tail length included.
  @Test func expSumIsTheLaneOrderedScalarSumAtEveryKernelLevel() {
    var generator = SplitMix64(seed: 42)
    var logits = (0..<1_003).map { _ in Float(Double(generator.next() % 60_000) / 1_000 - 40) }
    logits[5] = .nan
    logits[17] = -.infinity
    logits[18] = -1e30
    logits[200] = 25
    let maxLogit: Float = 25
    let ids = (0..<logits.count).map { Int32((($0 * 389) + 7) % logits.count) }
    for divisor in [1.0, 0.7, 0.013, 3] {
      for count in [0, 1, 3, 4, 5, 8, 13, 1_003] {
        // The contract's order: eight lane sums (lane j adds terms j, j + 8, …), then a tree.
        func ordered(_ index: (Int) -> Int) -> Double {
          var lane = [Double](repeating: 0, count: 8)
          for i in 0..<count {
            let logit = logits[index(i)].isNaN ? -Float.infinity : logits[index(i)]
            lane[i % 8] += DeterministicMath.exp((Double(logit) - Double(maxLogit)) / divisor)
          }
          return ((lane[0] + lane[1]) + (lane[2] + lane[3]))
            + ((lane[4] + lane[5]) + (lane[6] + lane[7]))
        }
        let byID = ordered { $0 }
        let byList = ordered { Int(ids[$0]) }
        for level in (0...tk_kernels_supported()).filter({ tk_kernels_available($0) != 0 }) {
          tk_limit_kernels(level)
          defer { tk_limit_kernels(-1) }
          let all = logits.withUnsafeBufferPointer { row in
            DeterministicMath.expSum(
              UnsafeBufferPointer(rebasing: row[0..<count]), ids: nil, maxLogit: maxLogit,
              divisor: divisor)
          }
          let listed = logits.withUnsafeBufferPointer { row in
            ids.withUnsafeBufferPointer { list in
              DeterministicMath.expSum(
                row, ids: UnsafeBufferPointer(rebasing: list[0..<count]), maxLogit: maxLogit,
                divisor: divisor)
            }
          }
          #expect(all.bitPattern == byID.bitPattern, "level \(level) count \(count) ÷\(divisor)")
          #expect(
            listed.bitPattern == byList.bitPattern, "level \(level) count \(count) ÷\(divisor)")
        }
      }
    }
  }

  /// Float sampling weights: within 1e-6 of e^x, 0 far below the maximum and for NaN, and the
  /// same bits at every kernel level (every tail length).
  @Test func samplingWeightsAreAccurateAndTheSameAtEveryKernelLevel() {
    var generator = SplitMix64(seed: 9)
    var logits = (0..<1_011).map { _ in Float(Double(generator.next() % 80_000) / 1_000 - 60) }
    logits[3] = .nan
    logits[4] = -.infinity
    logits[5] = 20
    for temperature: Float in [1, 0.7, 0.05, 2.5] {
      var reference = [Float](repeating: -1, count: logits.count)
      tk_limit_kernels(0)
      tk_sample_weights(logits, Int32(logits.count), 20, temperature, &reference)
      tk_limit_kernels(-1)
      for (logit, weight) in zip(logits, reference) {
        let x = Double((logit - 20) / temperature)
        if logit.isNaN || x < -87 {
          #expect(weight == 0, "\(logit) at T \(temperature)")
        } else {
          #expect(abs(Double(weight) - Foundation.exp(x)) <= 1e-6 * Foundation.exp(x), "\(logit)")
        }
      }
      for level in (0...tk_kernels_supported()).filter({ tk_kernels_available($0) != 0 }) {
        for count in [1, 7, 8, 15, 16, 17, 1_011] {
          tk_limit_kernels(level)
          defer { tk_limit_kernels(-1) }
          var weights = [Float](repeating: -1, count: count)
          tk_sample_weights(logits, Int32(count), 20, temperature, &weights)
          #expect(
            weights.map(\.bitPattern) == reference[0..<count].map(\.bitPattern),
            "level \(level) count \(count) T \(temperature)")
        }
      }
    }
  }
}
