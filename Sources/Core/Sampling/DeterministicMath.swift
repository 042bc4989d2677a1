// exp and log built from IEEE-754 +, -, ×, ÷ only.
//
// Why not the platform's libm: glibc and Apple's libm may round exp and log differently in the
// last bit, and a last-bit difference can (very rarely) move a sampling boundary or change a
// reported logprob. The determinism contract promises the same token on any machine, so the
// sampler's transcendental functions are these, whose every step is a correctly rounded basic
// operation. Swift never contracts a × b + c into an FMA on its own, so the result is the same
// bits everywhere. Accuracy is a few ulps, far more than sampling needs.
//
// exp: Cody–Waite reduction x = k·ln2 + r with |r| ≤ ln2/2 (fdlibm's split of ln2), a degree-13
// Taylor polynomial for e^r (truncation < 1e-17 relative), then scaling by 2^k.
// log: x = m·2^e with m in [√½, √2), log m = 2·atanh(s) with s = (m-1)/(m+1), |s| ≤ 0.172, by
// its odd series to s^25 (truncation < 1e-19).

/// Platform-independent exp and log for the sampler and log-probabilities.
enum DeterministicMath {
  private static let ln2High: Double = 6.931_471_803_691_238_164_90e-01  // low 32 bits zero
  private static let ln2Low: Double = 1.908_214_929_270_587_700_02e-10
  private static let log2E: Double = 1.442_695_040_888_963_387_00
  private static let roundingShifter: Double = 6_755_399_441_055_744

  /// e^x, bit-identical on every platform.
  static func exp(_ x: Double) -> Double {
    if x.isNaN { return x }
    if x > 709.782_712_893_384 { return .infinity }
    if x < -745.133_219_101_941_1 { return 0 }
    // Round to nearest by adding and removing 1.5 × 2^52 (rounded() may call libm).
    let k = (x * log2E + roundingShifter) - roundingShifter
    let r = (x - k * ln2High) - k * ln2Low
    // Horner over 1/n! for n = 13 … 0.
    var p = 1.0 / 6_227_020_800
    p = p * r + 1.0 / 479_001_600
    p = p * r + 1.0 / 39_916_800
    p = p * r + 1.0 / 3_628_800
    p = p * r + 1.0 / 362_880
    p = p * r + 1.0 / 40_320
    p = p * r + 1.0 / 5_040
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    // k is in [-1075, 1024]: scale by two normal powers of two so that only the last product
    // can round (into the subnormal range).
    let exponent = Int(k)
    let half = exponent / 2
    return p * powerOfTwo(half) * powerOfTwo(exponent - half)
  }

  /// 2^e for e in the normal range [-1022, 1023].
  private static func powerOfTwo(_ e: Int) -> Double {
    Double(bitPattern: UInt64(1023 + e) << 52)
  }

  /// The natural logarithm, bit-identical on every platform.
  static func log(_ x: Double) -> Double {
    if x.isNaN || x < 0 { return .nan }
    if x == 0 { return -.infinity }
    if x == .infinity { return x }
    var m = x.significand  // [1, 2), normalized even for subnormal x
    var e = Double(x.exponent)
    if m > 1.414_213_562_373_095_1 {
      m /= 2
      e += 1
    }
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    var series = 1.0 / 25
    series = series * s2 + 1.0 / 23
    series = series * s2 + 1.0 / 21
    series = series * s2 + 1.0 / 19
    series = series * s2 + 1.0 / 17
    series = series * s2 + 1.0 / 15
    series = series * s2 + 1.0 / 13
    series = series * s2 + 1.0 / 11
    series = series * s2 + 1.0 / 9
    series = series * s2 + 1.0 / 7
    series = series * s2 + 1.0 / 5
    series = series * s2 + 1.0 / 3
    series = series * s2 + 1
    return e * ln2High + (e * ln2Low + 2 * s * series)
  }
}
