#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The bytes of a whole file in memory, read-only.
///
/// Mapped, pages load on first touch, so mapping a model costs address space,
/// not resident memory: a worker that reads only its shard's tensors only faults in those
/// pages. The storage is immutable and released when the last reference goes away, which is
/// why the type can be shared across threads.
public final class MappedFile: @unchecked Sendable {
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

  public convenience init(path: String) throws(GGUFError) {
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
    let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let address, address != MAP_FAILED else {
      throw .cannotOpen(path: path, reason: "mmap failed: \(Self.errnoText())")
    }
    self.init(
      path: path, bytes: UnsafeRawBufferPointer(start: address, count: size),
      ownership: .mapping(length: size))
  }

  /// Lets the kernel drop the pages read so far from this process's resident memory (they
  /// come back from the page cache if touched again). Called once a model's weights have been
  /// packed elsewhere, so the file's pages stop counting against the process.
  public func releaseResidentPages() {
    releaseResidentPages(in: 0..<bytes.count)
  }

  /// The same for the whole pages inside `range` (byte offsets into the file).
  public func releaseResidentPages(in range: Range<Int>) {
    guard case .mapping = ownership, let base = bytes.baseAddress else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (range.lowerBound + page - 1) / page * page
    let end = min(range.upperBound, bytes.count) / page * page
    guard start < end else { return }
    _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
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
