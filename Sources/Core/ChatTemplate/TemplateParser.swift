// Template parser: recursive descent over lexer tokens into `TemplateNode` statements.
//
// The statement grammar and the tag names follow jinja2's `Parser`. Statements this
// interpreter implements: for (with `if` filter and `else`), if/elif/else, set (expression,
// namespace attribute and block forms), with, macro, print, break/continue (jinja2's
// loopcontrols, which Hugging Face enables). Other Jinja tags are reported as unsupported;
// unknown tags as syntax errors. Nesting is bounded by `ChatTemplateOptions.maxNestingDepth`.

/// Parses a token stream into a template body.
struct TemplateParser {
  var tokens: [TemplateToken]
  var index = 0
  let maxDepth: Int
  var depth = 0
  var loopDepth = 0

  /// Tags Jinja knows that this interpreter does not implement.
  private static let unsupportedTags: Set<String> = [
    "block", "extends", "include", "import", "from", "call", "filter", "autoescape",
    "generation", "do", "trans", "pluralize",
  ]

  init(tokens: [TemplateToken], maxDepth: Int) {
    self.tokens = tokens
    self.maxDepth = maxDepth
  }

  /// Parses the whole template.
  mutating func parseTemplate() throws(ChatTemplateError) -> [TemplateNode] {
    let (body, _) = try parseBody(until: [], opener: nil)
    return body
  }

  // MARK: - Token helpers

  var current: TemplateToken { tokens[min(index, tokens.count - 1)] }

  var next: TemplateToken { tokens[min(index + 1, tokens.count - 1)] }

  mutating func advance() { if index < tokens.count - 1 { index += 1 } }

  func isOperator(_ op: String) -> Bool { current.kind == .op(op) }

  func isName(_ name: String) -> Bool { current.kind == .name(name) }

  mutating func skip(operator op: String) -> Bool {
    guard isOperator(op) else { return false }
    advance()
    return true
  }

  mutating func skip(name: String) -> Bool {
    guard isName(name) else { return false }
    advance()
    return true
  }

  mutating func expect(operator op: String) throws(ChatTemplateError) {
    guard skip(operator: op) else { throw unexpected(expecting: "'\(op)'") }
  }

  mutating func expect(_ kind: TemplateToken.Kind, _ what: String) throws(ChatTemplateError) {
    guard current.kind == kind else { throw unexpected(expecting: what) }
    advance()
  }

  mutating func expectName() throws(ChatTemplateError) -> String {
    guard case .name(let name) = current.kind else { throw unexpected(expecting: "a name") }
    advance()
    return name
  }

  func unexpected(expecting what: String) -> ChatTemplateError {
    .syntax("unexpected \(current.display), expected \(what)", at: current.location)
  }

  /// Counts one level of recursion, failing past the nesting limit.
  mutating func enter() throws(ChatTemplateError) {
    depth += 1
    if depth > maxDepth { throw .limitExceeded(.nestingDepth(maxDepth), at: current.location) }
  }

  mutating func leave() { depth -= 1 }

  // MARK: - Statements

  /// Parses nodes until a `{% tag %}` named in `endTags`; returns the body and that tag name,
  /// leaving the parser just after the tag name.
  mutating func parseBody(
    until endTags: Set<String>, opener: (name: String, location: TemplateSourceLocation)?
  ) throws(ChatTemplateError) -> ([TemplateNode], String?) {
    var nodes: [TemplateNode] = []
    while true {
      let token = current
      switch token.kind {
      case .text(let text):
        nodes.append(.text(text))
        advance()
      case .variableBegin:
        advance()
        let value = try parseTuple()
        try expect(.variableEnd, "'}}'")
        nodes.append(.output(value))
      case .blockBegin:
        advance()
        guard case .name(let name) = current.kind else {
          throw unexpected(expecting: "a statement name")
        }
        if endTags.contains(name) {
          advance()
          return (nodes, name)
        }
        try enter()
        nodes.append(try parseStatement(name))
        leave()
      case .endOfInput:
        guard let opener else { return (nodes, nil) }
        let expected = endTags.sorted().map { "'\($0)'" }.joined(separator: " or ")
        throw .syntax(
          "unexpected end of template: '\(opener.name)' at \(opener.location) needs "
            + expected,
          at: token.location)
      default:
        throw unexpected(expecting: "template text or a tag")
      }
    }
  }

  private mutating func parseStatement(_ name: String) throws(ChatTemplateError) -> TemplateNode {
    let location = current.location
    advance()
    switch name {
    case "for": return try parseFor(at: location)
    case "if": return try parseIf(at: location)
    case "set": return try parseSet(at: location)
    case "with": return try parseWith(at: location)
    case "macro": return try parseMacro(at: location)
    case "print":
      let value = try parseTuple()
      try expect(.blockEnd, "'%}'")
      return .output(value)
    case "break", "continue":
      guard loopDepth > 0 else {
        throw .syntax("'\(name)' outside of a loop", at: location)
      }
      try expect(.blockEnd, "'%}'")
      return name == "break" ? .breakLoop : .continueLoop
    default:
      if Self.unsupportedTags.contains(name) {
        throw .unsupported("'\(name)' statement", at: location)
      }
      throw .syntax("unknown tag '\(name)'", at: location)
    }
  }

