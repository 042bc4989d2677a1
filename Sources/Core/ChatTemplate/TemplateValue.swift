/// A value a chat template can see: the Python/JSON data model that Jinja templates expect.
///
/// Dictionaries keep insertion order (see ``TemplateDictionary``). Jinja's `Undefined` is not a
/// value here: a missing variable is simply absent from the render context.
public enum TemplateValue: Sendable, Equatable {
  /// Python `None` (`none`/`None` in templates).
  case none
  /// A boolean.
  case bool(Bool)
  /// An integer (Python ints are unbounded; overflow here is an error, never a wrap).
  case int(Int)
  /// A floating-point number.
  case double(Double)
  /// A string.
  case string(String)
  /// A list (Python tuples are also represented as lists).
  case array([TemplateValue])
  /// A string-keyed, insertion-ordered dictionary.
  case dictionary(TemplateDictionary)
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
  ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
  /// A string value.
  public init(stringLiteral value: String) { self = .string(value) }
  /// An integer value.
  public init(integerLiteral value: Int) { self = .int(value) }
  /// A floating-point value.
  public init(floatLiteral value: Double) { self = .double(value) }
  /// A boolean value.
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  /// A list value.
  public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
  /// A dictionary value, keeping the literal's key order.
  public init(dictionaryLiteral elements: (String, TemplateValue)...) {
    self = .dictionary(TemplateDictionary(elements))
  }
  /// `none`.
  public init(nilLiteral: ()) { self = .none }
}
