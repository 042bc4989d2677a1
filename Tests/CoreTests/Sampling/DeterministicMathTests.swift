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
}
