// Template interpreter: walks the parsed statements and writes the output.
//
// Scoping follows jinja2: the render context is the outermost frame; each `for` iteration,
// `with` block and macro call gets a fresh frame, so a `{% set %}` inside them never leaks out
// (and does not carry over to the next iteration); `if` introduces no scope. `namespace()`
// objects live in a table so `{% set ns.x = … %}` is visible wherever `ns` is.
// Output size, total loop iterations and macro recursion are bounded by `ChatTemplateOptions`.

/// Renders one template once; create a fresh interpreter per render.
struct TemplateInterpreter {
  enum Flow { case normal, breakLoop, continueLoop }

  let limits: TemplateResourceLimits
  var frames: [[String: TemplateRuntimeValue]]
  var namespaces: [TemplateNamespace] = []
  var macros: [TemplateNode.Macro] = []
  var output = ""
  var emittedBytes = 0
  var iterationCount = 0
  var callDepth = 0
  var location = TemplateSourceLocation(line: 1, column: 1)

  init(context: [String: TemplateRuntimeValue], limits: TemplateResourceLimits) {
    self.frames = [context]
    self.limits = limits
  }

  /// Renders `nodes` and returns the output.
  mutating func render(_ nodes: [TemplateNode]) throws(ChatTemplateError) -> String {
    _ = try execute(nodes)
    return output
  }

  // MARK: - Scopes

  func lookup(_ name: String) -> TemplateRuntimeValue? {
    for frame in frames.reversed() {
      if let value = frame[name] { return value }
    }
    return nil
  }

  mutating func assign(_ name: String, _ value: TemplateRuntimeValue) {
    frames[frames.count - 1][name] = value
  }

  mutating func withFrame<T>(
    _ frame: [String: TemplateRuntimeValue],
    _ body: (inout TemplateInterpreter) throws(ChatTemplateError) -> T
  ) throws(ChatTemplateError) -> T {
    frames.append(frame)
    defer { frames.removeLast() }
    return try body(&self)
  }

  /// Runs `body` with output redirected, returning what it wrote.
  mutating func capture(
    _ body: (inout TemplateInterpreter) throws(ChatTemplateError) -> Void
  ) throws(ChatTemplateError) -> String {
    let saved = output
    output = ""
    defer { output = saved }
    try body(&self)
    return output
  }

  mutating func emit(_ text: String) throws(ChatTemplateError) {
    emittedBytes += text.utf8.count
    if emittedBytes > limits.maxOutputBytes {
      throw .limitExceeded(.outputSize(limits.maxOutputBytes), at: location)
    }
    output += text
  }

  // MARK: - Statements

  mutating func execute(_ nodes: [TemplateNode]) throws(ChatTemplateError) -> Flow {
    for node in nodes {
      let flow = try execute(node)
      if flow != .normal { return flow }
    }
    return .normal
  }

  private mutating func execute(_ node: TemplateNode) throws(ChatTemplateError) -> Flow {
    switch node {
    case .text(let text):
      try emit(text)
    case .output(let expression):
      let value = try evaluate(expression)
      try emit(try renderString(value, at: expression.location))
    case .conditional(let branches, let otherwise):
      for branch in branches where try evaluate(branch.condition).isTruthy {
        return try execute(branch.body)
      }
      return try execute(otherwise)
    case .forLoop(let loop):
      return try executeFor(loop)
    case .set(let target, let expression, let location):
      let value = try evaluate(expression)
      try assign(value, to: target, at: location)
    case .setBlock(let target, let body, let location):
      let text = try capture { interpreter throws(ChatTemplateError) in
        _ = try interpreter.execute(body)
      }
      try assign(.string(text), to: target, at: location)
    case .with(let assignments, let body):
      var frame: [String: TemplateRuntimeValue] = [:]
      for (name, expression) in assignments { frame[name] = try evaluate(expression) }
      return try withFrame(frame) { interpreter throws(ChatTemplateError) in
        try interpreter.execute(body)
      }
    case .macro(let macro):
      macros.append(macro)
      assign(macro.name, .macro(macros.count - 1))
    case .breakLoop:
      return .breakLoop
    case .continueLoop:
      return .continueLoop
    }
    return .normal
  }

