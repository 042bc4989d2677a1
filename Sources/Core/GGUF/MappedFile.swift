#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The bytes of a whole file in memory, read-only.
///
/// Mapped (the default), pages load on first touch, so mapping a model costs address space,
/// not resident memory: a worker that reads only its shard's tensors only faults in those
/// pages. The storage is immutable and released when the last reference goes away, which is
/// why the type can be shared across threads.
public final class MappedFile: @unchecked Sendable {
  /// How the file's bytes come into memory.
  public enum Loading: Sendable {
    /// Map the file: pages load on first touch and stay shared with the page cache.
    case mapped
    /// Read the file into private anonymous memory backed by transparent huge pages where the
    /// kernel allows: one TLB entry covers 2 MiB instead of 4 KiB, which matters when every
    /// token streams all the weights (decode is memory-bound).
    case hugePages
  }

  private enum Ownership {
    case mapping(length: Int)
    case allocation
  }

  public let path: String
  /// The file's bytes; valid for the lifetime of this object.
  public let bytes: UnsafeRawBufferPointer
  private let ownership: Ownership

  private init(path: String, bytes: UnsafeRawBufferPointer, ownership: Ownership) {
    self.path = path
    self.bytes = bytes
    self.ownership = ownership
  }

  public convenience init(path: String, loading: Loading = .mapped) throws(GGUFError) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw .cannotOpen(path: path, reason: Self.errnoText()) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .cannotOpen(path: path, reason: Self.errnoText()) }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw .cannotOpen(path: path, reason: "not a regular file")
    }
    let size = Int(info.st_size)
    guard size > 0 else {
      self.init(
        path: path, bytes: UnsafeRawBufferPointer(start: nil, count: 0), ownership: .allocation)
      return
    }
    switch loading {
    case .mapped:
      let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
      guard let address, address != MAP_FAILED else {
        throw .cannotOpen(path: path, reason: "mmap failed: \(Self.errnoText())")
      }
      self.init(
        path: path, bytes: UnsafeRawBufferPointer(start: address, count: size),
        ownership: .mapping(length: size))
    case .hugePages:
      let hugePage = 2 << 20
      let length = (size + hugePage - 1) / hugePage * hugePage
      let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
      guard let address, address != MAP_FAILED else {
        throw .cannotOpen(path: path, reason: "mmap failed: \(Self.errnoText())")
      }
      _ = madvise(address, length, MADV_HUGEPAGE)
      var done = 0
      while done < size {
        let count = read(fd, address + done, min(size - done, 1 << 26))
        guard count > 0 else {
          let reason = count < 0 ? Self.errnoText() : "unexpected end of file"
          munmap(address, length)
          throw .cannotOpen(path: path, reason: "read failed: \(reason)")
        }
        done += count
      }
      _ = mprotect(address, length, PROT_READ)
      self.init(
        path: path, bytes: UnsafeRawBufferPointer(start: address, count: size),
        ownership: .mapping(length: length))
    }
  }

  /// Holds a copy of `bytes` in memory as if it were a mapped file; for tests and for files
  /// built in memory (the test suite's GGUF writer).
  public convenience init(copying source: [UInt8], path: String = "<memory>") {
    let copy = UnsafeMutableRawBufferPointer.allocate(
      byteCount: max(source.count, 1), alignment: 64)
    copy.copyBytes(from: source)
    self.init(
      path: path, bytes: UnsafeRawBufferPointer(start: copy.baseAddress, count: source.count),
      ownership: .allocation)
  }

  deinit {
    guard let base = bytes.baseAddress else { return }
    switch ownership {
    case .mapping(let length): munmap(UnsafeMutableRawPointer(mutating: base), length)
    case .allocation: base.deallocate()
    }
  }

  private static func errnoText() -> String { String(cString: strerror(errno)) }
}
