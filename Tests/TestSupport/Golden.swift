public import Foundation

/// The llama.cpp reference outputs in `../shared/golden/` (see its README).
public struct Golden: Decodable, Sendable {
  public struct Model: Decodable, Sendable {
    public let file: String
    public let sha256: String
  }

  public struct Message: Codable, Sendable {
    public let role: String
    public let content: String
  }

  public struct Candidate: Decodable, Sendable {
    public let id: Int32
    public let logit: Float
  }

  public struct Step: Decodable, Sendable {
    public let id: Int32
    public let eog: Bool
    public let top: [Candidate]
  }

  public struct Case: Decodable, Sendable {
    public let name: String
    public let kind: String
    public let prompt: String
    public let messages: [Message]?
    public let promptIDs: [Int32]
    public let steps: [Step]

    enum CodingKeys: String, CodingKey {
      case name, kind, prompt, messages, steps
      case promptIDs = "prompt_ids"
    }
  }

  public struct TokenizerCase: Decodable, Sendable {
    public let text: String
    public let ids: [Int32]
  }

  public let model: Model
  public let cases: [Case]
  public let tokenizer: [TokenizerCase]?

  public static func smolLM2() throws -> Golden {
    try load(FixturePaths.golden.appendingPathComponent("smollm2.json"))
  }

  /// More cases in the same format (code, JSON, other languages, a ~1,000-token prompt, chats
  /// with system and assistant turns), made with current llama.cpp by
  /// `scripts/gen-extra-goldens.py`.
  public static func smolLM2Extra() throws -> Golden {
    try load(FixturePaths.url("golden/smollm2-extra.json"))
  }

  /// Gemma 3 270M at 2K and 8K tokens of context (scripts/gen-long-goldens.py).
  public static func gemma3Long() throws -> Golden {
    try load(FixturePaths.url("golden/gemma3-long.json"))
  }

  /// Gemma 3 270M Q4_K_M: raw prompts, BOS added as the model asks.
  public static func gemma3() throws -> Golden {
    try load(FixturePaths.golden.appendingPathComponent("gemma3.json"))
  }

  static func load(_ url: URL) throws -> Golden {
    try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
  }
}
