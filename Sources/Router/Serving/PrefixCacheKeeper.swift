import ContextCache
import Core

/// The serving loop's use of the context-fragment cache: before a step, it loads the cached
/// prefixes of the sequences the plan admits; after each chunk of a prompt ran, it keeps the
/// prompt blocks that chunk completed (not the loaded ones) — from the first choice of each
/// request, once each. Blocks are kept as they are computed because a sliding-window layer's
/// blocks are freed once the window has passed them: kept at the prompt's end, a long prompt
/// would have lost them. Without a cache, admitted sequences load nothing and nothing is
/// kept.
struct PrefixCacheKeeper {
  let fragments: FragmentCache?
  let blockSize: Int
  /// Cached blocks each sequence started with.
  private var loaded: [Int: Int] = [:]
  /// Requests whose prompt blocks went to the cache (or were kept by whoever computed them
  /// first: a request taken over).
  private var kept: Set<UInt64> = []
  /// Prompt blocks kept so far of requests whose prompt is still running.
  private var keptBlocks: [UInt64: Int] = [:]

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
    keptBlocks[request] = nil
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

  /// Keeps the prompt blocks of `request` that are whole among the first `computed` tokens
  /// of `sequence` (its first choice, which just ran a chunk of its prompt) and were not kept
  /// yet; `promptDone` when that chunk was the prompt's last.
  mutating func keep(
    request: UInt64, sequence: Int, prefix: CachedPrefix, computed: Int, promptDone: Bool,
    on engine: some BatchEngine
  ) {
    guard let fragments, !kept.contains(request) else { return }
    let whole = min(computed / blockSize, prefix.ids.count)
    let first = max(loaded[sequence] ?? 0, keptBlocks[request] ?? 0)
    if first < whole {
      engine.keepBlocks(
        sequence: sequence, first: first, ids: Array(prefix.ids[first..<whole]), cache: fragments)
    }
    if promptDone {
      kept.insert(request)
      keptBlocks[request] = nil
    } else {
      keptBlocks[request] = max(first, whole)
    }
  }
}
