import Core
import TestSupport
import Testing

@Suite(.serialized) struct GoldenLogitsTests {
  @Test func everyGoldenCaseMeetsTheCriteria() throws {
    let engine = try Engines.smolLM2()
    let criteria = GoldenCriteria()
    for goldenCase in try Golden.smolLM2().cases {
      let logits = try Engines.score(
        engine, prompt: goldenCase.promptIDs, continuation: goldenCase.steps.map(\.id))
      let report = criteria.evaluate(steps: goldenCase.steps, logits: logits)
      print("\(goldenCase.name): \(report)")
      #expect(criteria.passes(report), "\(goldenCase.name): \(report)")
    }
  }
}
