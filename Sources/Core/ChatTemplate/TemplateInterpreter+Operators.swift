// Arithmetic and comparison with Python semantics. Integers never wrap: overflow is an error.

import Foundation

extension TemplateInterpreter {
  func unary(
    _ op: TemplateExpression.UnaryOperator, _ value: TemplateRuntimeValue,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    if op == .not { return .bool(!value.isTruthy) }
    let plain = try defined(value, at: location)
    if let integer = plain.integerValue {
      if op == .plus { return .value(.int(integer)) }
      let (negated, overflow) = (0).subtractingReportingOverflow(integer)
      if overflow { throw .invalidOperation("integer overflow", at: location) }
      return .value(.int(negated))
    }
    if case .double(let number) = plain {
      return .value(.double(op == .negate ? -number : number))
    }
    let symbol = op == .negate ? "-" : "+"
    throw .invalidOperation(
      "bad operand type for unary \(symbol): '\(plain.pythonTypeName)'", at: location)
  }

  func defined(
    _ value: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateValue {
    switch value {
    case .value(let plain): return plain
    case .undefined(let message): throw .undefinedValue(message, at: location)
    case .namespace, .macro:
      throw .invalidOperation("unsupported operand type '\(value.typeName)'", at: location)
    }
  }

  func binary(
    _ op: TemplateExpression.BinaryOperator, _ leftValue: TemplateRuntimeValue,
    _ rightValue: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    if op == .concatenate {
      let text = try renderString(leftValue, at: location) + renderString(rightValue, at: location)
      try limits.check(text, at: location)
      return .string(text)
    }
    let left = try defined(leftValue, at: location)
    let right = try defined(rightValue, at: location)
    let typeError = ChatTemplateError.invalidOperation(
      "unsupported operand type(s) for \(op.rawValue): '\(left.pythonTypeName)' and "
        + "'\(right.pythonTypeName)'", at: location)
    switch (op, left, right) {
    case (.add, .string(let a), .string(let b)):
      try limits.check(count: a.utf8.count + b.utf8.count, at: location)
      return .string(a + b)
    case (.add, .array(let a), .array(let b)):
      try limits.check(count: a.count + b.count, at: location)
      return .value(.array(a + b))
    case (.multiply, .string(let text), _), (.multiply, _, .string(let text)):
      guard let times = (left.integerValue ?? right.integerValue) else { throw typeError }
      try limits.check(count: text.utf8.count, times: times, at: location)
      return .string(String(repeating: text, count: max(0, times)))
    case (.multiply, .array(let items), _), (.multiply, _, .array(let items)):
      guard let times = (left.integerValue ?? right.integerValue) else { throw typeError }
      try limits.check(count: items.count, times: times, at: location)
      return .value(
        .array(Array([[TemplateValue]](repeating: items, count: max(0, times)).joined())))
    default:
      break
    }
    if let a = left.integerValue, let b = right.integerValue {
      return try integerArithmetic(op, a, b, at: location)
    }
    guard let a = left.numericValue, let b = right.numericValue else { throw typeError }
    switch op {
    case .add: return .value(.double(a + b))
    case .subtract: return .value(.double(a - b))
    case .multiply: return .value(.double(a * b))
    case .divide:
      guard b != 0 else { throw .invalidOperation("float division by zero", at: location) }
      return .value(.double(a / b))
    case .floorDivide:
      guard b != 0 else { throw .invalidOperation("float floor division by zero", at: location) }
      return .value(.double((a / b).rounded(.down)))
    case .modulo:
      guard b != 0 else { throw .invalidOperation("float modulo by zero", at: location) }
      return .value(.double(Self.pythonModulo(a, b)))
    case .power:
      return .value(.double(try Self.power(a, b, at: location)))
    case .concatenate:
      throw typeError
    }
  }

  private func integerArithmetic(
    _ op: TemplateExpression.BinaryOperator, _ a: Int, _ b: Int,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    func checked(_ result: (partialValue: Int, overflow: Bool)) throws(ChatTemplateError)
      -> TemplateRuntimeValue
    {
      if result.overflow { throw .invalidOperation("integer overflow", at: location) }
      return .value(.int(result.partialValue))
    }
    switch op {
    case .add: return try checked(a.addingReportingOverflow(b))
    case .subtract: return try checked(a.subtractingReportingOverflow(b))
    case .multiply: return try checked(a.multipliedReportingOverflow(by: b))
    case .divide:
      guard b != 0 else { throw .invalidOperation("division by zero", at: location) }
      return .value(.double(Double(a) / Double(b)))
    case .floorDivide, .modulo:
      guard b != 0 else {
        throw .invalidOperation("integer division or modulo by zero", at: location)
      }
      let (quotient, overflow) = a.dividedReportingOverflow(by: b)
      if overflow { throw .invalidOperation("integer overflow", at: location) }
      let remainder = a - quotient * b
      let adjust = remainder != 0 && ((remainder < 0) != (b < 0))
      if op == .floorDivide { return .value(.int(adjust ? quotient - 1 : quotient)) }
      return .value(.int(adjust ? remainder + b : remainder))
    case .power:
      guard b >= 0 else {
        return .value(.double(try Self.power(Double(a), Double(b), at: location)))
      }
      var result = 1
      for _ in 0..<min(b, 64) {
        let (product, overflow) = result.multipliedReportingOverflow(by: a)
        if overflow { throw .invalidOperation("integer overflow", at: location) }
        result = product
      }
      if b > 64, abs(a) > 1 { throw .invalidOperation("integer overflow", at: location) }
      if b > 64, a == -1 { return .value(.int(b % 2 == 0 ? 1 : -1)) }
      return .value(.int(result))
    case .concatenate:
      return .string(String(a) + String(b))
    }
  }

  /// Python float `**`, refusing the cases where Python raises or returns a complex number.
  static func power(_ a: Double, _ b: Double, at location: TemplateSourceLocation)
    throws(ChatTemplateError) -> Double
  {
    if a == 0, b < 0 {
      throw .invalidOperation("0.0 cannot be raised to a negative power", at: location)
    }
    if a < 0, b != b.rounded() {
      throw .unsupported("complex result of a negative number's fractional power", at: location)
    }
    return Foundation.pow(a, b)
  }

  static func pythonModulo(_ a: Double, _ b: Double) -> Double {
    let remainder = a.truncatingRemainder(dividingBy: b)
    return remainder != 0 && ((remainder < 0) != (b < 0)) ? remainder + b : remainder
  }

  func compare(
    _ op: TemplateExpression.ComparisonOperator, _ left: TemplateRuntimeValue,
    _ right: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Bool {
    switch op {
    case .equal: return Self.equals(left, right)
    case .notEqual: return !Self.equals(left, right)
    case .contains: return try contains(right, left, at: location)
    case .notContains: return try !contains(right, left, at: location)
    default:
      let a = try defined(left, at: location)
      let b = try defined(right, at: location)
      guard let order = TemplateValue.pythonCompare(a, b) else {
        throw .invalidOperation(
          "'\(op.rawValue)' not supported between instances of '\(a.pythonTypeName)' and "
            + "'\(b.pythonTypeName)'", at: location)
      }
      switch op {
      case .less: return order < 0
      case .lessOrEqual: return order <= 0
      case .greater: return order > 0
      default: return order >= 0
      }
    }
  }

  static func equals(_ left: TemplateRuntimeValue, _ right: TemplateRuntimeValue) -> Bool {
    switch (left, right) {
    case (.value(let a), .value(let b)): TemplateValue.pythonEquals(a, b)
    case (.undefined, .undefined): true
    case (.namespace(let a), .namespace(let b)), (.macro(let a), .macro(let b)): a == b
    default: false
    }
  }

  /// Python `needle in container`.
  func contains(
    _ container: TemplateRuntimeValue, _ needle: TemplateRuntimeValue,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Bool {
    switch container {
    case .undefined: return false
    case .value(.string(let text)):
      guard case .value(.string(let part)) = needle else {
        throw .invalidOperation(
          "'in <string>' requires string as left operand, not \(needle.typeName)", at: location)
      }
      return part.isEmpty || text.unicodeScalars.firstRange(of: part.unicodeScalars) != nil
    case .value(.array(let items)):
      return items.contains { Self.equals(.value($0), needle) }
    case .value(.dictionary(let dictionary)):
      guard case .value(.string(let key)) = needle else { return false }
      return dictionary[key] != nil
    case .namespace(let id):
      guard case .value(.string(let key)) = needle else { return false }
      return namespaces[id][key] != nil
    default:
      throw .invalidOperation(
        "argument of type '\(container.typeName)' is not iterable", at: location)
    }
  }
}
