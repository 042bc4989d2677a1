import Core
import TestSupport
import Testing

@Suite(.serialized) struct GoldenLogitsTests {
  @Test(arguments: ["shared", "extra"]) func everyGoldenCaseMeetsTheCriteria(set: String) throws {
    let engine = try Engines.smolLM2()
    let criteria = GoldenCriteria()
    let golden = set == "shared" ? try Golden.smolLM2() : try Golden.smolLM2Extra()
    let tokenizer = try Tokenizers.smolLM2()
    for goldenCase in golden.cases {
      #expect(tokenizer.encode(goldenCase.prompt) == goldenCase.promptIDs, "\(goldenCase.name)")
      let logits = try Engines.score(
        engine, prompt: goldenCase.promptIDs, continuation: goldenCase.steps.map(\.id))
      let report = criteria.evaluate(steps: goldenCase.steps, logits: logits)
      print("\(goldenCase.name): \(report)")
      #expect(criteria.passes(report), "\(goldenCase.name): \(report)")
    }
  }

  /// Gemma 3 270M (SentencePiece, sliding window, K-quants dequantized at load) against
  /// llama.cpp, with the README's closeness bound for Gemma (3.0); `long_gpl` crosses the
  /// 512-token window.
  @Test func everyGemmaCaseMeetsTheCriteria() throws {
    let criteria = GoldenCriteria(closeness: 3.0)
    let outcomes = try criteria.outcomes(
      of: try Golden.gemma3(), engine: try Engines.gemma3(), tokenizer: try Tokenizers.gemma3(),
      addSpecial: true)
    for outcome in outcomes {
      print("\(outcome.name): \(outcome.report)")
      #expect(outcome.tokenizesAlike, "\(outcome.name)")
      #expect(criteria.passes(outcome.report), "\(outcome.name): \(outcome.report)")
    }
  }
}
