import Core
import Foundation
import TestSupport
import Testing

@Suite struct ScoreCommandTests {
  struct Output: Decodable {
    struct Candidate: Decodable {
      let id: Int32
      let logit: Float
    }
    struct Step: Decodable { let top: [Candidate] }
    let steps: [Step]
  }

  @Test func goldenCasesMeetTheCriteriaThroughTheCLI() throws {
    for goldenCase in try Golden.smolLM2().cases.prefix(3) {
      let continuation = goldenCase.steps.map(\.id)
      let result = try TesseraProcess.run([
        "score", "--json", "--top", "5",
        "--prompt-ids", goldenCase.promptIDs.map(String.init).joined(separator: ","),
        "--continuation-ids", continuation.map(String.init).joined(separator: ","),
      ])
      #expect(result.status == 0, "\(result.stderr)")
      let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
      #expect(output.steps.count == continuation.count)
      // The CLI's top-5 ids agree with the golden top-1 wherever the decision is clear.
      for (step, golden) in zip(output.steps, goldenCase.steps)
      where golden.top[0].logit - golden.top[1].logit >= 0.5 {
        #expect(step.top.first?.id == golden.id, "\(goldenCase.name)")
      }
      #expect(output.steps.allSatisfy { $0.top.count == 5 })
    }
  }
}
