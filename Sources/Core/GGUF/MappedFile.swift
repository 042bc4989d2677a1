#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A read-only memory mapping of a whole file.
///
/// Pages are loaded on first touch, so mapping a model costs address space, not resident memory:
/// a worker that reads only its shard's tensors only ever faults in those pages.
/// The mapping is immutable and unmapped when the last reference goes away, which is why the
/// type can be shared across threads.
public final class MappedFile: @unchecked Sendable {
  public let path: String
  /// The mapped bytes; valid for the lifetime of this object.
  public let bytes: UnsafeRawBufferPointer
  private let isMapped: Bool

  public init(path: String) throws(GGUFError) {
    self.path = path
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
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      isMapped = false
      return
    }
    let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let address, address != MAP_FAILED else {
      throw .cannotOpen(path: path, reason: "mmap failed: \(Self.errnoText())")
    }
    bytes = UnsafeRawBufferPointer(start: address, count: size)
    isMapped = true
  }

  fileprivate init(ownedCopyOf source: [UInt8], path: String) {
    self.path = path
    let copy = UnsafeMutableRawBufferPointer.allocate(
      byteCount: max(source.count, 1), alignment: 64)
    copy.copyBytes(from: source)
    bytes = UnsafeRawBufferPointer(start: copy.baseAddress, count: source.count)
    isMapped = false
  }

  deinit {
    guard let base = bytes.baseAddress else { return }
    if isMapped {
      munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    } else {
      base.deallocate()
    }
  }

  private static func errnoText() -> String { String(cString: strerror(errno)) }
}

extension MappedFile {
  /// Holds a copy of `bytes` in memory as if it were a mapped file; for tests and for files
  /// built in memory (the test suite's GGUF writer).
  public convenience init(copying bytes: [UInt8], path: String = "<memory>") {
    self.init(ownedCopyOf: bytes, path: path)
  }
}
