/// A position in a template's source: 1-based line and column (columns count Unicode scalars).
public struct TemplateSourceLocation: Sendable, Equatable, CustomStringConvertible {
  /// The 1-based line.
  public var line: Int
  /// The 1-based column, in Unicode scalars.
  public var column: Int

  /// Creates a location.
  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }

  /// `line:column`.
  public var description: String { "\(line):\(column)" }
}

/// A resource bound that a template hit while being parsed or rendered.
public enum TemplateLimit: Sendable, Equatable, CustomStringConvertible {
  /// Statements or expressions nested deeper than the limit.
  case nestingDepth(Int)
  /// The rendered output (or an intermediate string or list) grew past this many bytes/items.
  case outputSize(Int)
  /// More loop iterations (summed over all loops, including `range`) than the limit.
  case loopIterations(Int)

  /// A short human-readable statement of the limit.
  public var description: String {
    switch self {
    case .nestingDepth(let limit): "nesting deeper than \(limit) levels"
    case .outputSize(let limit): "output larger than \(limit) bytes"
    case .loopIterations(let limit): "more than \(limit) loop iterations"
    }
  }
}

/// Everything that can go wrong parsing or rendering a chat template.
///
/// Parsing and rendering never trap: malformed or hostile templates produce one of these.
public enum ChatTemplateError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The source is not valid Jinja (unclosed tag, unbalanced bracket, unknown statement…).
  case syntax(String, at: TemplateSourceLocation)
  /// A filter name that Jinja does not define.
  case unknownFilter(String, at: TemplateSourceLocation)
  /// A test name (`x is …`) that Jinja does not define.
  case unknownTest(String, at: TemplateSourceLocation)
  /// Valid Jinja that this interpreter deliberately does not implement; names the construct.
  case unsupported(String, at: TemplateSourceLocation)
  /// An operation on an undefined value that Jinja's default `Undefined` refuses
  /// (attribute or item access, arithmetic, calling it).
  case undefinedValue(String, at: TemplateSourceLocation)
  /// An operation on values of the wrong type (`'a' + 1`, division by zero, …).
  case invalidOperation(String, at: TemplateSourceLocation)
  /// The template called `raise_exception(message)`.
  case raiseException(String)
  /// A nesting, output-size or iteration bound was hit.
  case limitExceeded(TemplateLimit, at: TemplateSourceLocation)

  /// A one-line message naming the problem and, where known, its `line:column`.
  public var description: String {
    switch self {
    case .syntax(let message, let location):
      "template syntax error at \(location): \(message)"
    case .unknownFilter(let name, let location):
      "no filter named '\(name)' at \(location)"
    case .unknownTest(let name, let location):
      "no test named '\(name)' at \(location)"
    case .unsupported(let construct, let location):
      "unsupported template construct at \(location): \(construct)"
    case .undefinedValue(let message, let location):
      "undefined value at \(location): \(message)"
    case .invalidOperation(let message, let location):
      "invalid operation at \(location): \(message)"
    case .raiseException(let message):
      "template raised an exception: \(message)"
    case .limitExceeded(let limit, let location):
      "template limit exceeded at \(location): \(limit)"
    }
  }
}
