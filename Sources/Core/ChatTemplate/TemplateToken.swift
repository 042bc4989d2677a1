/// One lexical token of a template, with where it starts.
struct TemplateToken: Sendable, Equatable {
  enum Kind: Sendable, Equatable {
    /// Literal output text, already whitespace-controlled.
    case text(String)
    case variableBegin
    case variableEnd
    case blockBegin
    case blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    /// An operator or punctuation: `+`, `//`, `==`, `(`, `.`, `|`, …
    case op(String)
    case endOfInput
  }

  var kind: Kind
  var location: TemplateSourceLocation

  /// How the token reads in an error message.
  var display: String {
    switch kind {
    case .text: "template text"
    case .variableBegin: "'{{'"
    case .variableEnd: "'}}'"
    case .blockBegin: "'{%'"
    case .blockEnd: "'%}'"
    case .name(let name): "'\(name)'"
    case .string: "string literal"
    case .integer(let value): "'\(value)'"
    case .float(let value): "'\(value)'"
    case .op(let op): "'\(op)'"
    case .endOfInput: "end of template"
    }
  }
}
