// exp and log built from IEEE-754 +, -, ×, ÷ only.
//
// Why not the platform's libm: glibc and Apple's libm may round exp and log differently in the
// last bit, and a last-bit difference can (very rarely) move a sampling boundary or change a
// reported logprob. The determinism contract promises the same token on any machine, so the
// sampler's transcendental functions are these, whose every step is a correctly rounded basic
// operation. Accuracy is a few ulps, far more than sampling needs.
//
// exp lives in the kernels (tk_exp in sampling.c, with the algorithm), next to its vectorized
// sums over a vocabulary; Swift never contracts a × b + c into an FMA on its own, and the C
// target is compiled with -ffp-contract=off, so both give the same bits everywhere.
// log: x = m·2^e with m in [√½, √2), log m = 2·atanh(s) with s = (m-1)/(m+1), |s| ≤ 0.172, by
// its odd series to s^25 (truncation < 1e-19).

import CKernels

/// Platform-independent exp and log for the sampler and log-probabilities.
enum DeterministicMath {
  private static let ln2High: Double = 6.931_471_803_691_238_164_90e-01  // low 32 bits zero
  private static let ln2Low: Double = 1.908_214_929_270_587_700_02e-10

  /// e^x, bit-identical on every platform.
  static func exp(_ x: Double) -> Double { tk_exp(x) }

  /// Σ exp((logit - maxLogit) / divisor) over `logits[ids[i]]` (or every logit when `ids` is
  /// nil; NaN counts as -inf), vectorized, added in tk_exp_sum's fixed eight-lane order.
  static func expSum(
    _ logits: UnsafeBufferPointer<Float>, ids: UnsafeBufferPointer<Int32>?, maxLogit: Float,
    divisor: Double = 1
  ) -> Double {
    guard let base = logits.baseAddress else { return 0 }
    if let ids {
      return tk_exp_sum(base, ids.baseAddress, Int32(ids.count), maxLogit, divisor)
    }
    return tk_exp_sum(base, nil, Int32(logits.count), maxLogit, divisor)
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
