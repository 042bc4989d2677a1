/// Errors of the tokenizer area: a vocabulary that cannot be built from a model file.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
  case unsupportedModel(String)
  case unsupportedPreTokenizer(String)
  case inconsistentVocabulary(String)
  case gguf(GGUFError)

  public var description: String {
    switch self {
    case .unsupportedModel(let name):
      "tokenizer model '\(name)' is not supported (supported: gpt2 byte-level BPE, llama "
        + "SentencePiece)"
    case .unsupportedPreTokenizer(let name):
      "pre-tokenizer '\(name)' is not supported (supported: \(PreTokenizer.supportedNames.joined(separator: ", ")))"
    case .inconsistentVocabulary(let reason): "inconsistent vocabulary: \(reason)"
    case .gguf(let error): error.description
    }
  }
}

/// A token's position in the vocabulary.
public typealias TokenID = Int32

/// The token types GGUF stores in `tokenizer.ggml.token_type`.
public enum TokenType: Int32, Sendable {
  case undefined = 0
  case normal = 1
  case unknown = 2
  case control = 3
  case userDefined = 4
  case unused = 5
  case byte = 6

  /// Tokens matched in raw text before pre-tokenization. Control and unknown tokens only when
  /// the caller asks for special-token parsing; user-defined ones always, as llama.cpp does.
  func isMatchedInText(parseSpecial: Bool) -> Bool {
    switch self {
    case .control, .unknown: parseSpecial
    case .userDefined: true
    default: false
    }
  }
}
