import Core
import Testing

@Suite struct ChatTemplateRenderTests {
  @Test func rendersSmolLM2ConversationWithDefaultSystemPrompt() throws {
    let template = try ChatTemplate(source: ChatTemplateFixtures.templateSource("smollm2.jinja"))
    let prompt = try template.render(
      messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
    #expect(
      prompt == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
        + "Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
  }

  @Test func namedVariablesWinOverExtra() throws {
    let template = try ChatTemplate(source: "{{ bos_token }}{{ tools | length }}")
    let prompt = try template.render(
      messages: [], addGenerationPrompt: false, bosToken: "<s>",
      extra: ["bos_token": "ignored", "tools": [1, 2]])
    #expect(prompt == "<s>2")
  }

  @Test func defaultsToHuggingFaceWhitespaceAndCanUseJinjaDefaults() throws {
    let source = "{% for x in items %}\n  {% if x %}\n{{ x }}\n  {% endif %}\n{% endfor %}"
    let context: [String: TemplateValue] = ["items": [1, 2]]
    #expect(try ChatTemplate(source: source).render(context) == "1\n2\n")
    #expect(
      try ChatTemplate(source: source, options: .jinjaDefaults).render(context)
        == "\n  \n1\n  \n\n  \n2\n  \n")
  }

  @Test func setInsideALoopDoesNotLeakButNamespacesDo() throws {
    let source =
      "{% set a = 0 %}{% set ns = namespace(a=0) %}{% for i in [1, 2] %}"
      + "{% set a = a + i %}{% set ns.a = ns.a + i %}{% endfor %}{{ a }}/{{ ns.a }}"
    #expect(try ChatTemplate(source: source).render([:]) == "0/3")
  }

  @Test func dictionariesKeepInsertionOrder() throws {
    let template = try ChatTemplate(source: "{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}")
    let dictionary = TemplateDictionary([("z", 1), ("a", 2), ("m", 3)])
    #expect(try template.render(["d": .dictionary(dictionary)]) == "z1a2m3")
  }

  @Test func templatesAreReusableAcrossRenders() throws {
    let template = try ChatTemplate(source: "{% set ns = namespace(n=0) %}{{ name }}")
    #expect(try template.render(["name": "a"]) == "a")
    #expect(try template.render(["name": "b"]) == "b")
  }
}
