import Core
import TestSupport
import Testing

@Suite(.serialized) struct GeneratorTests {
  /// `generate` (prefill, then one token per step) and `score` (one teacher-forced pass)
  /// produce bitwise the same logits for the same positions.
  @Test func generateAndScoreGiveTheSameLogits() throws {
    let engine = try Engines.smolLM2(threads: 2)
    let vocabulary = try Tokenizers.smolLM2().vocabulary
    let prompt = try Tokenizers.smolLM2().encode("The three laws of thermodynamics are")
    var generatedLogits: [[Float]] = []
    let result = try Generator(engine: engine, vocabulary: vocabulary).generate(
      prompt: prompt, maxTokens: 24, sampling: SamplingParameters(temperature: 0.8, seed: 7)
    ) { _, logits in generatedLogits.append(Array(logits)) }
    #expect(result.tokens.count == 24)
    let scored = try Engines.score(engine, prompt: prompt, continuation: result.tokens)
    #expect(scored.count == generatedLogits.count)
    for (a, b) in zip(scored, generatedLogits) {
      #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }
  }

  @Test func samplingWithASeedIsReproducible() throws {
    let engine = try Engines.smolLM2(threads: 2)
    let tokenizer = try Tokenizers.smolLM2()
    let generator = Generator(engine: engine, vocabulary: tokenizer.vocabulary)
    let prompt = tokenizer.encode("Once upon a time")
    let sampling = SamplingParameters(temperature: 1.0, topP: 0.95, seed: 42)
    let first = try generator.generate(prompt: prompt, maxTokens: 32, sampling: sampling)
    let second = try generator.generate(prompt: prompt, maxTokens: 32, sampling: sampling)
    #expect(first.tokens == second.tokens)
    var other = sampling
    other.seed = 43
    let third = try generator.generate(prompt: prompt, maxTokens: 32, sampling: other)
    #expect(third.tokens != first.tokens)
  }

  @Test func rejectsEmptyAndOverlongPrompts() throws {
    let engine = try Engines.smolLM2(threads: 1, kvTokens: 64)
    let generator = Generator(engine: engine, vocabulary: try Tokenizers.smolLM2().vocabulary)
    #expect(throws: ModelError.self) {
      try generator.generate(prompt: [], maxTokens: 4, sampling: SamplingParameters())
    }
    #expect(throws: ModelError.outOfKVBlocks) {
      try generator.generate(
        prompt: Array(repeating: 504, count: 100), maxTokens: 4, sampling: SamplingParameters())
    }
    // Nothing leaked: the cache is empty again and a small prompt still runs.
    #expect(engine.cache.allocator.usedCount == 0)
    let ok = try generator.generate(
      prompt: [504, 3575], maxTokens: 2, sampling: SamplingParameters())
    #expect(ok.tokens.count == 2)
  }
}
