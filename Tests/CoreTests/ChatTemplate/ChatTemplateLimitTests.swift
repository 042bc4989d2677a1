import Core
import Testing

/// Hostile templates must fail with an error, never crash or run away.
@Suite struct ChatTemplateLimitTests {
  func isLimit(_ body: () throws -> Void) -> Bool {
    do {
      try body()
      return false
    } catch {
      if case .limitExceeded? = error as? ChatTemplateError { return true }
      return false
    }
  }

  @Test func deeplyNestedParenthesesAreRefused() {
    let source =
      "{{ " + String(repeating: "(", count: 10_000) + "1"
      + String(repeating: ")", count: 10_000) + " }}"
    #expect(isLimit { _ = try ChatTemplate(source: source) })
  }

  @Test func deeplyNestedListsAndNotsAreRefused() {
    let lists =
      "{{ " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
      + " }}"
    #expect(isLimit { _ = try ChatTemplate(source: lists) })
    let nots = "{{ " + String(repeating: "not ", count: 5_000) + "x }}"
    #expect(isLimit { _ = try ChatTemplate(source: nots) })
    let negations = "{{ " + String(repeating: "-", count: 5_000) + "1 }}"
    #expect(isLimit { _ = try ChatTemplate(source: negations) })
  }

  @Test func longOperatorChainsAreRefusedNotRecursedInto() {
    let sum = "{{ 1" + String(repeating: " + 1", count: 20_000) + " }}"
    #expect(isLimit { _ = try ChatTemplate(source: sum) })
    let filters = "{{ 'x'" + String(repeating: " | trim", count: 20_000) + " }}"
    #expect(isLimit { _ = try ChatTemplate(source: filters) })
  }

  @Test func deeplyNestedStatementsAreRefused() {
    let source =
      String(repeating: "{% if true %}", count: 5_000)
      + String(repeating: "{% endif %}", count: 5_000)
    #expect(isLimit { _ = try ChatTemplate(source: source) })
  }

  @Test func moderateNestingIsFine() throws {
    let source =
      String(repeating: "{% if true %}", count: 30) + "ok"
      + String(repeating: "{% endif %}", count: 30) + "{{ " + String(repeating: "(", count: 20)
      + "1" + String(repeating: ")", count: 20) + " }}"
    #expect(try ChatTemplate(source: source).render([:]) == "ok1")
  }

  @Test func runawayRecursiveMacrosAreRefused() {
    let source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    #expect(isLimit { _ = try ChatTemplate(source: source).render([:]) })
  }

  @Test func outputIsBounded() {
    let options = ChatTemplateOptions(maxOutputBytes: 1_000)
    #expect(
      isLimit {
        _ = try ChatTemplate(
          source: "{% for i in range(100) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
          options: options
        ).render([:])
      })
    #expect(isLimit { _ = try ChatTemplate(source: "{{ 'x' * 100000000000 }}").render([:]) })
    let doubling =
      "{% set ns = namespace(s='xx') %}{% for i in range(80) %}"
      + "{% set ns.s = ns.s + ns.s %}{% endfor %}"
    #expect(isLimit { _ = try ChatTemplate(source: doubling).render([:]) })
  }

  @Test func loopIterationsAreBounded() {
    #expect(
      isLimit {
        _ = try ChatTemplate(source: "{% for i in range(1000000000) %}{% endfor %}").render([:])
      })
    let nested =
      "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(10) %}"
      + "{% endfor %}{% endfor %}{% endfor %}"
    #expect(
      isLimit {
        _ = try ChatTemplate(
          source: nested, options: ChatTemplateOptions(maxLoopIterations: 10_000)
        )
        .render([:])
      })
  }

  @Test func integerOverflowIsAnErrorNotATrap() {
    for source in [
      "{{ 9223372036854775807 + 1 }}", "{{ -(-9223372036854775807 - 1) }}", "{{ 2 ** 70 }}",
      "{{ (-9223372036854775807 - 1) // -1 }}", "{{ 99999999999999999999 }}",
    ] {
      #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: source).render([:]) }
    }
    #expect(throws: Never.self) {
      _ = try ChatTemplate(
        source: "{{ range(9223372036854775806, 9223372036854775807, 5) | list }}"
      )
      .render([:])
    }
  }
}
