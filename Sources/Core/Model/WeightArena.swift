#if canImport(Glibc)
  import Glibc
#endif

/// Memory for a shard's weights in kernel layout: one anonymous mapping, advised to use
/// transparent huge pages (decode streams every weight once per token, so TLB reach matters),
/// handed out by bumping an offset. Freed as a whole with the arena.
public final class WeightArena: @unchecked Sendable {
  private let base: UnsafeMutableRawPointer?
  private let capacity: Int
  public private(set) var usedBytes = 0

  public init(capacity requested: Int) throws(ModelError) {
    let hugePage = 2 << 20
    capacity = max((requested + hugePage - 1) / hugePage * hugePage, hugePage)
    let address = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let address, address != MAP_FAILED else {
      throw .invalidConfig("cannot reserve \(capacity) bytes for weights")
    }
    _ = madvise(address, capacity, MADV_HUGEPAGE)
    base = address
  }

  deinit {
    if let base { munmap(base, capacity) }
  }

  /// `byteCount` bytes aligned to 64, valid for the arena's lifetime.
  func allocate(_ byteCount: Int) throws(ModelError) -> UnsafeMutableRawPointer {
    let start = (usedBytes + 63) / 64 * 64
    guard let base, start + byteCount <= capacity else {
      throw .invalidConfig("weight arena of \(capacity) bytes is full")
    }
    usedBytes = start + byteCount
    return base + start
  }
}
