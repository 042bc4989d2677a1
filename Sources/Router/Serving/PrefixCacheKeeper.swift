import ContextCache
import Core

/// The serving loop's use of the context-fragment cache: before a step, it loads the cached
/// prefixes of the sequences the plan admits; after a prompt's last chunk ran, it keeps the
/// prompt's computed blocks (not the loaded ones) — from the first choice of each request,
/// once. Without a cache, admitted sequences load nothing and nothing is kept.
struct PrefixCacheKeeper {
  let fragments: FragmentCache?
  let blockSize: Int
  /// Cached blocks each sequence started with.
  private var loaded: [Int: Int] = [:]
  /// Requests whose prompt blocks went to the cache (or were kept by whoever computed them
  /// first: a request taken over).
  private var kept: Set<UInt64> = []

  init(fragments: FragmentCache?, blockSize: Int) {
    self.fragments = fragments
    self.blockSize = blockSize
  }

  /// Whether `request`'s prompt blocks went to the cache (so a replay can load them).
  func wasKept(_ request: UInt64) -> Bool { fragments != nil && kept.contains(request) }

  /// A request whose blocks need not be kept again.
  mutating func markKept(_ request: UInt64) { kept.insert(request) }

  mutating func forget(request: UInt64, sequences: [Int]) {
    kept.remove(request)
    for sequence in sequences { loaded[sequence] = nil }
  }

  /// Loads the `promised` blocks of `prefix` for `sequence` on `engine`; returns how many
  /// loaded (fewer when a part was evicted or damaged since the lookup: the sequence then
  /// computes from the first missing block).
  mutating func load(
    _ prefix: CachedPrefix, promised: Int, sequence: Int, on engine: some BatchEngine
  ) throws(EngineFailure) -> Int {
    let ids = Array(prefix.ids.prefix(promised))
    let count = try engine.loadCachedPrefix(
      sequence: sequence, ids: ids, blocks: prefix.blocks, cache: fragments)
    loaded[sequence] = count
    fragments?.stats.hitTokens.add(count * blockSize)
    if count < promised { fragments?.stats.partialMisses.add(1) }
    return count
  }

  /// Keeps the computed blocks of `request`'s prompt (its first choice is `sequence`, whose
  /// prompt just ran to its end).
  mutating func keep(
    request: UInt64, sequence: Int, prefix: CachedPrefix, on engine: some BatchEngine
  ) {
    guard let fragments, !kept.contains(request) else { return }
    kept.insert(request)
    let first = loaded[sequence] ?? 0
    guard first < prefix.ids.count else { return }
    engine.keepBlocks(
      sequence: sequence, first: first, ids: Array(prefix.ids[first...]), cache: fragments)
  }
}
