// Jinja's built-in tests (`value is name(args)`), with jinja2's semantics, including its
// quirks for undefined values (an undefined value `is iterable` and `is sequence`).

enum TemplatePredicates {
  /// Tests implemented here.
  static let supported: Set<String> = [
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false",
    "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower",
    "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "true",
    "undefined", "upper",
  ]

  /// Jinja built-in tests deliberately not implemented.
  static let unsupported: Set<String> = ["filter", "test"]

  typealias Value = TemplateRuntimeValue

  static func test(
    _ name: String, _ value: Value, arguments: TemplateEvaluatedArguments,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Bool {
    let plain = value.plain
    func other() throws(ChatTemplateError) -> Value {
      let bound = try arguments.bind(["other"], callee: "test '\(name)'", at: location)
      guard let other = bound[0] else {
        throw .invalidOperation("test '\(name)' needs an argument", at: location)
      }
      return other
    }
    func compare(_ op: TemplateExpression.ComparisonOperator) throws(ChatTemplateError) -> Bool {
      let interpreter = TemplateInterpreter(
        context: [:],
        limits: .init(maxOutputBytes: 0, maxLoopIterations: 0, maxNestingDepth: 0))
      return try interpreter.compare(op, value, try other(), at: location)
    }
    switch name {
    case "defined": return !value.isUndefined
    case "undefined": return value.isUndefined
    case "none": return plain == TemplateValue.none
    case "string": if case .string = plain { return true } else { return false }
    case "mapping": if case .dictionary = plain { return true } else { return false }
    case "boolean": if case .bool = plain { return true } else { return false }
    case "true": return plain == .bool(true)
    case "false": return plain == .bool(false)
    case "integer": if case .int = plain { return true } else { return false }
    case "float": if case .double = plain { return true } else { return false }
    case "number": return plain?.numericValue != nil
    case "callable": if case .macro = value { return true } else { return false }
    case "escaped": return false
    case "iterable", "sequence":
      switch value {
      case .undefined: return true
      case .value(.string), .value(.array), .value(.dictionary): return true
      default: return false
      }
    case "lower", "upper":
      let text = try TemplateFilters.string(value, at: location)
      let cased = text.unicodeScalars.filter { $0.properties.changesWhenCaseMapped }
      guard !cased.isEmpty else { return false }
      return name == "lower"
        ? cased.allSatisfy { !$0.properties.changesWhenLowercased }
        : cased.allSatisfy { !$0.properties.changesWhenUppercased }
    case "odd", "even", "divisibleby":
      guard let number = plain?.integerValue else {
        throw .invalidOperation(
          "test '\(name)' needs an integer, got \(value.typeName)", at: location)
      }
      if name == "odd" { return number % 2 != 0 }
      if name == "even" { return number % 2 == 0 }
      let bound = try arguments.bind(["num"], callee: "test 'divisibleby'", at: location)
      guard let divisor = bound[0]?.plain?.integerValue, divisor != 0 else {
        throw .invalidOperation("divisibleby needs a non-zero integer", at: location)
      }
      return number % divisor == 0
    case "eq", "equalto": return try compare(.equal)
    case "ne": return try compare(.notEqual)
    case "lt", "lessthan": return try compare(.less)
    case "le": return try compare(.lessOrEqual)
    case "gt", "greaterthan": return try compare(.greater)
    case "ge": return try compare(.greaterOrEqual)
    case "in": return try compare(.contains)
    case "sameas":
      let target = try other()
      switch (plain, target.plain) {
      case (.none?, .none?): return true
      case (.bool(let a)?, .bool(let b)?): return a == b
      case (nil, _), (_, nil): return TemplateInterpreter.equals(value, target)
      default: throw .unsupported("'sameas' on values other than none and booleans", at: location)
      }
    default:
      throw .unknownTest(name, at: location)
    }
  }
}
