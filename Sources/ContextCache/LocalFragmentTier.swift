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

  /// Keeps a block (replacing an older copy). When it does not fit, the least recently used
  /// blocks go in one pass, down to 7/8 of the budget, so the next blocks kept (a prompt
  /// keeps dozens at once) fit without another pass over every block.
  public func keep(_ id: FragmentID, _ block: Block) {
    let bytes = block.values.reduce(0) { $0 + $1.payloadBytes }
    guard bytes <= capacityBytes else { return }
    state.withLock { state in
      if let old = state.blocks.removeValue(forKey: id) { state.bytes -= old.bytes }
      if state.bytes + bytes > capacityBytes {
        let target = capacityBytes - capacityBytes / 8 - bytes
        for (oldID, entry) in state.blocks.sorted(by: { $0.value.used < $1.value.used }) {
          guard state.bytes > target else { break }
          state.bytes -= entry.bytes
          state.blocks[oldID] = nil
        }
      }
      state.clock += 1
      state.blocks[id] = (block, bytes, state.clock)
      state.bytes += bytes
    }
  }
}
