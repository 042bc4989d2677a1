import Testing

@testable import Core

@Suite struct ChatTemplateLexerTests {
  func kinds(
    _ source: String, options: ChatTemplateOptions = ChatTemplateOptions()
  ) throws -> [TemplateToken.Kind] {
    var lexer = TemplateLexer(source: source, options: options)
    return try lexer.tokenize().map(\.kind)
  }

  @Test func splitsTextAndTagsIntoTokens() throws {
    #expect(
      try kinds("a{{ x.y }}b") == [
        .text("a"), .variableBegin, .name("x"), .op("."), .name("y"), .variableEnd, .text("b"),
        .endOfInput,
      ])
  }

  @Test func lexesNumbersLikePython() throws {
    #expect(
      try kinds("{{ 1_000 0x1f 0b11 0o17 2.5 1e3 3. }}") == [
        .variableBegin, .integer(1000), .integer(31), .integer(3), .integer(15), .float(2.5),
        .float(1000), .integer(3), .op("."), .variableEnd, .endOfInput,
      ])
  }

  @Test func decodesStringEscapes() throws {
    #expect(
      try kinds(#"{{ 'a\n\t\'\x41\u00e9\\' "q\"" }}"#) == [
        .variableBegin, .string("a\n\t'Aé\\"), .string("q\""), .variableEnd, .endOfInput,
      ])
  }

  @Test func prefersLongestOperators() throws {
    #expect(
      try kinds("{{ a // b ** c != d <= e }}").filter {
        if case .op = $0 { true } else { false }
      } == [.op("//"), .op("**"), .op("!="), .op("<=")])
  }

  @Test func closingBracesInsideADictDoNotEndTheTag() throws {
    let tokens = try kinds("{{ {'a': {'b': 1}} }}")
    #expect(tokens.filter { $0 == .op("}") }.count == 2)
    #expect(tokens.suffix(2) == [.variableEnd, .endOfInput])
  }

  @Test func dropsCommentsAndOneTrailingNewline() throws {
    #expect(try kinds("a{# note #}b\n") == [.text("a"), .text("b"), .endOfInput])
    #expect(
      try kinds("a\n", options: ChatTemplateOptions(keepTrailingNewline: true)) == [
        .text("a\n"), .endOfInput,
      ])
  }

  @Test func normalizesWindowsNewlines() throws {
    #expect(try kinds("a\r\nb\rc") == [.text("a\nb\nc"), .endOfInput])
  }

  @Test func trimBlocksRemovesOnlyTheFirstNewlineAfterABlock() throws {
    #expect(
      try kinds("{% if x %}\n\nA") == [
        .blockBegin, .name("if"), .name("x"), .blockEnd, .text("\nA"), .endOfInput,
      ])
    let plain = try kinds("{% if x %}\nA", options: .jinjaDefaults)
    #expect(plain.contains(.text("\nA")))
  }

  @Test func lstripBlocksRemovesIndentationBeforeBlockTagsButNotVariables() throws {
    #expect(try kinds("x\n    {% if y %}").first == .text("x\n"))
    #expect(try kinds("x\n    {{ y }}").first == .text("x\n    "))
    #expect(try kinds("x\n    {%+ if y %}").first == .text("x\n    "))
    #expect(try kinds("x\n  z {% if y %}").first == .text("x\n  z "))
  }

  @Test func minusStripsAllWhitespaceIncludingNewlines() throws {
    #expect(
      try kinds("a \n\t{{- 1 -}} \n b") == [
        .text("a"), .variableBegin, .integer(1), .variableEnd, .text("b"), .endOfInput,
      ])
  }

  @Test func rawBlocksAreLiteralText() throws {
    #expect(try kinds("{% raw %}{{ x }}{% endraw %}") == [.text("{{ x }}"), .endOfInput])
  }

  @Test func reportsLineAndColumnOfBadCharacters() throws {
    #expect(
      throws: ChatTemplateError.syntax(
        "unexpected character '!'", at: TemplateSourceLocation(line: 2, column: 4))
    ) {
      try kinds("ab\n{{ !x }}")
    }
  }
}
