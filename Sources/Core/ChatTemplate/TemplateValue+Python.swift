// Python semantics for template values: truthiness, `str()`, `repr()`, `==` and ordering.
//
// Jinja renders `{{ value }}` with Python's `str()`, so lists print as `['a', 1]`, `None` as
// `None` and floats with Python's shortest round-trip `repr` (`1e+16`, `0.1`, `2.0`).

extension TemplateValue {
  /// Python truthiness.
  var isTruthy: Bool {
    switch self {
    case .none: false
    case .bool(let value): value
    case .int(let value): value != 0
    case .double(let value): value != 0
    case .string(let value): !value.isEmpty
    case .array(let items): !items.isEmpty
    case .dictionary(let dictionary): !dictionary.isEmpty
    }
  }

  /// The Python type name, for error messages.
  var pythonTypeName: String {
    switch self {
    case .none: "NoneType"
    case .bool: "bool"
    case .int: "int"
    case .double: "float"
    case .string: "str"
    case .array: "list"
    case .dictionary: "dict"
    }
  }

  /// Python `str(value)`.
  var pythonString: String {
    switch self {
    case .string(let value): value
    default: pythonRepr
    }
  }

  /// Python `repr(value)`.
  var pythonRepr: String {
    switch self {
    case .none: "None"
    case .bool(let value): value ? "True" : "False"
    case .int(let value): String(value)
    case .double(let value): Self.pythonFloatRepr(value)
    case .string(let value): Self.pythonStringRepr(value)
    case .array(let items): "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
    case .dictionary(let dictionary):
      "{"
        + dictionary.entries.map { Self.pythonStringRepr($0.key) + ": " + $0.value.pythonRepr }
        .joined(separator: ", ") + "}"
    }
  }

  /// The value as a number, treating `bool` as Python does (`True == 1`).
  var numericValue: Double? {
    switch self {
    case .bool(let value): value ? 1 : 0
    case .int(let value): Double(value)
    case .double(let value): value
    default: nil
    }
  }

  /// The value as an integer if it is an `int` or `bool`.
  var integerValue: Int? {
    switch self {
    case .bool(let value): value ? 1 : 0
    case .int(let value): value
    default: nil
    }
  }

  /// Python `==`.
  static func pythonEquals(_ lhs: TemplateValue, _ rhs: TemplateValue) -> Bool {
    switch (lhs, rhs) {
    case (.none, .none): return true
    case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
    case (.array(let a), .array(let b)):
      return a.count == b.count && zip(a, b).allSatisfy { pythonEquals($0, $1) }
    case (.dictionary(let a), .dictionary(let b)):
      return a.count == b.count
        && a.entries.allSatisfy { entry in
          b[entry.key].map { pythonEquals(entry.value, $0) } ?? false
        }
    default:
      if let a = lhs.integerValue, let b = rhs.integerValue { return a == b }
      if let a = lhs.numericValue, let b = rhs.numericValue { return a == b }
      return false
    }
  }

  /// Python ordering: negative, zero or positive, or `nil` when Python would raise TypeError.
  static func pythonCompare(_ lhs: TemplateValue, _ rhs: TemplateValue) -> Int? {
    switch (lhs, rhs) {
    case (.string(let a), .string(let b)):
      return a.unicodeScalars.lexicographicallyPrecedes(
        b.unicodeScalars, by: { $0.value < $1.value })
        ? -1 : (a.unicodeScalars.elementsEqual(b.unicodeScalars) ? 0 : 1)
    case (.array(let a), .array(let b)):
      for (x, y) in zip(a, b) where !pythonEquals(x, y) { return pythonCompare(x, y) }
      return a.count < b.count ? -1 : (a.count == b.count ? 0 : 1)
    default:
      if let a = lhs.integerValue, let b = rhs.integerValue { return a < b ? -1 : (a == b ? 0 : 1) }
      guard let a = lhs.numericValue, let b = rhs.numericValue, !a.isNaN, !b.isNaN else {
        return nil
      }
      return a < b ? -1 : (a == b ? 0 : 1)
    }
  }

  /// Python `repr(float)`: shortest round-trip digits, exponent form below 1e-4 or from 1e16.
  static func pythonFloatRepr(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    let sign = value.sign == .minus ? "-" : ""
    let description = abs(value).description
    let parts = description.split(separator: "e", maxSplits: 1)
    let exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
    let mantissa = parts.first.map(String.init) ?? description
    let pieces = mantissa.split(separator: ".", omittingEmptySubsequences: false)
    let integerPart = pieces.first.map(String.init) ?? ""
    var digits = Array(integerPart + (pieces.count > 1 ? String(pieces[1]) : ""))
    var pointPosition = integerPart.count + exponent
    while digits.first == "0" {
      digits.removeFirst()
      pointPosition -= 1
    }
    while digits.last == "0" { digits.removeLast() }
    guard !digits.isEmpty else { return sign + "0.0" }
    let scientificExponent = pointPosition - 1
    if scientificExponent < -4 || scientificExponent >= 16 {
      let rest = digits.count > 1 ? "." + String(digits[1...]) : ""
      let magnitude = abs(scientificExponent)
      let exponentText = (magnitude < 10 ? "0" : "") + String(magnitude)
      return sign + String(digits[0]) + rest + "e" + (scientificExponent < 0 ? "-" : "+")
        + exponentText
    }
    if pointPosition <= 0 {
      return sign + "0." + String(repeating: "0", count: -pointPosition) + String(digits)
    }
    if pointPosition >= digits.count {
      return sign + String(digits) + String(repeating: "0", count: pointPosition - digits.count)
        + ".0"
    }
    return sign + String(digits[..<pointPosition]) + "." + String(digits[pointPosition...])
  }

  /// Python `repr(str)`: single quotes unless the text has `'` and no `"`.
  static func pythonStringRepr(_ value: String) -> String {
    let quote: Unicode.Scalar =
      value.unicodeScalars.contains("'") && !value.unicodeScalars.contains("\"") ? "\"" : "'"
    var result = String.UnicodeScalarView()
    result.append(quote)
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\\": result.append(contentsOf: "\\\\".unicodeScalars)
      case "\n": result.append(contentsOf: "\\n".unicodeScalars)
      case "\r": result.append(contentsOf: "\\r".unicodeScalars)
      case "\t": result.append(contentsOf: "\\t".unicodeScalars)
      case quote: result.append(contentsOf: ("\\" + String(quote)).unicodeScalars)
      default:
        if scalar.value < 0x20 || (0x7F...0xA0).contains(scalar.value) {
          result.append(contentsOf: "\\x\(hex(scalar.value, digits: 2))".unicodeScalars)
        } else {
          result.append(scalar)
        }
      }
    }
    result.append(quote)
    return String(result)
  }

  /// Lowercase hexadecimal, zero-padded to `digits`.
  static func hex(_ value: UInt32, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
  }
}
