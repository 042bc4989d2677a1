// Expression evaluation with Python/Jinja semantics: `and`/`or` return an operand, `~`
// stringifies, `/` always gives a float, `//` and `%` floor, comparisons chain, and missing
// attributes or items are undefined rather than errors (but using an undefined value for
// anything except printing, testing, iterating or `~` is an error).

extension TemplateInterpreter {
  mutating func evaluate(_ expression: TemplateExpression) throws(ChatTemplateError)
    -> TemplateRuntimeValue
  {
    let at = expression.location
    switch expression.kind {
    case .literal(let value):
      return .value(value)
    case .name(let name):
      return lookup(name) ?? .undefined("'\(name)' is undefined")
    case .list(let items):
      var values: [TemplateValue] = []
      for item in items { values.append(try data(try evaluate(item), at: item.location)) }
      return .value(.array(values))
    case .dictionary(let pairs):
      var dictionary = TemplateDictionary()
      for pair in pairs {
        guard case .value(.string(let key)) = try evaluate(pair.key) else {
          throw .unsupported("dictionary keys other than strings", at: pair.key.location)
        }
        dictionary[key] = try data(try evaluate(pair.value), at: pair.value.location)
      }
      return .value(.dictionary(dictionary))
    case .attribute(let base, let name):
      return try attribute(name, of: try evaluate(base), at: at)
    case .item(let base, let index):
      return try item(try evaluate(index), of: try evaluate(base), at: at)
    case .slice(let base, let start, let stop, let step):
      let value = try evaluate(base)
      let bounds = try [start, stop, step].map { (part) throws(ChatTemplateError) -> Int? in
        guard let part else { return nil }
        return try sliceBound(try evaluate(part), at: part.location)
      }
      return try slice(value, start: bounds[0], stop: bounds[1], step: bounds[2], at: at)
    case .call(let callee, let arguments):
      return try call(callee, arguments, at: at)
    case .filter(let base, let name, let arguments):
      let input = try evaluate(base)
      let evaluated = try evaluate(arguments)
      return try TemplateFilters.apply(
        name, to: input, arguments: evaluated, limits: limits, at: at)
    case .test(let base, let name, let arguments, let negated):
      let input = try evaluate(base)
      let evaluated = try evaluate(arguments)
      let result = try TemplatePredicates.test(name, input, arguments: evaluated, at: at)
      return .bool(result != negated)
    case .unary(let op, let operand):
      return try unary(op, try evaluate(operand), at: at)
    case .binary(let op, let left, let right):
      return try binary(op, try evaluate(left), try evaluate(right), at: at)
    case .comparison(let first, let rest):
      var left = try evaluate(first)
      for (op, rightExpression) in rest {
        let right = try evaluate(rightExpression)
        guard try compare(op, left, right, at: rightExpression.location) else {
          return .bool(false)
        }
        left = right
      }
      return .bool(true)
    case .and(let left, let right):
      let value = try evaluate(left)
      return value.isTruthy ? try evaluate(right) : value
    case .or(let left, let right):
      let value = try evaluate(left)
      return value.isTruthy ? value : try evaluate(right)
    case .conditional(let then, let condition, let otherwise):
      if try evaluate(condition).isTruthy { return try evaluate(then) }
      guard let otherwise else {
        return .undefined("the inline if-expression evaluated to false and no else was given")
      }
      return try evaluate(otherwise)
    }
  }

  mutating func evaluate(_ arguments: TemplateArguments) throws(ChatTemplateError)
    -> TemplateEvaluatedArguments
  {
    var evaluated = TemplateEvaluatedArguments()
    for argument in arguments.positional { evaluated.positional.append(try evaluate(argument)) }
    for (name, argument) in arguments.keyword {
      evaluated.keyword.append((name, try evaluate(argument)))
    }
    return evaluated
  }

