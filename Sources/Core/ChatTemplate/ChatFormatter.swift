/// Turns chat messages into prompt text with the model's own `tokenizer.chat_template`, with
/// the model's BOS and EOS token texts available to the template as `bos_token`/`eos_token`.
public struct ChatFormatter: Sendable {
  public let template: ChatTemplate
  public let bosToken: String
  public let eosToken: String

  public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
    case noChatTemplate
    case template(ChatTemplateError)

    public var description: String {
      switch self {
      case .noChatTemplate: "the model has no chat template (tokenizer.chat_template)"
      case .template(let error): "chat template: \(error)"
      }
    }
  }

  public init(template: ChatTemplate, bosToken: String, eosToken: String) {
    self.template = template
    self.bosToken = bosToken
    self.eosToken = eosToken
  }

  /// The chat template of a GGUF model, with its vocabulary's special token texts.
  public init(gguf file: GGUFFile, vocabulary: Vocabulary) throws(Failure) {
    guard let source = try? file.optional(Vocabulary.Key.chatTemplate, as: String.self) else {
      throw .noChatTemplate
    }
    do throws(ChatTemplateError) {
      template = try ChatTemplate(source: source)
    } catch {
      throw .template(error)
    }
    bosToken = vocabulary.bosID.map { vocabulary.tokens[Int($0)] } ?? ""
    eosToken = vocabulary.eosID.map { vocabulary.tokens[Int($0)] } ?? ""
  }

  /// The prompt for `messages`, ending with the assistant's turn opened when
  /// `addGenerationPrompt` is set.
  public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws(Failure)
    -> String
  {
    do throws(ChatTemplateError) {
      return try template.render(
        messages: messages, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken,
        eosToken: eosToken)
    } catch {
      throw .template(error)
    }
  }
}
