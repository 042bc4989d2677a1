import Core

/// A minimal JSON reader that keeps object key order, which the goldens depend on
/// (`for k, v in d.items()` iterates in insertion order; Foundation's JSON types do not keep it).
struct FixtureJSON {
  struct ParseError: Error, CustomStringConvertible {
    var offset: Int
    var description: String { "invalid fixture JSON at byte \(offset)" }
  }

  private let bytes: [UInt8]
  private var index = 0

  static func parse(_ text: String) throws -> TemplateValue {
    var parser = FixtureJSON(bytes: Array(text.utf8))
    let value = try parser.value()
    parser.skipWhitespace()
    guard parser.index == parser.bytes.count else { throw ParseError(offset: parser.index) }
    return value
  }

  private init(bytes: [UInt8]) { self.bytes = bytes }

  private mutating func skipWhitespace() {
    while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
  }

  private mutating func expect(_ literal: String) throws {
    for byte in literal.utf8 {
      guard index < bytes.count, bytes[index] == byte else { throw ParseError(offset: index) }
      index += 1
    }
  }

  private mutating func value() throws -> TemplateValue {
    skipWhitespace()
    guard index < bytes.count else { throw ParseError(offset: index) }
    switch bytes[index] {
    case UInt8(ascii: "{"):
      index += 1
      var dictionary = TemplateDictionary()
      skipWhitespace()
      if bytes[index] == UInt8(ascii: "}") {
        index += 1
        return .dictionary(dictionary)
      }
      while true {
        skipWhitespace()
        let key = try string()
        skipWhitespace()
        try expect(":")
        dictionary[key] = try value()
        skipWhitespace()
        if bytes[index] == UInt8(ascii: ",") {
          index += 1
        } else {
          try expect("}")
          return .dictionary(dictionary)
        }
      }
    case UInt8(ascii: "["):
      index += 1
      var items: [TemplateValue] = []
      skipWhitespace()
      if bytes[index] == UInt8(ascii: "]") {
        index += 1
        return .array(items)
      }
      while true {
        items.append(try value())
        skipWhitespace()
        if bytes[index] == UInt8(ascii: ",") {
          index += 1
        } else {
          try expect("]")
          return .array(items)
        }
      }
    case UInt8(ascii: "\""):
      return .string(try string())
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .none
    default:
      let start = index
      while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
      let text = String(decoding: bytes[start..<index], as: UTF8.self)
      if let integer = Int(text) { return .int(integer) }
      guard let number = Double(text) else { throw ParseError(offset: start) }
      return .double(number)
    }
  }

  private mutating func string() throws -> String {
    try expect("\"")
    var scalars = String.UnicodeScalarView()
    var pendingHighSurrogate: UInt32?
    while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
      if bytes[index] == UInt8(ascii: "\\") {
        index += 1
        guard index < bytes.count else { throw ParseError(offset: index) }
        let escaped = bytes[index]
        index += 1
        let simple: [UInt8: Unicode.Scalar] = [
          UInt8(ascii: "n"): "\n", UInt8(ascii: "t"): "\t", UInt8(ascii: "r"): "\r",
          UInt8(ascii: "b"): "\u{08}", UInt8(ascii: "f"): "\u{0C}", UInt8(ascii: "/"): "/",
          UInt8(ascii: "\\"): "\\", UInt8(ascii: "\""): "\"",
        ]
        if let scalar = simple[escaped] {
          scalars.append(scalar)
          continue
        }
        guard escaped == UInt8(ascii: "u"), index + 4 <= bytes.count,
          let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw ParseError(offset: index) }
        index += 4
        if (0xD800..<0xDC00).contains(code) {
          pendingHighSurrogate = code
        } else if let high = pendingHighSurrogate, (0xDC00..<0xE000).contains(code) {
          pendingHighSurrogate = nil
          if let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)) {
            scalars.append(scalar)
          }
        } else if let scalar = Unicode.Scalar(code) {
          scalars.append(scalar)
        }
      } else {
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""),
          bytes[index] != UInt8(ascii: "\\")
        {
          index += 1
        }
        scalars.append(
          contentsOf: String(decoding: bytes[start..<index], as: UTF8.self).unicodeScalars)
      }
    }
    try expect("\"")
    return String(scalars)
  }
}

extension TemplateValue {
  subscript(key: String) -> TemplateValue? {
    guard case .dictionary(let dictionary) = self else { return nil }
    return dictionary[key]
  }

  var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  var arrayValue: [TemplateValue]? {
    if case .array(let value) = self { return value }
    return nil
  }

  var dictionaryValue: TemplateDictionary? {
    if case .dictionary(let value) = self { return value }
    return nil
  }
}
