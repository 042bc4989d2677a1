public import CKernels

/// The persistent worker threads the kernels run on: created once per engine, joined when the
/// last reference goes away. Work is dispatched by the C kernels themselves (one fork/join
/// per operation, a few microseconds at most), never per row.
public final class ComputePool: @unchecked Sendable {
  let raw: OpaquePointer?
  public let threadCount: Int

  public init(threadCount: Int) {
    raw = tk_pool_create(Int32(max(1, threadCount)))
    self.threadCount = Int(tk_pool_thread_count(raw))
  }

  deinit { tk_pool_destroy(raw) }

  /// Lets the workers sleep until the next kernel instead of spinning for it: call it when the
  /// calling thread will do other work for a while (sampling, sending), so that other threads
  /// may use their cores.
  public func rest() { tk_pool_rest(raw) }

  /// Runs `body` with the C pool handle (for tests and benchmarks that call kernels directly).
  public func withRaw<R>(_ body: (OpaquePointer?) throws -> R) rethrows -> R { try body(raw) }
}
