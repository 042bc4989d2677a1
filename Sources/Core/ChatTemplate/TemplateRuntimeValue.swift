/// What an expression evaluates to while rendering: a plain value, or one of the things Jinja
/// has that plain data does not.
enum TemplateRuntimeValue {
  case value(TemplateValue)
  /// Jinja's default `Undefined`: renders empty, is falsy and iterates as empty, but refuses
  /// attribute access, item access, arithmetic and calls. Carries the message Jinja would give.
  case undefined(String)
  /// A `namespace()` object, by index into the interpreter's namespace table.
  case namespace(Int)
  /// A `{% macro %}`, by index into the interpreter's macro table.
  case macro(Int)

  static let none = TemplateRuntimeValue.value(.none)

  static func string(_ value: String) -> TemplateRuntimeValue { .value(.string(value)) }

  static func bool(_ value: Bool) -> TemplateRuntimeValue { .value(.bool(value)) }

  var isUndefined: Bool {
    if case .undefined = self { return true }
    return false
  }

  var isTruthy: Bool {
    switch self {
    case .value(let value): value.isTruthy
    case .undefined: false
    case .namespace, .macro: true
    }
  }

  /// The plain value, or `nil` for undefined, namespaces and macros.
  var plain: TemplateValue? {
    if case .value(let value) = self { return value }
    return nil
  }

  var typeName: String {
    switch self {
    case .value(let value): value.pythonTypeName
    case .undefined: "Undefined"
    case .namespace: "Namespace"
    case .macro: "Macro"
    }
  }
}

/// The state of one `namespace()` object: attributes in insertion order.
struct TemplateNamespace {
  var keys: [String] = []
  var values: [String: TemplateRuntimeValue] = [:]

  subscript(key: String) -> TemplateRuntimeValue? {
    get { values[key] }
    set {
      if values[key] == nil { keys.append(key) }
      values[key] = newValue
    }
  }
}

/// Arguments after evaluation.
struct TemplateEvaluatedArguments {
  var positional: [TemplateRuntimeValue] = []
  var keyword: [(name: String, value: TemplateRuntimeValue)] = []

  /// Binds to Python-style parameters by position then keyword; `nil` where not given.
  func bind(
    _ parameters: [String], callee: String, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> [TemplateRuntimeValue?] {
    guard positional.count <= parameters.count else {
      throw .invalidOperation(
        "\(callee) takes at most \(parameters.count) argument(s), got \(positional.count)",
        at: location)
    }
    var bound: [TemplateRuntimeValue?] =
      positional
      + Array(
        repeating: nil, count: parameters.count - positional.count)
    for (name, value) in keyword {
      guard let slot = parameters.firstIndex(of: name) else {
        throw .invalidOperation(
          "\(callee) got an unexpected keyword argument '\(name)'", at: location)
      }
      guard bound[slot] == nil else {
        throw .invalidOperation("\(callee) got multiple values for '\(name)'", at: location)
      }
      bound[slot] = value
    }
    return bound
  }
}

/// How rendering bounds its resources.
struct TemplateResourceLimits {
  var maxOutputBytes: Int
  var maxLoopIterations: Int
  var maxNestingDepth: Int

  /// Throws if a string would exceed the output bound.
  func check(_ string: String, at location: TemplateSourceLocation) throws(ChatTemplateError) {
    if string.utf8.count > maxOutputBytes {
      throw .limitExceeded(.outputSize(maxOutputBytes), at: location)
    }
  }

  /// Throws if `count` items repeated `times` times would exceed the output bound.
  func check(count: Int, times: Int, at location: TemplateSourceLocation)
    throws(ChatTemplateError)
  {
    let (total, overflow) = count.multipliedReportingOverflow(by: max(0, times))
    if overflow || total > maxOutputBytes {
      throw .limitExceeded(.outputSize(maxOutputBytes), at: location)
    }
  }

  /// Throws if a list or string of `count` items would exceed the output bound.
  func check(count: Int, at location: TemplateSourceLocation) throws(ChatTemplateError) {
    if count > maxOutputBytes { throw .limitExceeded(.outputSize(maxOutputBytes), at: location) }
  }
}