  private mutating func assign(
    _ value: TemplateRuntimeValue, to target: TemplateAssignmentTarget,
    at location: TemplateSourceLocation
  ) throws(ChatTemplateError) {
    switch target {
    case .names(let names):
      if names.count == 1 {
        assign(names[0], value)
      } else {
        let items = try unpack(value, into: names.count, at: location)
        for (name, item) in zip(names, items) { assign(name, .value(item)) }
      }
    case .namespaceAttribute(let namespaceName, let attribute):
      guard case .namespace(let id) = lookup(namespaceName) else {
        throw .invalidOperation(
          "cannot assign attribute on non-namespace object '\(namespaceName)'", at: location)
      }
      namespaces[id][attribute] = value
    }
  }

  private func unpack(
    _ value: TemplateRuntimeValue, into count: Int, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> [TemplateValue] {
    let items = try iterate(value, at: location)
    guard items.count == count else {
      let problem = items.count > count ? "too many" : "not enough"
      throw .invalidOperation(
        "\(problem) values to unpack (expected \(count), got \(items.count))", at: location)
    }
    return items
  }

  private mutating func executeFor(_ loop: TemplateNode.ForLoop) throws(ChatTemplateError)
    -> Flow
  {
    location = loop.location
    var items = try iterate(try evaluate(loop.iterable), at: loop.iterable.location)
    if let filter = loop.filter {
      var kept: [TemplateValue] = []
      for item in items {
        try countIteration(at: loop.location)
        let frame = try bind(item, to: loop.targets, at: loop.location)
        let keep = try withFrame(frame) { interpreter throws(ChatTemplateError) in
          try interpreter.evaluate(filter).isTruthy
        }
        if keep { kept.append(item) }
      }
      items = kept
    }
    if items.isEmpty {
      return try withFrame([:]) { interpreter throws(ChatTemplateError) in
        try interpreter.execute(loop.otherwise)
      }
    }
    for (index, item) in items.enumerated() {
      try countIteration(at: loop.location)
      var frame = try bind(item, to: loop.targets, at: loop.location)
      frame["loop"] = .value(.dictionary(Self.loopInfo(index: index, items: items)))
      let flow = try withFrame(frame) { interpreter throws(ChatTemplateError) in
        try interpreter.execute(loop.body)
      }
      if flow == .breakLoop { break }
    }
    return .normal
  }

  private mutating func countIteration(at location: TemplateSourceLocation)
    throws(ChatTemplateError)
  {
    iterationCount += 1
    if iterationCount > limits.maxLoopIterations {
      throw .limitExceeded(.loopIterations(limits.maxLoopIterations), at: location)
    }
  }

  private func bind(
    _ item: TemplateValue, to targets: [String], at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> [String: TemplateRuntimeValue] {
    if targets.count == 1 { return [targets[0]: .value(item)] }
    let parts = try unpack(.value(item), into: targets.count, at: location)
    var frame: [String: TemplateRuntimeValue] = [:]
    for (name, part) in zip(targets, parts) { frame[name] = .value(part) }
    return frame
  }

  /// Jinja's `loop` object for iteration `index`.
  private static func loopInfo(index: Int, items: [TemplateValue]) -> TemplateDictionary {
    let count = items.count
    var info: TemplateDictionary = [
      "index": .int(index + 1), "index0": .int(index), "revindex": .int(count - index),
      "revindex0": .int(count - index - 1), "first": .bool(index == 0),
      "last": .bool(index == count - 1), "length": .int(count), "depth": 1, "depth0": 0,
    ]
    if index > 0 { info["previtem"] = items[index - 1] }
    if index + 1 < count { info["nextitem"] = items[index + 1] }
    return info
  }

  // MARK: - Conversions

  /// Python iteration: lists, dict keys, string characters; undefined iterates as empty.
  func iterate(
    _ value: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> [TemplateValue] {
    try TemplateFilters.items(value, at: location)
  }

  /// Python `str()` of a runtime value, as `{{ }}` prints it.
  func renderString(
    _ value: TemplateRuntimeValue, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> String {
    switch value {
    case .value(let plain): return plain.pythonString
    case .undefined: return ""
    case .namespace(let id):
      let namespace = namespaces[id]
      var parts: [String] = []
      for key in namespace.keys {
        guard let plain = namespace[key]?.plain else {
          throw .unsupported("printing a namespace holding non-data values", at: location)
        }
        parts.append(TemplateValue.pythonStringRepr(key) + ": " + plain.pythonRepr)
      }
      return "<Namespace {" + parts.joined(separator: ", ") + "}>"
    case .macro:
      throw .unsupported("printing a macro object", at: location)
    }
  }
}
