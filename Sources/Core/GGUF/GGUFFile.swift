/// A parsed GGUF file (versions 2 and 3): metadata, tensor infos and the memory-mapped data
/// section.
///
/// Layout, all little-endian (see ggml's `gguf.h`):
/// ```
/// magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
/// kv_count × (key: string, value_type u32, value)      string = u64 length + UTF-8 bytes
/// tensor_count × (name: string, n_dims u32, ne u64 × n_dims, type u32, offset u64)
/// padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
/// ```
/// Every count, length and offset is checked against the bytes actually present before it is
/// used, so a truncated or hostile file yields a `GGUFError`, never a trap or a huge allocation.
public final class GGUFFile: Sendable {
  public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as little-endian
  public static let defaultAlignment = 32
  static let maximumDimensions: UInt32 = 4
  static let maximumArrayNesting = 3

  public let version: UInt32
  /// Metadata keys in file order.
  public let metadataKeys: [String]
  public let metadata: [String: GGUFValue]
  /// Tensor infos in file order.
  public let tensors: [GGUFTensorInfo]
  public let alignment: Int
  /// Offset of the data section from the start of the file.
  public let dataOffset: Int
  private let tensorIndex: [String: Int]
  private let storage: MappedFile

  /// Maps and parses the file at `path`.
  public convenience init(path: String) throws(GGUFError) {
    try self.init(storage: MappedFile(path: path))
  }

  /// Drops the file's pages from resident memory (see `MappedFile.releaseResidentPages`).
  public func releaseResidentPages() { storage.releaseResidentPages() }

  /// Drops one tensor's pages from resident memory once it has been copied elsewhere.
  public func releaseResidentPages(of tensor: GGUFTensorInfo) {
    let start = dataOffset + tensor.offset
    storage.releaseResidentPages(in: start..<start + tensor.byteCount)
  }

  public init(storage: MappedFile) throws(GGUFError) {
    self.storage = storage
    var reader = ByteReader(storage.bytes)

    let magic = try reader.read(UInt32.self, "magic")
    guard magic == Self.magic else { throw .badMagic(found: magic) }
    let version = try reader.read(UInt32.self, "version")
    guard version == 2 || version == 3 else {
      if version.byteSwapped == 2 || version.byteSwapped == 3 { throw .bigEndianUnsupported }
      throw .unsupportedVersion(version)
    }
    self.version = version
    let tensorCount = try reader.read(UInt64.self, "tensor count")
    let kvCount = try reader.read(UInt64.self, "metadata count")

    let (keys, metadata) = try Self.readMetadata(&reader, count: kvCount)
    self.metadataKeys = keys
    self.metadata = metadata

    let alignment = try Self.alignment(in: metadata)
    self.alignment = alignment
    let infos = try Self.readTensorInfos(&reader, count: tensorCount)

    let dataOffset = (reader.offset + alignment - 1) / alignment * alignment
    self.dataOffset = dataOffset
    let dataSize = max(storage.bytes.count - dataOffset, 0)
    try Self.checkPlacement(infos, alignment: alignment, dataSize: dataSize)
    self.tensors = infos

    var index: [String: Int] = [:]
    for (position, info) in infos.enumerated() {
      guard index.updateValue(position, forKey: info.name) == nil else {
        throw .duplicateTensor(info.name)
      }
    }
    self.tensorIndex = index
  }

  /// The path the file was mapped from.
  public var path: String { storage.path }
  /// Size of the whole file in bytes.
  public var fileSize: Int { storage.bytes.count }

  /// The whole mapped file.
  var mappedBytes: UnsafeRawBufferPointer { storage.bytes }

  public func tensor(named name: String) -> GGUFTensorInfo? {
    tensorIndex[name].map { tensors[$0] }
  }

  /// The tensor's bytes inside the mapping; valid while this file object lives.
  public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
    let start = dataOffset + tensor.offset
    return UnsafeRawBufferPointer(rebasing: storage.bytes[start..<start + tensor.byteCount])
  }
}

