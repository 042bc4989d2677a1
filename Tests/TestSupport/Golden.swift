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
    let url = FixturePaths.golden.appendingPathComponent("smollm2.json")
    return try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
  }
}
