import Core
import Testing

@Suite struct ChatTemplateErrorTests {
  func parseError(_ source: String) -> ChatTemplateError? {
    do {
      _ = try ChatTemplate(source: source)
      return nil
    } catch {
      return error
    }
  }

  func renderError(_ source: String, _ context: [String: TemplateValue] = [:]) -> ChatTemplateError?
  {
    do {
      _ = try ChatTemplate(source: source).render(context)
      return nil
    } catch {
      return error
    }
  }

  func isSyntax(_ error: ChatTemplateError?, line: Int, column: Int) -> Bool {
    if case .syntax(_, let location)? = error {
      return location == TemplateSourceLocation(line: line, column: column)
    }
    return false
  }

  @Test func unclosedTagsAreSyntaxErrorsAtTheTag() {
    #expect(isSyntax(parseError("hi {{ name "), line: 1, column: 4))
    #expect(isSyntax(parseError("\n  {% if x "), line: 2, column: 3))
    #expect(isSyntax(parseError("{# never closed"), line: 1, column: 1))
    #expect(isSyntax(parseError("{% raw %} no end"), line: 1, column: 1))
    #expect(isSyntax(parseError("{{ 'open string }}"), line: 1, column: 4))
  }

  @Test func unclosedBlocksNameTheMissingEndTag() {
    guard case .syntax(let message, _)? = parseError("{% for x in y %}\n{% if x %}") else {
      Issue.record("expected a syntax error")
      return
    }
    #expect(message.contains("endif"))
  }

  @Test func unknownStatementsAreSyntaxErrors() {
    #expect(isSyntax(parseError("a\n{% frobnicate %}"), line: 2, column: 4))
    #expect(isSyntax(parseError("{% endif %}"), line: 1, column: 1) == false)
    #expect(parseError("{% endif %}") != nil)
    #expect(isSyntax(parseError("{% break %}"), line: 1, column: 4))
  }

  @Test func unbalancedBracketsAreSyntaxErrors() {
    #expect(isSyntax(parseError("{{ (1 }}"), line: 1, column: 7))
    #expect(isSyntax(parseError("{{ 1 ] }}"), line: 1, column: 6))
    #expect(isSyntax(parseError("{{ [1, 2 }}"), line: 1, column: 10))
    #expect(isSyntax(parseError("{{ foo(1, }}"), line: 1, column: 11))
  }

  @Test func unknownFiltersAndTestsAreNamed() {
    #expect(
      parseError("{{ x | shout }}")
        == .unknownFilter("shout", at: TemplateSourceLocation(line: 1, column: 6)))
    #expect(
      parseError("{{ x is shouting }}")
        == .unknownTest("shouting", at: TemplateSourceLocation(line: 1, column: 6)))
  }

  @Test func unsupportedJinjaConstructsAreNamed() {
    let cases: [(String, String)] = [
      ("{% extends 'base' %}", "'extends' statement"),
      ("{% include 'x' %}", "'include' statement"),
      ("{% for x in y recursive %}{% endfor %}", "recursive for loop"),
      ("{{ x | sort }}", "filter 'sort'"),
      ("{{ f(*args) }}", "*args / **kwargs in a call"),
    ]
    for (source, construct) in cases {
      guard case .unsupported(let named, _)? = parseError(source) else {
        Issue.record(
          "expected unsupported for \(source), got \(String(describing: parseError(source)))")
        continue
      }
      #expect(named == construct)
    }
    guard case .unsupported(let named, _)? = renderError("{{ 'abc'.zfill(5) }}") else {
      Issue.record("expected unsupported method")
      return
    }
    #expect(named == "method 'zfill' on str")
  }

  @Test func undefinedValuesRenderEmptyButRefuseAccess() throws {
    let template = try ChatTemplate(source: "[{{ missing }}{{ missing | length }}{{ d.nope }}]")
    #expect(try template.render(["d": [:]]) == "[0]")
    #expect(
      {
        if case .undefinedValue(let message, _)? = renderError("{{ missing.attr }}") {
          return message == "'missing' is undefined"
        }
        return false
      }())
    #expect(
      {
        if case .undefinedValue? = renderError("{{ d.nope.deeper }}", ["d": [:]]) { return true }
        return false
      }())
  }

  @Test func raiseExceptionCarriesTheMessage() {
    #expect(renderError("{{ raise_exception('bad ' ~ 'roles') }}") == .raiseException("bad roles"))
  }

  @Test func typeErrorsAreInvalidOperations() {
    for source in ["{{ 'a' + 1 }}", "{{ 1 / 0 }}", "{{ 1 < 'a' }}", "{{ [1].append(2) }}"] {
      guard case .invalidOperation? = renderError(source) else {
        Issue.record("expected invalidOperation for \(source)")
        continue
      }
    }
  }

  @Test func errorDescriptionsIncludeTheLocation() {
    let error = ChatTemplateError.syntax("boom", at: TemplateSourceLocation(line: 3, column: 7))
    #expect(error.description == "template syntax error at 3:7: boom")
  }
}