extension GGUFFile {
  private static func readMetadata(
    _ reader: inout ByteReader, count: UInt64
  ) throws(GGUFError) -> ([String], [String: GGUFValue]) {
    // Smallest entry: empty key (8) + type (4) + one byte of value.
    let count = try reader.checkCount(count, minimumSize: 13, "metadata count")
    var keys: [String] = []
    var values: [String: GGUFValue] = [:]
    keys.reserveCapacity(count)
    for entry in 0..<count {
      let key = try reader.readString("metadata key #\(entry)")
      let rawType = try reader.read(UInt32.self, "value type of \(key)")
      let value = try readValue(&reader, rawType: rawType, key: key, depth: 0)
      guard values.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key) }
      keys.append(key)
    }
    return (keys, values)
  }

  private static func readValue(
    _ reader: inout ByteReader, rawType: UInt32, key: String, depth: Int
  ) throws(GGUFError) -> GGUFValue {
    guard let type = GGUFValue.TypeCode(rawValue: rawType) else {
      throw .unknownValueType(key: key, rawType: rawType)
    }
    switch type {
    case .uint8: return .uint8(try reader.read(UInt8.self, key))
    case .int8: return .int8(try reader.read(Int8.self, key))
    case .uint16: return .uint16(try reader.read(UInt16.self, key))
    case .int16: return .int16(try reader.read(Int16.self, key))
    case .uint32: return .uint32(try reader.read(UInt32.self, key))
    case .int32: return .int32(try reader.read(Int32.self, key))
    case .uint64: return .uint64(try reader.read(UInt64.self, key))
    case .int64: return .int64(try reader.read(Int64.self, key))
    case .float32: return .float32(try reader.readFloat(key))
    case .float64: return .float64(try reader.readDouble(key))
    case .bool:
      let byte = try reader.read(UInt8.self, key)
      guard byte <= 1 else { throw .valueOutOfRange(key: key, value: "bool byte \(byte)") }
      return .bool(byte == 1)
    case .string: return .string(try reader.readString(key))
    case .array:
      guard depth < maximumArrayNesting else { throw .nestingTooDeep(key: key) }
      let elementRawType = try reader.read(UInt32.self, "element type of \(key)")
      guard let elementType = GGUFValue.TypeCode(rawValue: elementRawType) else {
        throw .unknownValueType(key: key, rawType: elementRawType)
      }
      let rawCount = try reader.read(UInt64.self, "element count of \(key)")
      let count = try reader.checkCount(
        rawCount, minimumSize: elementType.minimumByteCount, "element count of \(key)")
      var elements: [GGUFValue] = []
      elements.reserveCapacity(count)
      for _ in 0..<count {
        elements.append(
          try readValue(&reader, rawType: elementRawType, key: key, depth: depth + 1))
      }
      return .array(elements)
    }
  }

  private static func alignment(in metadata: [String: GGUFValue]) throws(GGUFError) -> Int {
    guard let value = metadata["general.alignment"] else { return defaultAlignment }
    guard let raw = value.intValue, raw > 0, raw <= 65536, raw & (raw - 1) == 0 else {
      throw .invalidAlignment(UInt64(clamping: value.intValue ?? 0))
    }
    return raw
  }

  private static func readTensorInfos(
    _ reader: inout ByteReader, count: UInt64
  ) throws(GGUFError) -> [GGUFTensorInfo] {
    // Smallest info: empty name (8) + n_dims (4) + one dimension (8) + type (4) + offset (8).
    let count = try reader.checkCount(count, minimumSize: 32, "tensor count")
    var infos: [GGUFTensorInfo] = []
    infos.reserveCapacity(count)
    for entry in 0..<count {
      let name = try reader.readString("name of tensor #\(entry)")
      let dimensionCount = try reader.read(UInt32.self, "dimension count of \(name)")
      guard (1...maximumDimensions).contains(dimensionCount) else {
        throw .tooManyDimensions(tensor: name, count: dimensionCount)
      }
      var dimensions: [Int] = []
      var elementCount = 1
      for dimension in 0..<Int(dimensionCount) {
        let raw = try reader.read(UInt64.self, "dimension \(dimension) of \(name)")
        guard raw >= 1, raw <= UInt64(Int32.max) else {
          throw .invalidDimension(tensor: name, dimension: dimension, value: raw)
        }
        let (product, overflow) = elementCount.multipliedReportingOverflow(by: Int(raw))
        guard !overflow, product <= Int(Int32.max) * 64 else {
          throw .invalidDimension(tensor: name, dimension: dimension, value: raw)
        }
        elementCount = product
        dimensions.append(Int(raw))
      }
      let rawType = try reader.read(UInt32.self, "type of \(name)")
      guard let type = GGMLType(rawValue: rawType) else {
        throw .unknownTensorType(tensor: name, rawType: rawType)
      }
      guard let rowBytes = type.rowByteCount(elementCount: dimensions[0]) else {
        throw .rowNotBlockAligned(tensor: name, rowLength: dimensions[0], blockSize: type.blockSize)
      }
      let rows = elementCount / dimensions[0]
      let (byteCount, overflow) = rowBytes.multipliedReportingOverflow(by: rows)
      guard !overflow else {
        throw .invalidDimension(tensor: name, dimension: 0, value: UInt64(dimensions[0]))
      }
      let offset = try reader.read(UInt64.self, "data offset of \(name)")
      guard offset <= UInt64(Int.max / 2) else {
        throw .tensorOutOfBounds(tensor: name, offset: offset, byteCount: byteCount, dataSize: 0)
      }
      infos.append(
        GGUFTensorInfo(
          name: name, dimensions: dimensions, type: type, offset: Int(offset),
          byteCount: byteCount))
    }
    return infos
  }

  private static func checkPlacement(
    _ infos: [GGUFTensorInfo], alignment: Int, dataSize: Int
  ) throws(GGUFError) {
    for info in infos {
      guard info.offset % alignment == 0 else {
        throw .misalignedTensor(
          tensor: info.name, offset: UInt64(info.offset), alignment: alignment)
      }
      guard info.byteCount <= dataSize, info.offset <= dataSize - info.byteCount else {
        throw .tensorOutOfBounds(
          tensor: info.name, offset: UInt64(info.offset), byteCount: info.byteCount,
          dataSize: dataSize)
      }
    }
    let byStart = infos.sorted { $0.offset < $1.offset }
    for (previous, next) in zip(byStart, byStart.dropFirst())
    where next.offset < previous.offset + previous.byteCount {
      throw .overlappingTensors(previous.name, next.name)
    }
  }
}