  private mutating func parseFor(at location: TemplateSourceLocation) throws(ChatTemplateError)
    -> TemplateNode
  {
    let targets = try parseTargetNames()
    guard skip(name: "in") else { throw unexpected(expecting: "'in'") }
    let iterable = try parseTuple(withConditional: false, extraEndNames: ["recursive", "if"])
    var filter: TemplateExpression?
    if skip(name: "if") { filter = try parseExpression() }
    if isName("recursive") { throw .unsupported("recursive for loop", at: current.location) }
    try expect(.blockEnd, "'%}'")
    loopDepth += 1
    let opener = (name: "for", location: location)
    let (body, end) = try parseBody(until: ["endfor", "else"], opener: opener)
    loopDepth -= 1
    var otherwise: [TemplateNode] = []
    if end == "else" {
      try expect(.blockEnd, "'%}'")
      (otherwise, _) = try parseBody(until: ["endfor"], opener: opener)
    }
    try expect(.blockEnd, "'%}'")
    return .forLoop(
      .init(
        targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise,
        location: location))
  }

  /// `a` or `a, b` or `(a, b)`: the names a `for` or `set` assigns.
  private mutating func parseTargetNames() throws(ChatTemplateError) -> [String] {
    let parenthesized = skip(operator: "(")
    var names = [try expectName()]
    while skip(operator: ",") {
      if case .name = current.kind, !isName("in") { names.append(try expectName()) } else { break }
    }
    if parenthesized { try expect(operator: ")") }
    return names
  }

  private mutating func parseIf(at location: TemplateSourceLocation) throws(ChatTemplateError)
    -> TemplateNode
  {
    var branches: [TemplateNode.Branch] = []
    var condition = try parseTuple(withConditional: false)
    let opener = (name: "if", location: location)
    while true {
      try expect(.blockEnd, "'%}'")
      let (body, end) = try parseBody(until: ["elif", "else", "endif"], opener: opener)
      branches.append(.init(condition: condition, body: body))
      switch end {
      case "elif":
        condition = try parseTuple(withConditional: false)
      case "else":
        try expect(.blockEnd, "'%}'")
        let (otherwise, _) = try parseBody(until: ["endif"], opener: opener)
        try expect(.blockEnd, "'%}'")
        return .conditional(branches, otherwise: otherwise)
      default:
        try expect(.blockEnd, "'%}'")
        return .conditional(branches, otherwise: [])
      }
    }
  }

  private mutating func parseSet(at location: TemplateSourceLocation) throws(ChatTemplateError)
    -> TemplateNode
  {
    let target: TemplateAssignmentTarget
    let first = try expectName()
    if skip(operator: ".") {
      target = .namespaceAttribute(namespace: first, attribute: try expectName())
    } else {
      var names = [first]
      while skip(operator: ",") { names.append(try expectName()) }
      target = .names(names)
    }
    if skip(operator: "=") {
      let value = try parseTuple()
      try expect(.blockEnd, "'%}'")
      return .set(target, value, at: location)
    }
    if isOperator("|") { throw .unsupported("filtered set block", at: current.location) }
    try expect(.blockEnd, "'%}'")
    let (body, _) = try parseBody(until: ["endset"], opener: (name: "set", location: location))
    try expect(.blockEnd, "'%}'")
    return .setBlock(target, body, at: location)
  }

  private mutating func parseWith(at location: TemplateSourceLocation) throws(ChatTemplateError)
    -> TemplateNode
  {
    var assignments: [(name: String, value: TemplateExpression)] = []
    while current.kind != .blockEnd {
      if !assignments.isEmpty { try expect(operator: ",") }
      let name = try expectName()
      try expect(operator: "=")
      assignments.append((name, try parseExpression()))
    }
    try expect(.blockEnd, "'%}'")
    let (body, _) = try parseBody(until: ["endwith"], opener: (name: "with", location: location))
    try expect(.blockEnd, "'%}'")
    return .with(assignments, body)
  }

  private mutating func parseMacro(at location: TemplateSourceLocation) throws(ChatTemplateError)
    -> TemplateNode
  {
    let name = try expectName()
    try expect(operator: "(")
    var parameters: [(name: String, defaultValue: TemplateExpression?)] = []
    while !isOperator(")") {
      if !parameters.isEmpty { try expect(operator: ",") }
      if isOperator(")") { break }
      let parameter = try expectName()
      var defaultValue: TemplateExpression?
      if skip(operator: "=") { defaultValue = try parseExpression() }
      if defaultValue == nil, parameters.last?.defaultValue != nil {
        throw .syntax("non-default argument follows default argument", at: current.location)
      }
      parameters.append((parameter, defaultValue))
    }
    try expect(operator: ")")
    try expect(.blockEnd, "'%}'")
    let savedLoopDepth = loopDepth
    loopDepth = 0
    let (body, _) = try parseBody(
      until: ["endmacro"], opener: (name: "macro", location: location))
    loopDepth = savedLoopDepth
    if case .name = current.kind { advance() }
    try expect(.blockEnd, "'%}'")
    return .macro(.init(name: name, parameters: parameters, body: body))
  }
}
