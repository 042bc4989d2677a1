import Core
import TestSupport
import Testing

/// Gemma 3 against llama.cpp at 2K and 8K tokens of context (license texts; made by
/// scripts/gen-long-goldens.py), with the README's criteria and Gemma's closeness bound 3.0.
/// Far past the 512-token window, with the window pool freeing local layers' blocks as the
/// prompt goes. `make test` runs these in its release build (they are skipped from the debug
/// pass there); the 32K case is scripts/bench-long-context's.
@Suite(.serialized) struct LongContextGoldenTests {
  @Test func gemmaAt2KAnd8KTokensMeetsTheCriteria() throws {
    let golden = try Golden.gemma3Long()
    #expect(golden.cases.map(\.name) == ["long_2k", "long_8k"])
    let criteria = GoldenCriteria(closeness: 3.0)
    let outcomes = try criteria.outcomes(
      of: golden, engine: try Engines.gemma3(threads: 2, maxBatch: 256, kvTokens: 8_448),
      tokenizer: try Tokenizers.gemma3(), addSpecial: true)
    for outcome in outcomes {
      print("\(outcome.name) (\(outcome.promptTokens) tokens): \(outcome.report)")
      #expect(outcome.tokenizesAlike, "\(outcome.name)")
      #expect(criteria.passes(outcome.report), "\(outcome.name): \(outcome.report)")
    }
  }
}
