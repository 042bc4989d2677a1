/// A Swift type a GGUF metadata value can be read as.
public protocol GGUFDecodable: Sendable {
  init?(gguf value: GGUFValue)
  static var ggufTypeName: String { get }
}

extension Int: GGUFDecodable {
  public init?(gguf value: GGUFValue) {
    guard let int = value.intValue, value.boolValue == nil else { return nil }
    self = int
  }
  public static var ggufTypeName: String { "integer" }
}

extension Float: GGUFDecodable {
  public init?(gguf value: GGUFValue) {
    guard let double = value.doubleValue, value.boolValue == nil else { return nil }
    self = Float(double)
  }
  public static var ggufTypeName: String { "number" }
}

extension Double: GGUFDecodable {
  public init?(gguf value: GGUFValue) {
    guard let double = value.doubleValue, value.boolValue == nil else { return nil }
    self = double
  }
  public static var ggufTypeName: String { "number" }
}

extension Bool: GGUFDecodable {
  public init?(gguf value: GGUFValue) {
    guard let bool = value.boolValue else { return nil }
    self = bool
  }
  public static var ggufTypeName: String { "bool" }
}

extension String: GGUFDecodable {
  public init?(gguf value: GGUFValue) {
    guard let string = value.stringValue else { return nil }
    self = string
  }
  public static var ggufTypeName: String { "string" }
}

extension Array: GGUFDecodable where Element: GGUFDecodable {
  public init?(gguf value: GGUFValue) {
    guard let elements = value.arrayValue else { return nil }
    var decoded: [Element] = []
    decoded.reserveCapacity(elements.count)
    for element in elements {
      guard let one = Element(gguf: element) else { return nil }
      decoded.append(one)
    }
    self = decoded
  }
  public static var ggufTypeName: String { "array of \(Element.ggufTypeName)" }
}

extension GGUFFile {
  /// The value of a key that must be present and of type `T`.
  public func required<T: GGUFDecodable>(
    _ key: String, as _: T.Type = T.self
  ) throws(GGUFError) -> T {
    guard let value = try optional(key, as: T.self) else { throw .missingKey(key) }
    return value
  }

  /// The value of a key that may be absent (nil) but, when present, must be of type `T`.
  public func optional<T: GGUFDecodable>(
    _ key: String, as _: T.Type = T.self
  ) throws(GGUFError) -> T? {
    guard let value = metadata[key] else { return nil }
    guard let decoded = T(gguf: value) else {
      throw .wrongValueType(key: key, expected: T.ggufTypeName, found: value.typeName)
    }
    return decoded
  }

  /// The tensor named `name`, which must be present.
  public func requiredTensor(_ name: String) throws(GGUFError) -> GGUFTensorInfo {
    guard let info = tensor(named: name) else { throw .missingTensor(name) }
    return info
  }
}
