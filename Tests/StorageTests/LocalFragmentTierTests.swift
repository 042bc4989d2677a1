import ContextCache
import Core
import Testing

/// The local tier's budget and LRU order, without Redis.
@Suite struct LocalFragmentTierTests {
  /// A block of one part whose payload is `bytes` (f16 keys and values).
  func block(_ bytes: Int) -> LocalFragmentTier.Block {
    let address = FragmentPart.Address(layer: 0, kvHead: 0)
    let half = [UInt16](repeating: 1, count: bytes / 4)
    return [
      address: FragmentPart(
        address: address, tokens: 1, headDimension: bytes / 4, keys: half, values: half)
    ]
  }

  func ids(_ count: Int) -> [FragmentID] {
    FragmentID.chain(tokens: (0..<Int32(count)).map { $0 }, blockSize: 1, fingerprint: [9])
  }

  @Test func theLeastRecentlyUsedGoFirstAndTheBudgetHolds() {
    let tier = LocalFragmentTier(capacityBytes: 8_000)
    let ids = ids(12)
    for id in ids[0..<8] { tier.keep(id, block(1_000)) }  // exactly full
    #expect(tier.prefix(Array(ids[0..<8])).count == 8)
    _ = tier.prefix([ids[0]])  // block 0 is now the most recently used
    tier.keep(ids[8], block(1_000))  // evicts down to 7/8 of the budget: blocks 1 and 2
    #expect(tier.prefix([ids[0]]).count == 1)
    #expect(tier.prefix([ids[1]]).isEmpty && tier.prefix([ids[2]]).isEmpty)
    #expect(tier.prefix(Array(ids[3...8])).count == 6)
    tier.keep(ids[9], block(1_000))  // fits without evicting
    #expect(tier.prefix([ids[0], ids[9]]).count == 2)
    tier.keep(ids[10], block(9_000))  // larger than the whole budget: not kept, nothing lost
    #expect(tier.prefix([ids[10]]).isEmpty && tier.prefix([ids[9]]).count == 1)
  }
}
