/// Errors of loading and running a model.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
  case gguf(GGUFError)
  case unsupportedArchitecture(String)
  case invalidConfig(String)
  /// A tensor whose shape or type does not fit the config.
  case badTensor(name: String, reason: String)
  case contextFull(sequenceLength: Int, limit: Int)
  case outOfKVBlocks
  case invalidToken(TokenID)

  public var description: String {
    switch self {
    case .gguf(let error): error.description
    case .unsupportedArchitecture(let name):
      "architecture '\(name)' is not supported (supported: llama)"
    case .invalidConfig(let reason): "invalid model hyperparameters: \(reason)"
    case .badTensor(let name, let reason): "tensor \(name): \(reason)"
    case .contextFull(let length, let limit):
      "sequence of \(length) tokens exceeds the context of \(limit)"
    case .outOfKVBlocks: "the KV cache has no free blocks"
    case .invalidToken(let id): "token id \(id) is outside the vocabulary"
    }
  }
}
