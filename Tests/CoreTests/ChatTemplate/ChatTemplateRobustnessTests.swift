import Core
import Testing

/// Truncated and corrupted templates must produce errors or output, never a crash.
@Suite struct ChatTemplateRobustnessTests {
  static let templates = [
    "gemma.jinja", "kitchen-sink.jinja", "llama3.jinja", "qwen2.5.jinja", "smollm2.jinja",
  ]

  func exercise(_ source: String) {
    let messages = [
      ChatMessage(role: "system", content: "s"), ChatMessage(role: "user", content: "u"),
    ]
    _ = try? ChatTemplate(source: source).render(
      messages: messages, addGenerationPrompt: true, bosToken: "<s>")
  }

  @Test(arguments: templates)
  func everyPrefixOfATemplateParsesOrFailsCleanly(_ name: String) throws {
    let scalars = Array(try ChatTemplateFixtures.templateSource(name).unicodeScalars)
    for length in stride(from: 0, through: scalars.count, by: max(1, scalars.count / 400)) {
      var prefix = String.UnicodeScalarView()
      prefix.append(contentsOf: scalars[..<length])
      exercise(String(prefix))
    }
  }

  @Test(arguments: templates)
  func randomlyCorruptedTemplatesFailCleanly(_ name: String) throws {
    let scalars = Array(try ChatTemplateFixtures.templateSource(name).unicodeScalars)
    let alphabet = Array("{}%#-+()[]'\".|,:=~ \nxa0".unicodeScalars)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(max(1, bound)))
    }
    for _ in 0..<300 {
      var mutated = scalars
      for _ in 0..<(1 + next(4)) where !mutated.isEmpty {
        let position = next(mutated.count)
        switch next(3) {
        case 0: mutated.remove(at: position)
        case 1: mutated.insert(alphabet[next(alphabet.count)], at: position)
        default: mutated[position] = alphabet[next(alphabet.count)]
        }
      }
      var text = String.UnicodeScalarView()
      text.append(contentsOf: mutated)
      exercise(String(text))
    }
  }
}
