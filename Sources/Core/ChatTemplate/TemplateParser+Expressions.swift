// Expression grammar, lowest to highest precedence, as in jinja2's `Parser`:
//   tuple      := expression (',' expression)*
//   expression := or ('if' or ('else' expression)?)*
//   or / and / not / comparison (chained, with `in`, `not in`)
//   + -  then  ~  then  * / // %  then  ** (left-associative, as jinja2)
//   unary      := ('-' | '+') unary-without-filters | primary, then postfix, then filters
//   postfix    := '.' name | '[' subscript ']' | '(' arguments ')'
//   filters    := '|' name ('(' arguments ')')? | 'is' 'not'? name argument? | call

extension TemplateParser {
  /// A comma-separated tuple (a list value) or a single expression.
  mutating func parseTuple(
    withConditional: Bool = true, extraEndNames: Set<String> = []
  ) throws(ChatTemplateError) -> TemplateExpression {
    let location = current.location
    var items: [TemplateExpression] = []
    var isTuple = false
    while true {
      if !items.isEmpty { try expect(operator: ",") }
      if isTupleEnd(extraEndNames) { break }
      items.append(withConditional ? try parseExpression() : try parseOr())
      if isOperator(",") { isTuple = true } else { break }
    }
    if !isTuple {
      guard let only = items.first else { throw unexpected(expecting: "an expression") }
      return only
    }
    return try make(.list(items), at: location)
  }

  private func isTupleEnd(_ extraEndNames: Set<String>) -> Bool {
    switch current.kind {
    case .variableEnd, .blockEnd, .endOfInput: true
    case .op(let op): op == ")"
    case .name(let name): extraEndNames.contains(name)
    default: false
    }
  }

  /// Builds a node, refusing trees taller than the nesting limit.
  func make(
    _ kind: TemplateExpression.Kind, at location: TemplateSourceLocation
  ) throws(ChatTemplateError) -> TemplateExpression {
    let node = TemplateExpression(kind, at: location)
    if node.height > maxDepth { throw .limitExceeded(.nestingDepth(maxDepth), at: location) }
    return node
  }

  /// A full expression, including `a if c else b`.
  mutating func parseExpression() throws(ChatTemplateError) -> TemplateExpression {
    try enter()
    defer { leave() }
    var result = try parseOr()
    while skip(name: "if") {
      let condition = try parseOr()
      var otherwise: TemplateExpression?
      if skip(name: "else") { otherwise = try parseExpression() }
      result = try make(
        .conditional(then: result, condition: condition, otherwise: otherwise),
        at: result.location)
    }
    return result
  }

  mutating func parseOr() throws(ChatTemplateError) -> TemplateExpression {
    var left = try parseAnd()
    while skip(name: "or") { left = try make(.or(left, try parseAnd()), at: left.location) }
    return left
  }

  private mutating func parseAnd() throws(ChatTemplateError) -> TemplateExpression {
    var left = try parseNot()
    while skip(name: "and") { left = try make(.and(left, try parseNot()), at: left.location) }
    return left
  }

  private mutating func parseNot() throws(ChatTemplateError) -> TemplateExpression {
    let location = current.location
    guard skip(name: "not") else { return try parseComparison() }
    try enter()
    defer { leave() }
    return try make(.unary(.not, try parseNot()), at: location)
  }

  private mutating func parseComparison() throws(ChatTemplateError) -> TemplateExpression {
    let first = try parseAdditive()
    var rest: [(TemplateExpression.ComparisonOperator, TemplateExpression)] = []
    while true {
      if case .op(let op) = current.kind,
        let comparison = TemplateExpression.ComparisonOperator(rawValue: op)
      {
        advance()
        rest.append((comparison, try parseAdditive()))
      } else if skip(name: "in") {
        rest.append((.contains, try parseAdditive()))
      } else if isName("not"), next.kind == .name("in") {
        advance()
        advance()
        rest.append((.notContains, try parseAdditive()))
      } else {
        break
      }
    }
    return rest.isEmpty ? first : try make(.comparison(first, rest), at: first.location)
  }

