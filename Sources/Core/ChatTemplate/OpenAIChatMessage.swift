public import Foundation

/// A chat message as OpenAI's API sends it: `content` is a string or an array of parts, of
/// which Tessera accepts text parts (`{"type": "text", "text": …}`), joined with newlines as
/// vLLM does. Other part types (images, audio) are rejected by name.
public struct OpenAIChatMessage: Sendable, Equatable, Decodable {
  public var role: String
  public var content: String

  enum CodingKeys: String, CodingKey { case role, content }

  struct Part: Decodable {
    let type: String
    let text: String?
  }

  public init(role: String, content: String) {
    self.role = role
    self.content = content
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    role = try container.decode(String.self, forKey: .role)
    if try container.decodeNil(forKey: .content) {
      content = ""
    } else if let text = try? container.decode(String.self, forKey: .content) {
      content = text
    } else {
      let parts = try container.decode([Part].self, forKey: .content)
      var texts: [String] = []
      for part in parts {
        guard part.type == "text", let text = part.text else {
          throw DecodingError.dataCorruptedError(
            forKey: .content, in: container,
            debugDescription: "content part of type '\(part.type)' is not supported (only text)")
        }
        texts.append(text)
      }
      content = texts.joined(separator: "\n")
    }
  }

  public var chatMessage: ChatMessage { ChatMessage(role: role, content: content) }

  /// Parses a JSON array of messages, e.g. the `--messages` argument of `tessera tokenize`.
  public static func decodeArray(_ json: String) throws -> [ChatMessage] {
    try JSONDecoder().decode([OpenAIChatMessage].self, from: Data(json.utf8)).map(\.chatMessage)
  }
}
