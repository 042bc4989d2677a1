/// One part of a cached fragment: the keys and values of one layer and one KV head for the
/// tokens of one block, f16, behind a header that says what they are and a checksum, so a
/// worker holding that layer and head (in any layout) can take it, and a damaged value is
/// recognised rather than used.
///
/// Layout (little-endian): magic "TKVF", format version (u8), dtype (u8, 1 = f16), tokens
/// (u16), head dimension (u16), layer (u16), KV head (u16), reserved (u16), payload bytes
/// (u32), checksum of the payload (u64); then K as [tokens][headDim], then V likewise.
public struct FragmentPart: Equatable, Sendable {
  public struct Address: Hashable, Sendable {
    public let layer: Int
    public let kvHead: Int

    public init(layer: Int, kvHead: Int) {
      self.layer = layer
      self.kvHead = kvHead
    }
  }

  public static let headerSize = 28
  public static let formatVersion: UInt8 = 1
  static let magic: [UInt8] = Array("TKVF".utf8)
  static let dtypeF16: UInt8 = 1

  public let address: Address
  public let tokens: Int
  public let headDimension: Int
  /// `[tokens][headDimension]` f16 bits each.
  public let keys: [UInt16]
  public let values: [UInt16]

  public init(address: Address, tokens: Int, headDimension: Int, keys: [UInt16], values: [UInt16]) {
    self.address = address
    self.tokens = tokens
    self.headDimension = headDimension
    self.keys = keys
    self.values = values
  }

  /// Bytes of keys and values (f16): the stored form's payload, and what a part costs in
  /// memory.
  public var payloadBytes: Int { 2 * (keys.count + values.count) }

  /// The stored form: header, then keys and values (little-endian), written once in place.
  public func encoded() -> [UInt8] {
    var bytes = Self.magic
    bytes.reserveCapacity(Self.headerSize + payloadBytes)
    bytes += [Self.formatVersion, Self.dtypeF16]
    for field in [tokens, headDimension, address.layer, address.kvHead, 0] {
      withUnsafeBytes(of: UInt16(truncatingIfNeeded: field).littleEndian) { bytes += $0 }
    }
    withUnsafeBytes(of: UInt32(payloadBytes).littleEndian) { bytes += $0 }
    let checksumAt = bytes.count
    bytes += [UInt8](repeating: 0, count: 8)  // filled in once the payload is there
    for elements in [keys, values] {
      #if _endian(little)
        elements.withUnsafeBytes { bytes += $0 }
      #else
        for element in elements { withUnsafeBytes(of: element.littleEndian) { bytes += $0 } }
      #endif
    }
    let checksum = bytes.withUnsafeBytes {
      Self.checksum(UnsafeRawBufferPointer(rebasing: $0[Self.headerSize...]))
    }
    withUnsafeBytes(of: checksum.littleEndian) {
      bytes.replaceSubrange(checksumAt..<(checksumAt + 8), with: $0)
    }
    return bytes
  }

  /// Reads a stored part, checking that it is the one expected, whole and undamaged.
  public init(
    decoding bytes: [UInt8], expected address: Address, tokens: Int, headDimension: Int
  ) throws(FragmentError) {
    guard bytes.count >= Self.headerSize else { throw .truncated(bytes.count) }
    guard Array(bytes[0..<4]) == Self.magic else { throw .notAFragment }
    guard bytes[4] == Self.formatVersion else { throw .unsupportedVersion(bytes[4]) }
    guard bytes[5] == Self.dtypeF16 else { throw .unsupportedType(bytes[5]) }
    func u16(_ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }
    let shape = (tokens: u16(6), dim: u16(8), layer: u16(10), head: u16(12))
    guard shape.tokens == tokens, shape.dim == headDimension, shape.layer == address.layer,
      shape.head == address.kvHead
    else {
      throw .wrongShape(
        "tokens \(shape.tokens), head dimension \(shape.dim), layer \(shape.layer), "
          + "KV head \(shape.head); expected \(tokens), \(headDimension), \(address.layer), "
          + "\(address.kvHead)")
    }
    let payloadBytes = (0..<4).reduce(0) { $0 | Int(bytes[16 + $1]) << (8 * $1) }
    let checksum = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[20 + $1]) << (8 * $1) }
    let expectedBytes = 4 * tokens * headDimension
    guard payloadBytes == expectedBytes else {
      throw .wrongShape("payload of \(payloadBytes) bytes, expected \(expectedBytes)")
    }
    guard bytes.count == Self.headerSize + payloadBytes else { throw .truncated(bytes.count) }
    let computed = bytes.withUnsafeBytes {
      Self.checksum(UnsafeRawBufferPointer(rebasing: $0[Self.headerSize...]))
    }
    guard computed == checksum else { throw .checksumMismatch }
    let half = tokens * headDimension
    /// `half` elements from byte `start`, copied once.
    func elements(from start: Int) -> [UInt16] {
      [UInt16](unsafeUninitializedCapacity: half) { buffer, count in
        bytes.withUnsafeBytes { raw in
          UnsafeMutableRawBufferPointer(buffer).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 2 * half)]))
        }
        #if _endian(big)
          for index in 0..<half { buffer[index] = UInt16(littleEndian: buffer[index]) }
        #endif
        count = half
      }
    }
    self.init(
      address: address, tokens: tokens, headDimension: headDimension,
      keys: elements(from: Self.headerSize), values: elements(from: Self.headerSize + 2 * half))
  }

  /// A 64-bit checksum of the payload (FNV-1a over 8-byte words, then the tail bytes): catches
  /// truncation, bit flips and mixed-up values; not a defence against an adversary.
  static func checksum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    let prime: UInt64 = 0x0000_0100_0000_01b3
    var offset = 0
    while offset + 8 <= raw.count {
      let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
      hash = (hash ^ word) &* prime
      offset += 8
    }
    while offset < raw.count {
      hash = (hash ^ UInt64(raw[offset])) &* prime
      offset += 1
    }
    return hash ^ UInt64(raw.count)
  }

}

/// Why a stored fragment part cannot be used (it is then treated as missing and recomputed).
public enum FragmentError: Error, Equatable, Sendable, CustomStringConvertible {
  case truncated(Int)
  case notAFragment
  case unsupportedVersion(UInt8)
  case unsupportedType(UInt8)
  case wrongShape(String)
  case checksumMismatch

  public var description: String {
    switch self {
    case .truncated(let count): "fragment part truncated (\(count) bytes)"
    case .notAFragment: "not a fragment part (bad magic)"
    case .unsupportedVersion(let version): "fragment format version \(version) is not supported"
    case .unsupportedType(let type): "fragment data type \(type) is not supported"
    case .wrongShape(let detail): "fragment part of the wrong shape: \(detail)"
    case .checksumMismatch: "fragment part damaged (checksum mismatch)"
    }
  }
}
