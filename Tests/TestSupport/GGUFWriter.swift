public import Core

/// Builds GGUF files in memory for tests: synthetic models of any shape and type, and broken
/// files made on purpose. It writes exactly the layout `GGUFFile` documents, and exposes
/// knobs (raw counts, offsets, types) that a correct writer would never produce.
public struct GGUFWriter {
  public struct Tensor {
    public var name: String
    public var dimensions: [UInt64]
    public var rawType: UInt32
    public var data: [UInt8]
    /// Overrides the offset written in the tensor info (default: the next aligned position).
    public var offsetOverride: UInt64?

    public init(
      name: String, dimensions: [UInt64], rawType: UInt32, data: [UInt8],
      offsetOverride: UInt64? = nil
    ) {
      self.name = name
      self.dimensions = dimensions
      self.rawType = rawType
      self.data = data
      self.offsetOverride = offsetOverride
    }
  }

  public var version: UInt32 = 3
  public var magic: UInt32 = GGUFFile.magic
  public var alignment = 32
  public var metadata: [(String, GGUFValue)] = []
  public var tensors: [Tensor] = []
  /// Overrides the tensor and metadata counts written in the header.
  public var tensorCountOverride: UInt64?
  public var metadataCountOverride: UInt64?

  public init() {}

  public mutating func add(_ key: String, _ value: GGUFValue) { metadata.append((key, value)) }

  /// Adds an F32 tensor with the given values; `dimensions` in ggml order (row length first).
  public mutating func addF32(_ name: String, dimensions: [Int], values: [Float]) {
    var data: [UInt8] = []
    data.reserveCapacity(values.count * 4)
    for value in values { data.appendLittleEndian(value.bitPattern) }
    tensors.append(
      Tensor(
        name: name, dimensions: dimensions.map(UInt64.init), rawType: GGMLType.f32.rawValue,
        data: data))
  }

  /// Adds a tensor whose data is already encoded in `type`.
  public mutating func add(_ name: String, type: GGMLType, dimensions: [Int], data: [UInt8]) {
    tensors.append(
      Tensor(
        name: name, dimensions: dimensions.map(UInt64.init), rawType: type.rawValue, data: data)
    )
  }

  /// The whole file.
  public func bytes() -> [UInt8] {
    var out: [UInt8] = []
    out.appendLittleEndian(magic)
    out.appendLittleEndian(version)
    out.appendLittleEndian(tensorCountOverride ?? UInt64(tensors.count))
    out.appendLittleEndian(metadataCountOverride ?? UInt64(metadata.count))
    for (key, value) in metadata {
      out.appendString(key)
      out.appendLittleEndian(Self.typeCode(of: value))
      out.appendValue(value)
    }
    var nextOffset: UInt64 = 0
    var placed: [(offset: UInt64, data: [UInt8])] = []
    for tensor in tensors {
      out.appendString(tensor.name)
      out.appendLittleEndian(UInt32(tensor.dimensions.count))
      for dimension in tensor.dimensions { out.appendLittleEndian(dimension) }
      out.appendLittleEndian(tensor.rawType)
      let offset = tensor.offsetOverride ?? nextOffset
      out.appendLittleEndian(offset)
      placed.append((offset, tensor.data))
      let end = offset + UInt64(tensor.data.count)
      nextOffset = max(
        nextOffset, (end + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment))
    }
    while out.count % alignment != 0 { out.append(0) }
    let dataStart = out.count
    for (offset, data) in placed {
      let end = dataStart + Int(offset) + data.count
      if out.count < end { out.append(contentsOf: repeatElement(0, count: end - out.count)) }
      out.replaceSubrange(dataStart + Int(offset)..<end, with: data)
    }
    return out
  }

  static func typeCode(of value: GGUFValue) -> UInt32 {
    let code: GGUFValue.TypeCode =
      switch value {
      case .uint8: .uint8
      case .int8: .int8
      case .uint16: .uint16
      case .int16: .int16
      case .uint32: .uint32
      case .int32: .int32
      case .float32: .float32
      case .bool: .bool
      case .string: .string
      case .array: .array
      case .uint64: .uint64
      case .int64: .int64
      case .float64: .float64
      }
    return code.rawValue
  }
}

extension [UInt8] {
  public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }

  public mutating func appendString(_ string: String) {
    appendLittleEndian(UInt64(string.utf8.count))
    append(contentsOf: string.utf8)
  }

  mutating func appendValue(_ value: GGUFValue) {
    switch value {
    case .uint8(let v): appendLittleEndian(v)
    case .int8(let v): appendLittleEndian(v)
    case .uint16(let v): appendLittleEndian(v)
    case .int16(let v): appendLittleEndian(v)
    case .uint32(let v): appendLittleEndian(v)
    case .int32(let v): appendLittleEndian(v)
    case .float32(let v): appendLittleEndian(v.bitPattern)
    case .bool(let v): append(v ? 1 : 0)
    case .string(let s): appendString(s)
    case .uint64(let v): appendLittleEndian(v)
    case .int64(let v): appendLittleEndian(v)
    case .float64(let v): appendLittleEndian(v.bitPattern)
    case .array(let elements):
      let elementCode =
        elements.first.map(GGUFWriter.typeCode(of:)) ?? GGUFValue.TypeCode.uint8.rawValue
      appendLittleEndian(elementCode)
      appendLittleEndian(UInt64(elements.count))
      for element in elements { appendValue(element) }
    }
  }
}
