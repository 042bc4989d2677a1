/// A string-keyed dictionary that remembers insertion order, like a Python `dict`.
///
/// Order matters to templates: `for k, v in d.items()` and dict literals iterate in the order
/// keys were first inserted. Equality ignores order, as Python's does.
public struct TemplateDictionary: Sendable, Equatable, ExpressibleByDictionaryLiteral {
  /// The keys, in insertion order.
  public private(set) var keys: [String] = []
  private var storage: [String: TemplateValue] = [:]

  /// An empty dictionary.
  public init() {}

  /// A dictionary with the given entries, in order; a repeated key keeps its first position
  /// and its last value.
  public init(_ entries: [(String, TemplateValue)]) {
    for (key, value) in entries { self[key] = value }
  }

  /// A dictionary from an unordered Swift dictionary; keys are sorted so the order is stable.
  public init(_ dictionary: [String: TemplateValue]) {
    for key in dictionary.keys.sorted() { self[key] = dictionary[key] }
  }

  /// A dictionary from a literal, keeping the literal's order.
  public init(dictionaryLiteral elements: (String, TemplateValue)...) {
    self.init(elements)
  }

  /// The number of entries.
  public var count: Int { keys.count }

  /// Whether there are no entries.
  public var isEmpty: Bool { keys.isEmpty }

  /// The values, in key order.
  public var values: [TemplateValue] { keys.compactMap { storage[$0] } }

  /// The entries, in key order.
  public var entries: [(key: String, value: TemplateValue)] {
    keys.compactMap { key in storage[key].map { (key, $0) } }
  }

  /// The value for `key`; setting `nil` removes the entry.
  public subscript(key: String) -> TemplateValue? {
    get { storage[key] }
    set {
      if let newValue {
        if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
      } else if storage.removeValue(forKey: key) != nil {
        keys.removeAll { $0 == key }
      }
    }
  }

  /// Equal when both hold the same keys with equal values, in any order.
  public static func == (lhs: TemplateDictionary, rhs: TemplateDictionary) -> Bool {
    lhs.storage == rhs.storage
  }
}
