// Python methods templates call on values: `text.strip()`, `message.get('x')`, `d.items()`…
// Methods that would mutate a value are refused, as jinja2's ImmutableSandboxedEnvironment
// (which Hugging Face uses) refuses them.

enum TemplateMethods {
  typealias Value = TemplateRuntimeValue

  private static let mutatingListMethods: Set<String> = [
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
  ]
  private static let mutatingDictionaryMethods: Set<String> = [
    "pop", "popitem", "setdefault", "update", "clear",
  ]

  static func call(
    _ method: String, on receiver: Value, arguments: TemplateEvaluatedArguments,
    limits: TemplateResourceLimits, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Value {
    func bind(_ parameters: [String]) throws(ChatTemplateError) -> [Value?] {
      try arguments.bind(parameters, callee: "\(method)()", at: location)
    }
    func text(_ value: Value) throws(ChatTemplateError) -> String {
      guard case .value(.string(let text)) = value else {
        throw .invalidOperation(
          "\(method)() argument must be str, not \(value.typeName)", at: location)
      }
      return text
    }
    func optionalText(_ value: Value?) throws(ChatTemplateError) -> String? {
      guard let value, value.plain != TemplateValue.none else { return nil }
      return try text(value)
    }
    switch receiver {
    case .value(.string(let string)):
      switch method {
      case "strip", "lstrip", "rstrip":
        let chars = try optionalText(try bind(["chars"])[0])
        return .string(
          TemplateText.strip(
            string, characters: chars, leading: method != "rstrip", trailing: method != "lstrip"))
      case "split":
        let bound = try bind(["sep", "maxsplit"])
        let separator = try optionalText(bound[0])
        if separator == "" { throw .invalidOperation("empty separator", at: location) }
        let maxSplits = bound[1]?.plain?.integerValue ?? -1
        let parts = TemplateText.split(string, separator: separator, maxSplits: maxSplits)
        return .value(.array(parts.map { .string($0) }))
      case "startswith", "endswith":
        let bound = try bind(["prefix"])
        let candidates: [String]
        switch bound[0]?.plain {
        case .string(let single)?: candidates = [single]
        case .array(let many)?:
          candidates = try many.map { (item) throws(ChatTemplateError) in try text(.value(item)) }
        default:
          throw .invalidOperation("\(method)() needs a string or a list of strings", at: location)
        }
        let scalars = Array(string.unicodeScalars)
        return .bool(
          candidates.contains { candidate in
            let needle = Array(candidate.unicodeScalars)
            return method == "startswith"
              ? scalars.starts(with: needle) : scalars.reversed().starts(with: needle.reversed())
          })
      case "upper", "lower", "title", "capitalize":
        _ = try bind([])
        switch method {
        case "upper": return .string(string.uppercased())
        case "lower": return .string(string.lowercased())
        case "title": return .string(TemplateText.title(string))
        default: return .string(TemplateText.capitalize(string))
        }
      case "replace":
        let bound = try bind(["old", "new", "count"])
        guard let old = bound[0], let new = bound[1] else {
          throw .invalidOperation("replace() needs old and new", at: location)
        }
        let count = bound[2]?.plain?.integerValue ?? -1
        let result = TemplateText.replace(string, try text(old), try text(new), count: count)
        try limits.check(result, at: location)
        return .string(result)
      case "find":
        let needle = Array(try text(try bind(["sub"])[0] ?? .none).unicodeScalars)
        let scalars = Array(string.unicodeScalars)
        guard needle.count <= scalars.count else { return .value(.int(-1)) }
        for start in 0...(scalars.count - needle.count)
        where scalars[start..<start + needle.count].elementsEqual(needle) {
          return .value(.int(start))
        }
        return .value(.int(-1))
      case "join":
        let items = try TemplateFilters.items(try bind(["iterable"])[0] ?? .none, at: location)
        let parts = try items.map { (item) throws(ChatTemplateError) in try text(.value(item)) }
        let result = parts.joined(separator: string)
        try limits.check(result, at: location)
        return .string(result)
      default:
        break
      }
    case .value(.dictionary(let dictionary)):
      switch method {
      case "items":
        _ = try bind([])
        return .value(.array(dictionary.entries.map { .array([.string($0.key), $0.value]) }))
      case "keys":
        _ = try bind([])
        return .value(.array(dictionary.keys.map { .string($0) }))
      case "values":
        _ = try bind([])
        return .value(.array(dictionary.values))
      case "get":
        let bound = try bind(["key", "default"])
        guard case .value(.string(let key))? = bound[0] else {
          return bound[1] ?? .none
        }
        return dictionary[key].map { .value($0) } ?? bound[1] ?? .none
      case "cycle" where dictionary["index0"] != nil && dictionary["depth0"] != nil:
        guard !arguments.positional.isEmpty, case .int(let index)? = dictionary["index0"] else {
          throw .invalidOperation("no items for cycling given", at: location)
        }
        return arguments.positional[index % arguments.positional.count]
      default:
        if mutatingDictionaryMethods.contains(method) {
          throw .invalidOperation(
            "dict.\(method)() would modify an immutable value", at: location)
        }
      }
    case .value(.array):
      if mutatingListMethods.contains(method) {
        throw .invalidOperation("list.\(method)() would modify an immutable value", at: location)
      }
    case .namespace:
      throw .undefinedValue("'Namespace' object has no attribute '\(method)'", at: location)
    default:
      break
    }
    throw .unsupported("method '\(method)' on \(receiver.typeName)", at: location)
  }
}
