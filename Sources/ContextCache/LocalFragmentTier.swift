public import Core
import Synchronization

/// The in-memory tier in front of Redis: whole blocks' parts, least recently used evicted
/// first, within a byte budget. Blocks are immutable and shared: every sequence that loads one
/// copies from the same arrays, which stay alive while any holder keeps them.
public final class LocalFragmentTier: Sendable {
  public typealias Block = [FragmentPart.Address: FragmentPart]

  private struct State {
    var blocks: [FragmentID: (block: Block, bytes: Int, used: UInt64)] = [:]
    var bytes = 0
    var clock: UInt64 = 0
  }

  public let capacityBytes: Int
  private let state = Mutex(State())

  public init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

  /// The blocks held here for `ids`, from the first, up to the first one that is not.
  public func prefix(_ ids: [FragmentID]) -> [Block] {
    state.withLock { state in
      var found: [Block] = []
      for id in ids {
        guard let entry = state.blocks[id] else { break }
        state.clock += 1
        state.blocks[id]?.used = state.clock
        found.append(entry.block)
      }
      return found
    }
  }

  /// Keeps a block (replacing an older copy), evicting the least recently used to fit.
  public func keep(_ id: FragmentID, _ block: Block) {
    let bytes = block.values.reduce(0) { $0 + 2 * ($1.keys.count + $1.values.count) }
    guard bytes <= capacityBytes else { return }
    state.withLock { state in
      if let old = state.blocks.removeValue(forKey: id) { state.bytes -= old.bytes }
      while state.bytes + bytes > capacityBytes,
        let oldest = state.blocks.min(by: { $0.value.used < $1.value.used })
      {
        state.bytes -= oldest.value.bytes
        state.blocks[oldest.key] = nil
      }
      state.clock += 1
      state.blocks[id] = (block, bytes, state.clock)
      state.bytes += bytes
    }
  }
}