  private mutating func parseBinary(
    _ operators: [TemplateExpression.BinaryOperator],
    operand: (inout TemplateParser) throws(ChatTemplateError) -> TemplateExpression
  ) throws(ChatTemplateError) -> TemplateExpression {
    var left = try operand(&self)
    while case .op(let op) = current.kind,
      let binary = TemplateExpression.BinaryOperator(rawValue: op), operators.contains(binary)
    {
      advance()
      let right = try operand(&self)
      left = try make(.binary(binary, left, right), at: left.location)
    }
    return left
  }

  private mutating func parseAdditive() throws(ChatTemplateError) -> TemplateExpression {
    try parseBinary([.add, .subtract]) { parser throws(ChatTemplateError) in
      try parser.parseConcatenation()
    }
  }

  private mutating func parseConcatenation() throws(ChatTemplateError) -> TemplateExpression {
    try parseBinary([.concatenate]) { parser throws(ChatTemplateError) in
      try parser.parseMultiplicative()
    }
  }

  private mutating func parseMultiplicative() throws(ChatTemplateError) -> TemplateExpression {
    try parseBinary([.multiply, .divide, .floorDivide, .modulo]) {
      parser throws(ChatTemplateError) in try parser.parsePower()
    }
  }

  private mutating func parsePower() throws(ChatTemplateError) -> TemplateExpression {
    try parseBinary([.power]) { parser throws(ChatTemplateError) in try parser.parseUnary() }
  }

  private mutating func parseUnary(withFilters: Bool = true) throws(ChatTemplateError)
    -> TemplateExpression
  {
    let location = current.location
    var node: TemplateExpression
    if isOperator("-") || isOperator("+") {
      let op: TemplateExpression.UnaryOperator = isOperator("-") ? .negate : .plus
      advance()
      try enter()
      defer { leave() }
      node = try make(.unary(op, try parseUnary(withFilters: false)), at: location)
    } else {
      node = try parsePrimary()
    }
    node = try parsePostfix(node)
    return withFilters ? try parseFilters(node) : node
  }

  private mutating func parsePrimary() throws(ChatTemplateError) -> TemplateExpression {
    let token = current
    switch token.kind {
    case .name(let name):
      advance()
      switch name {
      case "true", "True": return try make(.literal(.bool(true)), at: token.location)
      case "false", "False": return try make(.literal(.bool(false)), at: token.location)
      case "none", "None": return try make(.literal(.none), at: token.location)
      default: return try make(.name(name), at: token.location)
      }
    case .string(var value):
      advance()
      while case .string(let more) = current.kind {
        value += more
        advance()
      }
      return try make(.literal(.string(value)), at: token.location)
    case .integer(let value):
      advance()
      return try make(.literal(.int(value)), at: token.location)
    case .float(let value):
      advance()
      return try make(.literal(.double(value)), at: token.location)
    case .op("("):
      advance()
      try enter()
      defer { leave() }
      if skip(operator: ")") { return try make(.list([]), at: token.location) }
      let inner = try parseTuple()
      try expect(operator: ")")
      return inner
    case .op("["):
      advance()
      try enter()
      defer { leave() }
      var items: [TemplateExpression] = []
      while !isOperator("]") {
        if !items.isEmpty { try expect(operator: ",") }
        if isOperator("]") { break }
        items.append(try parseExpression())
      }
      try expect(operator: "]")
      return try make(.list(items), at: token.location)
    case .op("{"):
      advance()
      try enter()
      defer { leave() }
      var pairs: [(key: TemplateExpression, value: TemplateExpression)] = []
      while !isOperator("}") {
        if !pairs.isEmpty { try expect(operator: ",") }
        if isOperator("}") { break }
        let key = try parseExpression()
        try expect(operator: ":")
        pairs.append((key, try parseExpression()))
      }
      try expect(operator: "}")
      return try make(.dictionary(pairs), at: token.location)
    default:
      throw unexpected(expecting: "an expression")
    }
  }

