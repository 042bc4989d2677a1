/// A parsed chat template: the Jinja program a model ships (GGUF `tokenizer.chat_template`)
/// that turns a list of messages into the prompt text.
///
/// This is a small interpreter for the subset of Jinja that chat templates use, aiming to
/// produce byte-for-byte what Python jinja2 produces under Hugging Face's settings (see
/// ``ChatTemplateOptions``). Anything outside that subset is reported as
/// ``ChatTemplateError/unsupported(_:at:)`` rather than rendered differently; no template can
/// crash the process, and rendering is bounded in depth, output size and loop iterations.
///
/// ```swift
/// let template = try ChatTemplate(source: source)
/// let prompt = try template.render(
///   messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
/// ```
public struct ChatTemplate: Sendable {
  /// The whitespace settings and bounds this template was parsed with and renders under.
  public let options: ChatTemplateOptions
  private let body: [TemplateNode]

  /// Parses `source` once; syntax errors carry their line and column.
  public init(source: String, options: ChatTemplateOptions = ChatTemplateOptions())
    throws(ChatTemplateError)
  {
    var lexer = TemplateLexer(source: source, options: options)
    var parser = TemplateParser(
      tokens: try lexer.tokenize(), maxDepth: max(1, options.maxNestingDepth))
    self.body = try parser.parseTemplate()
    self.options = options
  }

  /// Renders with `context` as the template's variables.
  ///
  /// Besides the context, templates can call `raise_exception(message)` (which throws
  /// ``ChatTemplateError/raiseException(_:)``), `range(…)`, `namespace(…)` and `dict(…)`.
  public func render(_ context: [String: TemplateValue]) throws(ChatTemplateError) -> String {
    var interpreter = TemplateInterpreter(
      context: context.mapValues { .value($0) }, limits: options.limits)
    return try interpreter.render(body)
  }

  /// Renders a conversation the way Hugging Face's `apply_chat_template` does: the template
  /// sees `messages` (a list of `{role, content}` dicts), `add_generation_prompt`, `bos_token`
  /// and `eos_token`, plus any `extra` variables (such as `tools`); the named variables win
  /// over same-named `extra` entries.
  public func render(
    messages: [ChatMessage],
    addGenerationPrompt: Bool,
    bosToken: String = "",
    eosToken: String = "",
    extra: [String: TemplateValue] = [:]
  ) throws(ChatTemplateError) -> String {
    var context = extra
    context["messages"] = .array(messages.map(\.templateValue))
    context["add_generation_prompt"] = .bool(addGenerationPrompt)
    context["bos_token"] = .string(bosToken)
    context["eos_token"] = .string(eosToken)
    return try render(context)
  }
}
