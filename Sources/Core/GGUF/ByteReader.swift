/// A cursor over untrusted bytes: every read checks that the bytes are there first and throws
/// `GGUFError.truncated` naming what was being read when they are not.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer
  private(set) var offset: Int = 0

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  var remaining: Int { bytes.count - offset }

  private func require(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
    guard count >= 0, count <= remaining else {
      throw .truncated(what: what(), offset: offset, needed: count)
    }
  }

  mutating func read<T: FixedWidthInteger>(
    _: T.Type, _ what: @autoclosure () -> String
  ) throws(GGUFError) -> T {
    try require(MemoryLayout<T>.size, what())
    let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
    offset += MemoryLayout<T>.size
    return T(littleEndian: value)
  }

  mutating func readFloat(_ what: @autoclosure () -> String) throws(GGUFError) -> Float {
    Float(bitPattern: try read(UInt32.self, what()))
  }

  mutating func readDouble(_ what: @autoclosure () -> String) throws(GGUFError) -> Double {
    Double(bitPattern: try read(UInt64.self, what()))
  }

  /// A GGUF string: a uint64 byte length, then that many bytes of UTF-8 (no terminator).
  mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
    let start = offset
    let length = try read(UInt64.self, what())
    guard length <= UInt64(remaining) else {
      throw .countTooLarge(what: "length of \(what())", count: length, limit: UInt64(remaining))
    }
    let count = Int(length)
    let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    guard let string = String(validating: slice, as: UTF8.self) else {
      throw .invalidUTF8(what: what(), offset: start)
    }
    offset += count
    return string
  }

  /// Rejects a count of items that the remaining bytes cannot hold at `minimumSize` each,
  /// so a hostile count never becomes a huge allocation.
  func checkCount(
    _ count: UInt64, minimumSize: Int, _ what: @autoclosure () -> String
  ) throws(GGUFError) -> Int {
    let limit = UInt64(remaining / max(minimumSize, 1))
    guard count <= limit else { throw .countTooLarge(what: what(), count: count, limit: limit) }
    return Int(count)
  }

  mutating func align(to alignment: Int) {
    let aligned = (offset + alignment - 1) / alignment * alignment
    offset = min(aligned, bytes.count)
  }
}
