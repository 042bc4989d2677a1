// Jinja's built-in filters (`value | name(args)`), with jinja2's argument names and defaults.
// Filters Jinja has but this interpreter lacks are rejected at parse time as unsupported.

enum TemplateFilters {
  /// Filters implemented here.
  static let supported: Set<String> = [
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "indent",
    "int", "items", "join", "last", "length", "list", "lower", "map", "reject", "rejectattr",
    "replace", "reverse", "safe", "select", "selectattr", "string", "title", "tojson", "trim",
    "upper",
  ]

  /// Jinja built-in filters deliberately not implemented.
  static let unsupported: Set<String> = [
    "attr", "batch", "center", "dictsort", "filesizeformat", "forceescape", "format", "groupby",
    "max", "min", "pprint", "random", "round", "slice", "sort", "striptags", "sum", "truncate",
    "unique", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
  ]

  typealias Value = TemplateRuntimeValue

  static func apply(
    _ name: String, to input: Value, arguments: TemplateEvaluatedArguments,
    limits: TemplateResourceLimits, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Value {
    func bind(_ parameters: [String]) throws(ChatTemplateError) -> [Value?] {
      try arguments.bind(parameters, callee: "filter '\(name)'", at: location)
    }
    func text(_ value: Value) throws(ChatTemplateError) -> String {
      try string(value, at: location)
    }
    switch name {
    case "trim":
      let chars = try bind(["chars"])[0].flatMap { $0.plain == TemplateValue.none ? nil : $0 }
      return .string(TemplateText.strip(try text(input), characters: try chars.map(text)))
    case "length", "count":
      _ = try bind([])
      return .value(.int(try length(input, at: location)))
    case "upper": return .string(try text(input).uppercased())
    case "lower": return .string(try text(input).lowercased())
    case "title": return .string(TemplateText.title(try text(input)))
    case "capitalize": return .string(TemplateText.capitalize(try text(input)))
    case "string": return .string(try text(input))
    case "safe": return input
    case "e", "escape": return .string(TemplateText.htmlEscape(try text(input)))
    case "default", "d":
      let bound = try bind(["default_value", "boolean"])
      let useDefault = input.isUndefined || (bound[1]?.isTruthy == true && !input.isTruthy)
      return useDefault ? bound[0] ?? .string("") : input
    case "join":
      let bound = try bind(["d", "attribute"])
      let separator = try bound[0].map(text) ?? ""
      var parts: [String] = []
      for item in try items(input, at: location) {
        let element =
          try bound[1].map { (attribute) throws(ChatTemplateError) in
            try Self.attribute(attribute, of: item, at: location)
          } ?? .value(item)
        parts.append(try text(element))
      }
      let joined = parts.joined(separator: separator)
      try limits.check(joined, at: location)
      return .string(joined)
    case "first", "last":
      _ = try bind([])
      let all = try items(input, at: location)
      guard let item = name == "first" ? all.first : all.last else {
        return .undefined("No \(name) item, sequence was empty.")
      }
      return .value(item)
    case "tojson":
      let indent = try bind(["indent"])[0]
      let width = indent.flatMap { $0.plain == TemplateValue.none ? nil : $0.plain?.integerValue }
      if let indent, indent.plain != TemplateValue.none, width == nil {
        throw .unsupported("tojson indent that is not an integer", at: location)
      }
      guard let plain = input.plain else {
        throw .invalidOperation(
          "Object of type \(input.typeName) is not JSON serializable", at: location)
      }
      return .string(TemplateJSON.encode(plain, indent: width))
    case "int", "float":
      return try number(
        name, input, bind(name == "int" ? ["default", "base"] : ["default"]), location)
    case "replace":
      let bound = try bind(["old", "new", "count"])
      guard let old = bound[0], let new = bound[1] else {
        throw .invalidOperation("filter 'replace' needs old and new", at: location)
      }
      let count = bound[2]?.plain?.integerValue ?? -1
      let result = TemplateText.replace(try text(input), try text(old), try text(new), count: count)
      try limits.check(result, at: location)
      return .string(result)
    case "list":
      _ = try bind([])
      return .value(.array(try items(input, at: location)))
    case "items":
      _ = try bind([])
      switch input {
      case .undefined: return .value(.array([]))
      case .value(.dictionary(let dictionary)):
        return .value(.array(dictionary.entries.map { .array([.string($0.key), $0.value]) }))
      default:
        throw .invalidOperation("Can only get item pairs from a mapping.", at: location)
      }
    case "reverse":
      _ = try bind([])
      if case .value(.string(let value)) = input {
        return .string(TemplateText.string(value.unicodeScalars.reversed()))
      }
      return .value(.array(try items(input, at: location).reversed()))
    case "abs":
      _ = try bind([])
      switch input.plain {
      case .int(let value) where value != Int.min: return .value(.int(abs(value)))
      case .bool(let value): return .value(.int(value ? 1 : 0))
      case .double(let value): return .value(.double(abs(value)))
      default:
        throw .invalidOperation("bad operand type for abs(): '\(input.typeName)'", at: location)
      }
    case "indent":
      let bound = try bind(["width", "first", "blank"])
      return .string(try indent(try text(input), bound, at: location))
    case "map", "select", "reject", "selectattr", "rejectattr":
      return try TemplateFilters.sequence(name, input, arguments, limits: limits, at: location)
    default:
      throw .unknownFilter(name, at: location)
    }
  }

  // MARK: - Helpers shared with methods and tests

  /// Python `str()` of a runtime value; undefined is empty.
  static func string(_ value: Value, at location: TemplateSourceLocation)
    throws(ChatTemplateError) -> String
  {
    switch value {
    case .value(let plain): return plain.pythonString
    case .undefined: return ""
    case .namespace, .macro:
      throw .unsupported("converting a \(value.typeName) object to a string", at: location)
    }
  }

  /// Python iteration for filters: undefined is empty, dicts give keys, strings characters.
  static func items(_ value: Value, at location: TemplateSourceLocation)
    throws(ChatTemplateError) -> [TemplateValue]
  {
    switch value {
    case .undefined: return []
    case .value(.array(let items)): return items
    case .value(.dictionary(let dictionary)): return dictionary.keys.map { .string($0) }
    case .value(.string(let text)): return text.unicodeScalars.map { .string(String($0)) }
    default:
      throw .invalidOperation("'\(value.typeName)' object is not iterable", at: location)
    }
  }

  static func length(_ value: Value, at location: TemplateSourceLocation)
    throws(ChatTemplateError) -> Int
  {
    switch value {
    case .undefined: return 0
    case .value(.string(let text)): return text.unicodeScalars.count
    case .value(.array(let items)): return items.count
    case .value(.dictionary(let dictionary)): return dictionary.count
    default:
      throw .invalidOperation("object of type '\(value.typeName)' has no len()", at: location)
    }
  }

  /// Jinja's attribute lookup for `map(attribute=…)` and friends; dotted paths allowed.
  static func attribute(_ path: Value, of item: TemplateValue, at location: TemplateSourceLocation)
    throws(ChatTemplateError) -> Value
  {
    if case .value(.int(let index)) = path {
      guard case .array(let items) = item, items.indices.contains(index) else {
        return .undefined("no item \(index)")
      }
      return .value(items[index])
    }
    var current: Value = .value(item)
    for part in try string(path, at: location).split(separator: ".") {
      switch current {
      case .value(.dictionary(let dictionary)):
        current =
          dictionary[String(part)].map { .value($0) }
          ?? .undefined("'dict object' has no attribute '\(part)'")
      case .undefined(let message):
        throw .undefinedValue(message, at: location)
      default:
        current = .undefined("'\(current.typeName) object' has no attribute '\(part)'")
      }
    }
    return current
  }

  private static func number(
    _ name: String, _ input: Value, _ bound: [Value?], _ location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Value {
    let fallback = bound[0] ?? (name == "int" ? .value(.int(0)) : .value(.double(0)))
    let base = bound.count > 1 ? bound[1]?.plain?.integerValue ?? 10 : 10
    var asDouble: Double?
    switch input.plain {
    case .int(let value):
      return name == "int" ? .value(.int(value)) : .value(.double(Double(value)))
    case .bool(let value):
      return name == "int" ? .value(.int(value ? 1 : 0)) : .value(.double(value ? 1 : 0))
    case .double(let value): asDouble = value
    case .string(let text):
      let trimmed = TemplateText.strip(text, characters: nil).filter { $0 != "_" }
      if name == "int", let value = Int(trimmed, radix: base) { return .value(.int(value)) }
      asDouble = Double(trimmed)
    default: break
    }
    guard let value = asDouble, value.isFinite else { return fallback }
    if name == "float" { return .value(.double(value)) }
    guard let integer = Int(exactly: value.rounded(.towardZero)) else { return fallback }
    return .value(.int(integer))
  }

  private static func indent(_ text: String, _ bound: [Value?], at location: TemplateSourceLocation)
    throws(ChatTemplateError) -> String
  {
    let indention: String
    switch bound[0]?.plain {
    case nil: indention = "    "
    case .string(let value): indention = value
    case .int(let width): indention = String(repeating: " ", count: max(0, min(width, 1024)))
    default: throw .invalidOperation("indent width must be a string or integer", at: location)
    }
    let lines = TemplateText.splitLines(text + "\n")
    var result: String
    if bound[2]?.isTruthy == true {
      result = lines.joined(separator: "\n" + indention)
    } else {
      result = lines.first ?? ""
      let rest = lines.dropFirst()
      if !rest.isEmpty {
        result += "\n" + rest.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
      }
    }
    return bound[1]?.isTruthy == true ? indention + result : result
  }

  /// `map`, `select`, `reject`, `selectattr`, `rejectattr`.
  private static func sequence(
    _ name: String, _ input: Value, _ arguments: TemplateEvaluatedArguments,
    limits: TemplateResourceLimits, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Value {
    let values = try items(input, at: location)
    var positional = arguments.positional
    if name == "map" {
      if let attributeArgument = arguments.keyword.first(where: { $0.name == "attribute" }) {
        let fallback = arguments.keyword.first(where: { $0.name == "default" })?.value
        var mapped: [TemplateValue] = []
        for item in values {
          var result = try attribute(attributeArgument.value, of: item, at: location)
          if result.isUndefined, let fallback { result = fallback }
          guard let plain = result.plain else {
            throw .unsupported("map(attribute=…) yielding undefined values", at: location)
          }
          mapped.append(plain)
        }
        return .value(.array(mapped))
      }
      guard !positional.isEmpty else {
        throw .invalidOperation("map requires a filter argument", at: location)
      }
      let filter = try string(positional.removeFirst(), at: location)
      guard supported.contains(filter) else { throw .unknownFilter(filter, at: location) }
      let rest = TemplateEvaluatedArguments(positional: positional, keyword: arguments.keyword)
      var mapped: [TemplateValue] = []
      for item in values {
        let result = try apply(
          filter, to: .value(item), arguments: rest, limits: limits, at: location)
        guard let plain = result.plain else {
          throw .unsupported("map yielding undefined values", at: location)
        }
        mapped.append(plain)
      }
      return .value(.array(mapped))
    }
    let byAttribute = name.hasSuffix("attr")
    let keep = name.hasPrefix("select")
    var attributePath: Value?
    if byAttribute {
      guard !positional.isEmpty else {
        throw .invalidOperation("\(name) requires an attribute name", at: location)
      }
      attributePath = positional.removeFirst()
    }
    let testName = positional.isEmpty ? nil : try string(positional.removeFirst(), at: location)
    let testArguments = TemplateEvaluatedArguments(
      positional: positional, keyword: arguments.keyword)
    var selected: [TemplateValue] = []
    for item in values {
      let subject =
        try attributePath.map { (path) throws(ChatTemplateError) in
          try attribute(path, of: item, at: location)
        } ?? .value(item)
      let passes =
        try testName.map { (test) throws(ChatTemplateError) in
          try TemplatePredicates.test(test, subject, arguments: testArguments, at: location)
        } ?? subject.isTruthy
      if passes == keep { selected.append(item) }
    }
    return .value(.array(selected))
  }
}
