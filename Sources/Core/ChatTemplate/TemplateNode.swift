/// Arguments at a call site: `f(a, b, key=c)`.
struct TemplateArguments: Sendable {
  var positional: [TemplateExpression] = []
  var keyword: [(name: String, value: TemplateExpression)] = []

  var height: Int {
    (positional.map(\.height) + keyword.map(\.value.height)).max() ?? 0
  }
}

/// An expression in the template AST, with where it starts and how deep its tree is.
///
/// `height` is tracked so the parser can refuse trees (such as `1+1+…+1`) whose evaluation or
/// destruction would recurse deeper than the nesting limit.
struct TemplateExpression: Sendable {
  enum UnaryOperator: Sendable { case negate, plus, not }

  enum BinaryOperator: String, Sendable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case floorDivide = "//"
    case modulo = "%"
    case power = "**"
    case concatenate = "~"
  }

  enum ComparisonOperator: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case contains = "in"
    case notContains = "not in"
  }

  indirect enum Kind: Sendable {
    case literal(TemplateValue)
    case name(String)
    case list([TemplateExpression])
    case dictionary([(key: TemplateExpression, value: TemplateExpression)])
    case attribute(TemplateExpression, String)
    case item(TemplateExpression, TemplateExpression)
    case slice(
      TemplateExpression, start: TemplateExpression?, stop: TemplateExpression?,
      step: TemplateExpression?)
    case call(TemplateExpression, TemplateArguments)
    case filter(TemplateExpression, name: String, TemplateArguments)
    case test(TemplateExpression, name: String, TemplateArguments, negated: Bool)
    case unary(UnaryOperator, TemplateExpression)
    case binary(BinaryOperator, TemplateExpression, TemplateExpression)
    case comparison(TemplateExpression, [(ComparisonOperator, TemplateExpression)])
    case and(TemplateExpression, TemplateExpression)
    case or(TemplateExpression, TemplateExpression)
    case conditional(
      then: TemplateExpression, condition: TemplateExpression, otherwise: TemplateExpression?)
  }

  var kind: Kind
  var location: TemplateSourceLocation
  var height: Int

  init(_ kind: Kind, at location: TemplateSourceLocation) {
    self.kind = kind
    self.location = location
    self.height = 1 + Self.childHeight(kind)
  }

  private static func childHeight(_ kind: Kind) -> Int {
    switch kind {
    case .literal, .name: 0
    case .list(let items): items.map(\.height).max() ?? 0
    case .dictionary(let pairs): pairs.map { max($0.key.height, $0.value.height) }.max() ?? 0
    case .attribute(let base, _), .unary(_, let base): base.height
    case .item(let base, let index): max(base.height, index.height)
    case .slice(let base, let start, let stop, let step):
      [base.height, start?.height ?? 0, stop?.height ?? 0, step?.height ?? 0].max() ?? 0
    case .call(let base, let arguments), .filter(let base, _, let arguments),
      .test(let base, _, let arguments, _):
      max(base.height, arguments.height)
    case .binary(_, let left, let right), .and(let left, let right), .or(let left, let right):
      max(left.height, right.height)
    case .comparison(let first, let rest): max(first.height, rest.map(\.1.height).max() ?? 0)
    case .conditional(let then, let condition, let otherwise):
      max(then.height, condition.height, otherwise?.height ?? 0)
    }
  }
}

/// Where `{% set %}` / `{% for %}` store a value.
enum TemplateAssignmentTarget: Sendable {
  /// One name, or several to unpack a sequence into (`for k, v in …`).
  case names([String])
  /// `ns.attribute` on a `namespace()` object.
  case namespaceAttribute(namespace: String, attribute: String)
}

/// A statement in the template AST.
indirect enum TemplateNode: Sendable {
  struct Branch: Sendable {
    var condition: TemplateExpression
    var body: [TemplateNode]
  }

  struct ForLoop: Sendable {
    var targets: [String]
    var iterable: TemplateExpression
    var filter: TemplateExpression?
    var body: [TemplateNode]
    var otherwise: [TemplateNode]
    var location: TemplateSourceLocation
  }

  struct Macro: Sendable {
    var name: String
    var parameters: [(name: String, defaultValue: TemplateExpression?)]
    var body: [TemplateNode]
  }

  case text(String)
  case output(TemplateExpression)
  case conditional([Branch], otherwise: [TemplateNode])
  case forLoop(ForLoop)
  case set(TemplateAssignmentTarget, TemplateExpression, at: TemplateSourceLocation)
  case setBlock(TemplateAssignmentTarget, [TemplateNode], at: TemplateSourceLocation)
  case with([(name: String, value: TemplateExpression)], [TemplateNode])
  case macro(Macro)
  case breakLoop
  case continueLoop
}
