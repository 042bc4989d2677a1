/// One turn of a conversation as chat templates see it: `message['role']`,
/// `message['content']`.
public struct ChatMessage: Sendable, Equatable, Codable {
  /// `system`, `user`, `assistant`, or whatever role the template understands.
  public var role: String
  /// The message text.
  public var content: String

  /// Creates a message.
  public init(role: String, content: String) {
    self.role = role
    self.content = content
  }

  /// The message as the dictionary a template indexes: `{"role": …, "content": …}`.
  var templateValue: TemplateValue {
    .dictionary(["role": .string(role), "content": .string(content)])
  }
}
