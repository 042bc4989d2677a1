/// The character classes the pre-tokenizer's patterns use (`\p{L}`, `\p{N}`, `\s`), per code
/// point, from the Unicode data in the Swift standard library.
///
/// llama.cpp gives unassigned code points no class at all; such a code point matches none of
/// the pattern's alternatives and becomes a piece of its own, and so it does here.
struct CodepointClass: OptionSet {
  let rawValue: UInt8
  static let letter = CodepointClass(rawValue: 1)
  static let number = CodepointClass(rawValue: 2)
  static let whitespace = CodepointClass(rawValue: 4)
  /// Any assigned code point (marks, punctuation, symbols, controls, letters, numbers...).
  static let assigned = CodepointClass(rawValue: 8)

  private static let ascii: [CodepointClass] = (0..<128).map { compute(Unicode.Scalar(UInt8($0))) }

  static func of(_ scalar: Unicode.Scalar) -> CodepointClass {
    scalar.value < 128 ? ascii[Int(scalar.value)] : compute(scalar)
  }

  private static func compute(_ scalar: Unicode.Scalar) -> CodepointClass {
    let properties = scalar.properties
    var result: CodepointClass = []
    switch properties.generalCategory {
    case .unassigned: return properties.isWhitespace ? [.whitespace, .assigned] : []
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      result = [.letter, .assigned]
    case .decimalNumber, .letterNumber, .otherNumber:
      result = [.number, .assigned]
    default:
      result = .assigned
    }
    if properties.isWhitespace { result.insert(.whitespace) }
    return result
  }
}
