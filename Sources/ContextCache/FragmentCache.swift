public import Core
import Foundation
import Synchronization

/// The context-fragment cache as a shard uses it: which blocks of a prompt may be reused, the
/// longest prefix of them it can load (local tier first, then Redis), and keeping the blocks
/// it computes (locally at once, in Redis in the background).
public final class FragmentCache: Sendable {
  public let fingerprint: [UInt8]
  public let blockSize: Int
  public let fragments: KVFragments
  public let local: LocalFragmentTier
  public let store: FragmentStore?
  public var stats: FragmentStats { store?.stats ?? localStats }
  private let localStats = FragmentStats()
  private let writer = DispatchQueue(label: "tessera.fragments.writer")
  private let keptByWorkers = Mutex((ids: [FragmentID: UInt64](), clock: UInt64(0)))
  private static let keptByWorkersLimit = 1 << 16
  private let pendingWriteBytes = Atomic<Int>(0)
  private static let maxPendingWriteBytes = 256 << 20

  public init(
    fingerprint: [UInt8], blockSize: Int, fragments: KVFragments, local: LocalFragmentTier,
    store: FragmentStore?
  ) {
    self.fingerprint = fingerprint
    self.blockSize = blockSize
    self.fragments = fragments
    self.local = local
    self.store = store
  }

  /// The ids of the prompt's blocks that may come from the cache: whole blocks before the
  /// prompt's last token, which is always computed (its logits start the reply).
  public func ids(for prompt: [TokenID]) -> [FragmentID] {
    FragmentID.chain(
      tokens: Array(prompt.dropLast()), blockSize: blockSize, fingerprint: fingerprint)
  }

  /// The longest prefix of `ids` whose blocks can start a sequence on this shard (see
  /// `KVFragments.loadablePrefix`): from the local tier, then the rest from Redis (one round
  /// trip to find how far Redis goes, one to fetch — sliding-window layers' parts only for the
  /// blocks the window before the hit point reaches).
  public func prefix(_ ids: [FragmentID]) -> [LocalFragmentTier.Block] {
    stats.lookups.add(1)
    var blocks = Array(local.prefix(ids).prefix(while: isComplete))
    stats.localHits.add(blocks.count)
    if blocks.count < ids.count, let store {
      let remaining = Array(ids[blocks.count...])
      let promised = store.cachedPrefix(remaining)
      if promised > 0 {
        let hit = blocks.count + promised
        let wanted = (blocks.count..<hit).map {
          fragments.addresses(block: $0, hit: hit, blockSize: blockSize)
        }
        let fetched = store.fetch(
          Array(remaining[..<promised]), addresses: wanted, tokens: blockSize,
          headDimension: fragments.headDimension)
        // Only whole blocks go to the local tier, so its blocks serve a hit at any point.
        for (offset, block) in fetched.enumerated() where isComplete(block) {
          local.keep(remaining[offset], block)
        }
        blocks += fetched
      }
    }
    let loadable = fragments.loadablePrefix(blocks, blockSize: blockSize)
    if loadable < blocks.count { stats.partialMisses.add(1) }
    return Array(blocks.prefix(loadable))
  }

  /// How many of `ids`, from the first, the workers should be able to load, for a router
  /// whose workers fetch their own parts: blocks it told them to keep lately (in their local
  /// tiers, perhaps not yet in Redis), or else as far as Redis has them (one round trip).
  public func promisedByWorkers(_ ids: [FragmentID]) -> Int {
    stats.lookups.add(1)
    let kept = keptByWorkers.withLock { kept in ids.prefix { kept.ids[$0] != nil }.count }
    guard kept < ids.count, let store else { return kept }
    return max(kept, store.cachedPrefix(ids))
  }

  /// Notes blocks the workers were told to keep (a bounded memory, oldest forgotten first).
  public func noteKeptByWorkers(_ ids: [FragmentID]) {
    keptByWorkers.withLock { kept in
      for id in ids {
        kept.clock += 1
        kept.ids[id] = kept.clock
      }
      if kept.ids.count > Self.keptByWorkersLimit {
        let cutoff = kept.clock - UInt64(Self.keptByWorkersLimit / 2)
        kept.ids = kept.ids.filter { $0.value > cutoff }
      }
    }
  }

  /// Keeps blocks this shard computed: in the local tier now, in Redis in the background.
  /// Keeps `sequence`'s computed blocks `ids`, the first being its block `firstBlock`, as
  /// far as each is whole in `cache`: a block missing a part ends it (a prefix lookup could
  /// never reach past it).
  public func keep(sequence: Int, firstBlock: Int, ids: [FragmentID], from cache: PagedKVCache) {
    var blocks: [(id: FragmentID, parts: [FragmentPart])] = []
    for (offset, id) in ids.enumerated() {
      let parts = fragments.parts(of: sequence, block: firstBlock + offset, in: cache)
      guard parts.count == fragments.addresses.count else { break }
      blocks.append((id, parts))
    }
    keep(blocks)
  }

  public func keep(_ blocks: [(id: FragmentID, parts: [FragmentPart])]) {
    guard !blocks.isEmpty else { return }
    for block in blocks {
      local.keep(
        block.id, Dictionary(uniqueKeysWithValues: block.parts.map { ($0.address, $0) }))
    }
    guard let store else { return }
    // A Redis that is slow but alive must not make the queue grow without bound: past the
    // limit, blocks stay local only (counted).
    let bytes = blocks.reduce(0) { total, block in
      block.parts.reduce(total) { $0 + $1.payloadBytes }
    }
    guard pendingWriteBytes.add(bytes, ordering: .relaxed).newValue <= Self.maxPendingWriteBytes
    else {
      pendingWriteBytes.subtract(bytes, ordering: .relaxed)
      stats.skippedWrites.add(blocks.count)
      return
    }
    writer.async {
      store.store(blocks)
      self.pendingWriteBytes.subtract(bytes, ordering: .relaxed)
    }
  }

  /// Waits until every background write so far has been sent (tests, shutdown).
  public func flush() { writer.sync {} }

  private func isComplete(_ block: LocalFragmentTier.Block) -> Bool {
    fragments.addresses.allSatisfy { block[$0] != nil }
  }
}