  /// The plain value to store in a list or dict; undefined values and objects cannot be.
  func data(
    _ value: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateValue {
    switch value {
    case .value(let plain): return plain
    case .undefined: throw .unsupported("an undefined value inside a list or dict", at: location)
    case .namespace, .macro:
      throw .unsupported("a \(value.typeName) object inside a list or dict", at: location)
    }
  }

  // MARK: - Access

  func attribute(
    _ name: String, of value: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    switch value {
    case .undefined(let message): throw .undefinedValue(message, at: location)
    case .namespace(let id):
      return namespaces[id][name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
    case .value(.dictionary(let dictionary)):
      return dictionary[name].map { .value($0) }
        ?? .undefined("'dict object' has no attribute '\(name)'")
    default:
      return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
    }
  }

  func item(
    _ key: TemplateRuntimeValue, of value: TemplateRuntimeValue,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    let missing = TemplateRuntimeValue.undefined("'\(value.typeName) object' has no such item")
    switch (value, key) {
    case (.undefined(let message), _): throw .undefinedValue(message, at: location)
    case (.value(.dictionary(let dictionary)), .value(.string(let name))):
      return dictionary[name].map { .value($0) } ?? missing
    case (.namespace, .value(.string(let name))):
      return try attribute(name, of: value, at: location)
    case (.value(.array(let items)), .value(let index)):
      guard let index = index.integerValue else { return missing }
      let position = index < 0 ? index + items.count : index
      return items.indices.contains(position) ? .value(items[position]) : missing
    case (.value(.string(let text)), .value(let index)):
      guard let index = index.integerValue else { return missing }
      let scalars = Array(text.unicodeScalars)
      let position = index < 0 ? index + scalars.count : index
      return scalars.indices.contains(position) ? .string(String(scalars[position])) : missing
    default:
      return missing
    }
  }

  private func sliceBound(
    _ value: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> Int? {
    switch value {
    case .value(.none): return nil
    case .value(let plain) where plain.integerValue != nil: return plain.integerValue
    default:
      throw .invalidOperation("slice indices must be integers or None", at: location)
    }
  }

  /// Python slicing of lists and strings.
  func slice(
    _ value: TemplateRuntimeValue, start: Int?, stop: Int?, step: Int?,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    let step = step ?? 1
    guard step != 0 else { throw .invalidOperation("slice step cannot be zero", at: location) }
    func indices(count: Int) -> [Int] {
      func clamp(_ bound: Int?, default defaultValue: Int) -> Int {
        guard let bound else { return defaultValue }
        let adjusted = bound < 0 ? bound + count : bound
        return step > 0 ? min(max(adjusted, 0), count) : min(max(adjusted, -1), count - 1)
      }
      let first = clamp(start, default: step > 0 ? 0 : count - 1)
      let last = clamp(stop, default: step > 0 ? count : -1)
      return Array(stride(from: first, to: last, by: step))
    }
    switch value {
    case .undefined(let message): throw .undefinedValue(message, at: location)
    case .value(.array(let items)):
      return .value(.array(indices(count: items.count).map { items[$0] }))
    case .value(.string(let text)):
      let scalars = Array(text.unicodeScalars)
      var result = String.UnicodeScalarView()
      for index in indices(count: scalars.count) { result.append(scalars[index]) }
      return .string(String(result))
    default:
      return .undefined("'\(value.typeName) object' cannot be sliced")
    }
  }

  // MARK: - Calls

  private mutating func call(
    _ callee: TemplateExpression, _ arguments: TemplateArguments,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    if case .attribute(let base, let method) = callee.kind {
      let receiver = try evaluate(base)
      let evaluated = try evaluate(arguments)
      if case .undefined(let message) = receiver { throw .undefinedValue(message, at: location) }
      return try TemplateMethods.call(
        method, on: receiver, arguments: evaluated, limits: limits, at: location)
    }
    if case .name(let name) = callee.kind, lookup(name) == nil {
      return try callGlobal(name, try evaluate(arguments), at: location)
    }
    let value = try evaluate(callee)
    switch value {
    case .macro(let id):
      return try callMacro(macros[id], try evaluate(arguments), at: location)
    case .undefined(let message):
      throw .undefinedValue(message, at: location)
    default:
      throw .invalidOperation("'\(value.typeName)' object is not callable", at: location)
    }
  }

  private mutating func callGlobal(
    _ name: String, _ arguments: TemplateEvaluatedArguments, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    switch name {
    case "raise_exception":
      let bound = try arguments.bind(["message"], callee: name, at: location)
      throw .raiseException(try renderString(bound[0] ?? .string(""), at: location))
    case "range":
      guard arguments.keyword.isEmpty, (1...3).contains(arguments.positional.count) else {
        throw .invalidOperation("range expects 1 to 3 integer arguments", at: location)
      }
      var numbers: [Int] = []
      for argument in arguments.positional {
        guard let number = argument.plain?.integerValue else {
          throw .invalidOperation("range arguments must be integers", at: location)
        }
        numbers.append(number)
      }
      let (start, stop) = numbers.count == 1 ? (0, numbers[0]) : (numbers[0], numbers[1])
      let step = numbers.count == 3 ? numbers[2] : 1
      guard step != 0 else {
        throw .invalidOperation("range() arg 3 must not be zero", at: location)
      }
      let estimate = ((Double(stop) - Double(start)) / Double(step)).rounded(.up)
      guard estimate <= Double(limits.maxLoopIterations) else {
        throw .limitExceeded(.loopIterations(limits.maxLoopIterations), at: location)
      }
      var values: [TemplateValue] = []
      var current = start
      while step > 0 ? current < stop : current > stop {
        values.append(.int(current))
        let (advanced, overflow) = current.addingReportingOverflow(step)
        if overflow { break }
        current = advanced
      }
      return .value(.array(values))
    case "namespace", "dict":
      guard arguments.positional.isEmpty else {
        throw .unsupported("positional arguments to \(name)()", at: location)
      }
      if name == "dict" {
        var dictionary = TemplateDictionary()
        for (key, value) in arguments.keyword { dictionary[key] = try data(value, at: location) }
        return .value(.dictionary(dictionary))
      }
      var namespace = TemplateNamespace()
      for (key, value) in arguments.keyword { namespace[key] = value }
      namespaces.append(namespace)
      return .namespace(namespaces.count - 1)
    default:
      throw .undefinedValue("'\(name)' is undefined", at: location)
    }
  }

  private mutating func callMacro(
    _ macro: TemplateNode.Macro, _ arguments: TemplateEvaluatedArguments,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateRuntimeValue {
    callDepth += 1
    defer { callDepth -= 1 }
    guard callDepth <= limits.maxNestingDepth else {
      throw .limitExceeded(.nestingDepth(limits.maxNestingDepth), at: location)
    }
    let bound = try arguments.bind(
      macro.parameters.map(\.name), callee: "macro '\(macro.name)'", at: location)
    var frame: [String: TemplateRuntimeValue] = [:]
    for (parameter, value) in zip(macro.parameters, bound) {
      if let value {
        frame[parameter.name] = value
      } else if let defaultValue = parameter.defaultValue {
        frame[parameter.name] = try evaluate(defaultValue)
      } else {
        frame[parameter.name] = .undefined("parameter '\(parameter.name)' was not provided")
      }
    }
    let savedFrames = frames
    frames = [frames[0], frame]
    defer { frames = savedFrames }
    let text = try capture { interpreter throws(ChatTemplateError) in
      _ = try interpreter.execute(macro.body)
    }
    return .string(text)
  }
}
