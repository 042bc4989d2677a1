import ArgumentParser
import Core
import Foundation

struct TokenizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tokenize",
    abstract: "Tokenize text, or chat messages rendered with the model's chat template.")

  @OptionGroup var model: ModelOption

  @Option(help: "Raw text to tokenize (special tokens such as <|im_start|> are parsed).")
  var text: String?

  @Option(
    help: """
      An OpenAI-style JSON array of messages (string content or text parts), rendered with \
      the model's chat template and the generation prompt, then tokenized.
      """)
  var messages: String?

  @Flag(help: "Print exactly {\"ids\": [...], \"pieces\": [...]}.")
  var json = false

  func validate() throws {
    guard (text == nil) != (messages == nil) else {
      throw ValidationError("give exactly one of --text or --messages")
    }
  }

  func run() throws {
    let file = try model.open()
    let vocabulary = try Vocabulary(gguf: file)
    let prompt: String
    if let messages {
      let parsed: [ChatMessage]
      do {
        parsed = try OpenAIChatMessage.decodeArray(messages)
      } catch {
        throw ValidationError(
          "--messages is not a valid message array: \(error.localizedDescription)")
      }
      prompt = try ChatFormatter(gguf: file, vocabulary: vocabulary).render(parsed)
    } else {
      prompt = text ?? ""
    }
    let ids = vocabulary.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
    let pieces = ids.map {
      String(decoding: vocabulary.bytes(of: $0, includeSpecial: true), as: UTF8.self)
    }
    if json {
      try printJSON(TokenizeOutput(ids: ids, pieces: pieces))
    } else {
      print("   #      id  piece")
      for (index, (id, piece)) in zip(ids, pieces).enumerated() {
        let shown = piece.debugDescription
        print(String(format: "%4d  %6d  ", index, id) + shown)
      }
      print("\(ids.count) tokens")
    }
  }
}

struct TokenizeOutput: Encodable {
  let ids: [TokenID]
  let pieces: [String]
}
