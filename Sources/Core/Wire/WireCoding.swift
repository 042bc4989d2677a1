/// Little-endian encoding of the wire format's fields. The reader checks every length and
/// count against the bytes that remain before it allocates anything, so a hostile count
/// cannot make a process allocate more than the message it received.
struct WireWriter {
  private(set) var bytes: [UInt8] = []

  mutating func write<T: FixedWidthInteger>(_ value: T) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func write(_ value: Int) { write(Int64(value)) }

  mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }

  mutating func write(_ string: String) {
    write(UInt32(string.utf8.count))
    bytes.append(contentsOf: string.utf8)
  }

  mutating func write(_ bytes: [UInt8]) {
    write(UInt32(bytes.count))
    self.bytes.append(contentsOf: bytes)
  }

  /// A count, then each string.
  mutating func write(strings: [String]) {
    write(UInt32(strings.count))
    for string in strings { write(string) }
  }

  mutating func write(_ range: Range<Int>) {
    write(range.lowerBound)
    write(range.upperBound)
  }

  /// f32 values as their raw little-endian bits (lossless).
  mutating func write(floats: UnsafeBufferPointer<Float>) {
    write(UInt32(floats.count))
    #if _endian(little)
      bytes.append(contentsOf: UnsafeRawBufferPointer(floats))
    #else
      for value in floats { write(value.bitPattern) }
    #endif
  }

  mutating func write<T: FixedWidthInteger>(array: [T]) {
    write(UInt32(array.count))
    for value in array { write(value) }
  }
}

struct WireReader {
  let bytes: [UInt8]
  private(set) var offset: Int

  init(_ bytes: [UInt8], offset: Int = 0) {
    self.bytes = bytes
    self.offset = offset
  }

  var remaining: Int { bytes.count - offset }

  private mutating func take(_ count: Int, _ what: String) throws(WireError) -> ArraySlice<UInt8> {
    guard count >= 0, count <= remaining else { throw .truncated(reading: what) }
    defer { offset += count }
    return bytes[offset..<offset + count]
  }

  mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(WireError) -> T {
    let slice = try take(MemoryLayout<T>.size, what)
    var value = T.zero
    for (index, byte) in slice.enumerated() { value |= T(truncatingIfNeeded: byte) << (8 * index) }
    return value
  }

  /// An Int64 field that must lie in `range`.
  mutating func readInt(_ what: String, in range: ClosedRange<Int> = 0...Int(Int32.max))
    throws(WireError) -> Int
  {
    let value = try read(Int64.self, what)
    guard let int = Int(exactly: value), range.contains(int) else { throw .outOfRange(what) }
    return int
  }

  mutating func readBool(_ what: String) throws(WireError) -> Bool {
    switch try read(UInt8.self, what) {
    case 0: false
    case 1: true
    default: throw .outOfRange(what)
    }
  }

  /// A count of elements of `size` bytes each that must fit in what remains.
  mutating func readCount(_ what: String, elementSize: Int) throws(WireError) -> Int {
    let count = Int(try read(UInt32.self, what))
    guard count <= remaining / max(elementSize, 1) else { throw .truncated(reading: what) }
    return count
  }

  mutating func readString(_ what: String, limit: Int = 4096) throws(WireError) -> String {
    let count = try readCount(what, elementSize: 1)
    guard count <= limit else { throw .outOfRange(what) }
    let slice = try take(count, what)
    guard let string = String(validating: slice, as: UTF8.self) else { throw .outOfRange(what) }
    return string
  }

  /// At most `WireLimits.peers` strings of at most `limit` bytes each.
  mutating func readStrings(_ what: String, limit: Int) throws(WireError) -> [String] {
    let count = try readCount(what, elementSize: 4)
    guard count <= WireLimits.peers else { throw .outOfRange(what) }
    var strings: [String] = []
    for _ in 0..<count { strings.append(try readString(what, limit: limit)) }
    return strings
  }

  mutating func readBytes(_ what: String, limit: Int) throws(WireError) -> [UInt8] {
    let count = try readCount(what, elementSize: 1)
    guard count <= limit else { throw .outOfRange(what) }
    return Array(try take(count, what))
  }

  /// A range with 0 ≤ lower ≤ upper ≤ `limit`.
  mutating func readRange(_ what: String, limit: Int = Int(Int32.max)) throws(WireError)
    -> Range<Int>
  {
    let lower = try readInt(what, in: 0...limit)
    let upper = try readInt(what, in: lower...limit)
    return lower..<upper
  }

  mutating func readFloats(_ what: String) throws(WireError) -> [Float] {
    let count = try readCount(what, elementSize: 4)
    let slice = try take(count * 4, what)
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      #if _endian(little)
        slice.withUnsafeBytes { raw in
          UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
        }
      #else
        for index in 0..<count {
          var bits: UInt32 = 0
          for byte in 0..<4 {
            bits |= UInt32(slice[slice.startIndex + 4 * index + byte]) << (8 * byte)
          }
          buffer[index] = Float(bitPattern: bits)
        }
      #endif
      initialized = count
    }
  }

  mutating func readArray<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(WireError)
    -> [T]
  {
    let count = try readCount(what, elementSize: MemoryLayout<T>.size)
    var values: [T] = []
    values.reserveCapacity(count)
    for _ in 0..<count { values.append(try read(T.self, what)) }
    return values
  }

  func finish() throws(WireError) {
    guard remaining == 0 else { throw .trailingBytes(remaining) }
  }
}
