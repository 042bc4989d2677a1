import Core
import Testing

/// Every golden from Python jinja2 must render byte-for-byte, or fail where jinja2 failed.
@Suite struct ChatTemplateGoldenTests {
  /// Snippets where this interpreter deliberately throws although jinja2 renders
  /// (a clear error is acceptable; a different prompt is not).
  static let knownRefusals: Set<String> = [
    "{{ 9223372036854775807 + 1 }}"  // Python ints are unbounded; ours throw on overflow.
  ]

  @Test func goldenFilesLoadAndCoverEveryTemplate() throws {
    let chatCases = try ChatTemplateFixtures.loadChatCases()
    let templates = Set(chatCases.map(\.template))
    #expect(
      templates == [
        "gemma.jinja", "kitchen-sink.jinja", "llama3.jinja", "qwen2.5.jinja", "smollm2.jinja",
      ])
    #expect(chatCases.count == ChatTemplateFixtures.chatCases.count)
    #expect(chatCases.contains { if case .raised = $0.outcome { true } else { false } })
    let snippets = try ChatTemplateFixtures.loadSnippetCases()
    #expect(snippets.count == ChatTemplateFixtures.snippetCases.count)
    #expect(snippets.count > 100)
  }

  @Test(arguments: ChatTemplateFixtures.chatCases)
  func chatTemplateRendersLikeJinja(_ testCase: ChatTemplateFixtures.ChatCase) throws {
    let source = try ChatTemplateFixtures.templateSource(testCase.template)
    let template = try ChatTemplate(source: source, options: testCase.options)
    let result = Result { () throws(ChatTemplateError) -> String in
      try template.render(
        messages: testCase.messages, addGenerationPrompt: testCase.addGenerationPrompt,
        bosToken: testCase.bosToken, eosToken: testCase.eosToken, extra: testCase.extra)
    }
    Self.check(result, against: testCase.outcome, allowRefusal: false)
  }

  @Test(arguments: ChatTemplateFixtures.snippetCases)
  func snippetRendersLikeJinja(_ testCase: ChatTemplateFixtures.SnippetCase) {
    let result = Result { () throws(ChatTemplateError) -> String in
      try ChatTemplate(source: testCase.source, options: testCase.options).render(testCase.context)
    }
    Self.check(
      result, against: testCase.outcome,
      allowRefusal: Self.knownRefusals.contains(testCase.source))
  }

  static func check(
    _ result: Result<String, ChatTemplateError>, against outcome: ChatTemplateFixtures.Outcome,
    allowRefusal: Bool
  ) {
    switch (outcome, result) {
    case (.text(let expected), .success(let actual)):
      #expect(Array(actual.utf8) == Array(expected.utf8), "\(actual.debugDescription)")
    case (.text, .failure(let error)):
      #expect(allowRefusal, "jinja2 rendered but we threw \(error)")
    case (.raised(let message), .failure(let error)):
      #expect(error == .raiseException(message))
    case (.error(let pythonType), .failure(let error)):
      #expect(
        ChatTemplateFixtures.matches(error, pythonType: pythonType),
        "jinja2 raised \(pythonType) but we threw \(error)")
    case (_, .success(let actual)):
      Issue.record("jinja2 failed (\(outcome)) but we rendered \(actual.debugDescription)")
    }
  }
}