  private mutating func parsePostfix(_ base: TemplateExpression) throws(ChatTemplateError)
    -> TemplateExpression
  {
    var node = base
    while true {
      let location = current.location
      if skip(operator: ".") {
        switch current.kind {
        case .name(let name):
          advance()
          node = try make(.attribute(node, name), at: location)
        case .integer(let value):
          advance()
          node = try make(.item(node, try make(.literal(.int(value)), at: location)), at: location)
        default:
          throw unexpected(expecting: "an attribute name")
        }
      } else if isOperator("[") {
        node = try parseSubscript(node)
      } else if isOperator("(") {
        node = try make(.call(node, try parseArguments()), at: location)
      } else {
        return node
      }
    }
  }

  private mutating func parseSubscript(_ base: TemplateExpression) throws(ChatTemplateError)
    -> TemplateExpression
  {
    let location = current.location
    advance()
    try enter()
    defer { leave() }
    var start: TemplateExpression?
    if !isOperator(":") {
      start = try parseExpression()
      if isOperator(",") { throw .unsupported("tuple subscript", at: current.location) }
      if let index = start, skip(operator: "]") {
        return try make(.item(base, index), at: location)
      }
    }
    try expect(operator: ":")
    var stop: TemplateExpression?
    var step: TemplateExpression?
    if !isOperator("]"), !isOperator(":") { stop = try parseExpression() }
    if skip(operator: ":"), !isOperator("]") { step = try parseExpression() }
    try expect(operator: "]")
    return try make(.slice(base, start: start, stop: stop, step: step), at: location)
  }

  mutating func parseArguments() throws(ChatTemplateError) -> TemplateArguments {
    try expect(operator: "(")
    try enter()
    defer { leave() }
    var arguments = TemplateArguments()
    var first = true
    while !isOperator(")") {
      if !first { try expect(operator: ",") }
      first = false
      if isOperator(")") { break }
      if isOperator("*") || isOperator("**") {
        throw .unsupported("*args / **kwargs in a call", at: current.location)
      }
      if case .name(let name) = current.kind, next.kind == .op("=") {
        advance()
        advance()
        arguments.keyword.append((name, try parseExpression()))
      } else {
        guard arguments.keyword.isEmpty else {
          throw .syntax("positional argument follows keyword argument", at: current.location)
        }
        arguments.positional.append(try parseExpression())
      }
    }
    try expect(operator: ")")
    return arguments
  }

  private mutating func parseFilters(_ base: TemplateExpression) throws(ChatTemplateError)
    -> TemplateExpression
  {
    var node = base
    while true {
      let location = current.location
      if skip(operator: "|") {
        let name = try parseDottedName()
        guard TemplateFilters.supported.contains(name) else {
          if TemplateFilters.unsupported.contains(name) {
            throw .unsupported("filter '\(name)'", at: location)
          }
          throw .unknownFilter(name, at: location)
        }
        let arguments = isOperator("(") ? try parseArguments() : TemplateArguments()
        node = try make(.filter(node, name: name, arguments), at: location)
      } else if skip(name: "is") {
        let negated = skip(name: "not")
        let name = try parseDottedName()
        guard TemplatePredicates.supported.contains(name) else {
          if TemplatePredicates.unsupported.contains(name) {
            throw .unsupported("test '\(name)'", at: location)
          }
          throw .unknownTest(name, at: location)
        }
        var arguments = TemplateArguments()
        if isOperator("(") {
          arguments = try parseArguments()
        } else if startsTestArgument() {
          if isName("is") { throw .syntax("cannot chain tests with 'is'", at: current.location) }
          arguments.positional = [try parsePostfix(try parsePrimary())]
        }
        node = try make(
          .test(node, name: name, arguments, negated: negated), at: location)
      } else if isOperator("(") {
        node = try make(.call(node, try parseArguments()), at: location)
      } else {
        return node
      }
    }
  }

  private func startsTestArgument() -> Bool {
    switch current.kind {
    case .name(let name): !["else", "or", "and"].contains(name)
    case .string, .integer, .float: true
    case .op(let op): op == "(" || op == "[" || op == "{"
    default: false
    }
  }

  private mutating func parseDottedName() throws(ChatTemplateError) -> String {
    var name = try expectName()
    while isOperator("."), case .name(let part) = next.kind {
      advance()
      advance()
      name += "." + part
    }
    return name
  }
}
