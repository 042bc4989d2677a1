// Counter-based random numbers for sampling: Philox4x32-10 (Salmon, Moraes, Dror and Shaw,
// "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11; the Random123 library).
//
// Why Philox: every draw must be a pure function of (seed, choice index, position) so that a
// replay after a failure, on another machine or with another batch, draws the same number
// (DESIGN.md, "the determinism contract"). Philox is a keyed bijection on a 128-bit counter,
// built from 32-bit multiplies and xors only, so it is bit-exact on every platform; with 10
// rounds it passes TestU01's BigCrush for any counter pattern, including the highly regular
// one used here, and it is the generator behind cuRAND, JAX and PyTorch's GPU sampling. A
// plain hash of the three values would need that kind of evidence and does not have it.
//
// Layout: counter = (position low, position high, choice low, choice high) as 32-bit words,
// key = (seed low, seed high). Distinct (choice, position) pairs are distinct counters, hence
// distinct, independent-looking blocks; the first two output words give 53 random bits.

/// Counter-based RNG: a pure function of (seed, choiceIndex, position) to a uniform Double in
/// [0, 1), with no state, so replaying any step draws the same number.
///
/// It is Philox4x32-10 keyed by the seed, with the position and choice index as the counter;
/// see the header of this file for why that is good enough.
public enum CounterRNG {
  /// The uniform draw for one sampling step: 53 random bits scaled into [0, 1).
  public static func uniform(seed: UInt64, choiceIndex: Int, position: Int) -> Double {
    let block = philox4x32(
      counter: counterWords(choiceIndex: choiceIndex, position: position), key: keyWords(seed))
    let bits = (UInt64(block.0) << 32 | UInt64(block.1)) >> 11
    return Double(bits) * 0x1p-53
  }

  /// Philox4x32-10 of one 128-bit counter under a 64-bit key (Random123's word order).
  static func philox4x32(
    counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)
  ) -> (UInt32, UInt32, UInt32, UInt32) {
    var x = counter
    var k = key
    for round in 0..<10 {
      if round > 0 {
        k.0 &+= 0x9E37_79B9  // golden ratio
        k.1 &+= 0xBB67_AE85  // sqrt(3) - 1
      }
      let product0 = UInt64(0xD251_1F53) &* UInt64(x.0)
      let product1 = UInt64(0xCD9E_8D57) &* UInt64(x.2)
      x = (
        UInt32(truncatingIfNeeded: product1 >> 32) ^ x.1 ^ k.0,
        UInt32(truncatingIfNeeded: product1),
        UInt32(truncatingIfNeeded: product0 >> 32) ^ x.3 ^ k.1,
        UInt32(truncatingIfNeeded: product0)
      )
    }
    return x
  }

  private static func counterWords(choiceIndex: Int, position: Int)
    -> (UInt32, UInt32, UInt32, UInt32)
  {
    let position = UInt64(truncatingIfNeeded: position)
    let choice = UInt64(truncatingIfNeeded: choiceIndex)
    return (
      UInt32(truncatingIfNeeded: position), UInt32(truncatingIfNeeded: position >> 32),
      UInt32(truncatingIfNeeded: choice), UInt32(truncatingIfNeeded: choice >> 32)
    )
  }

  private static func keyWords(_ seed: UInt64) -> (UInt32, UInt32) {
    (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
  }
}
