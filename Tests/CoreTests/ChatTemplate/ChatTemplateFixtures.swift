import Core
import Foundation
import TestSupport

/// The goldens written by `scripts/gen-chat-template-fixtures.py` from Python jinja2.
enum ChatTemplateFixtures {
  /// What jinja2 produced for one render: text, or an error of a kind.
  enum Outcome: Sendable, Equatable {
    case text(String)
    case raised(String)
    case error(pythonType: String)
  }

  /// One `cases.json` entry: a template rendered with one conversation.
  struct ChatCase: Sendable, CustomStringConvertible {
    var template: String
    var conversation: String
    var options: ChatTemplateOptions
    var messages: [ChatMessage]
    var addGenerationPrompt: Bool
    var bosToken: String
    var eosToken: String
    var extra: [String: TemplateValue]
    var outcome: Outcome

    var description: String {
      let mode = options.trimBlocks ? "hf" : "jinja-defaults"
      return "\(template) \(conversation) gen=\(addGenerationPrompt) \(mode)"
    }
  }

  /// One `expressions.json` entry: a snippet rendered with a context.
  struct SnippetCase: Sendable, CustomStringConvertible {
    var source: String
    var context: [String: TemplateValue]
    var options: ChatTemplateOptions
    var outcome: Outcome

    var description: String {
      "\(source.debugDescription.prefix(60)) \(options.trimBlocks ? "hf" : "jinja-defaults")"
    }
  }

  static func templateSource(_ name: String) throws -> String {
    try String(contentsOf: FixturePaths.url("chat-templates/\(name)"), encoding: .utf8)
  }

  /// The chat cases, or an empty list if the file is missing (a separate test fails then).
  static let chatCases: [ChatCase] = (try? loadChatCases()) ?? []

  static let snippetCases: [SnippetCase] = (try? loadSnippetCases()) ?? []

  static func loadChatCases() throws -> [ChatCase] {
    try load("cases.json").map { entry in
      ChatCase(
        template: entry["template"]?.stringValue ?? "",
        conversation: entry["conversation"]?.stringValue ?? "",
        options: options(entry["options"]),
        messages: (entry["messages"]?.arrayValue ?? []).map {
          ChatMessage(
            role: $0["role"]?.stringValue ?? "", content: $0["content"]?.stringValue ?? "")
        },
        addGenerationPrompt: entry["add_generation_prompt"]?.boolValue ?? false,
        bosToken: entry["bos_token"]?.stringValue ?? "",
        eosToken: entry["eos_token"]?.stringValue ?? "",
        extra: dictionary(entry["extra"]),
        outcome: outcome(entry))
    }
  }

  static func loadSnippetCases() throws -> [SnippetCase] {
    try load("expressions.json").map { entry in
      SnippetCase(
        source: entry["source"]?.stringValue ?? "",
        context: dictionary(entry["context"]),
        options: options(entry["options"]),
        outcome: outcome(entry))
    }
  }

  private static func load(_ name: String) throws -> [TemplateValue] {
    let text = try String(
      contentsOf: FixturePaths.url("chat-templates/\(name)"), encoding: .utf8)
    return try FixtureJSON.parse(text).arrayValue ?? []
  }

  private static func options(_ value: TemplateValue?) -> ChatTemplateOptions {
    ChatTemplateOptions(
      trimBlocks: value?["trim_blocks"]?.boolValue ?? true,
      lstripBlocks: value?["lstrip_blocks"]?.boolValue ?? true)
  }

  private static func dictionary(_ value: TemplateValue?) -> [String: TemplateValue] {
    var result: [String: TemplateValue] = [:]
    for (key, item) in value?.dictionaryValue?.entries ?? [] { result[key] = item }
    return result
  }

  private static func outcome(_ entry: TemplateValue) -> Outcome {
    if let expected = entry["expected"]?.stringValue { return .text(expected) }
    if let message = entry["raised_message"]?.stringValue { return .raised(message) }
    return .error(pythonType: entry["error_type"]?.stringValue ?? "?")
  }

  /// Whether a Swift error is the kind jinja2 raised.
  static func matches(_ error: ChatTemplateError, pythonType: String) -> Bool {
    switch (pythonType, error) {
    case ("UndefinedError", .undefinedValue), ("TemplateSyntaxError", .syntax),
      ("TemplateAssertionError", .unknownFilter), ("TemplateAssertionError", .unknownTest),
      ("TypeError", .invalidOperation), ("ZeroDivisionError", .invalidOperation),
      ("SecurityError", .invalidOperation), ("ValueError", .invalidOperation):
      true
    default:
      false
    }
  }
}
