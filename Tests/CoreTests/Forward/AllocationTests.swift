import Core
import MallocCounter
import TestSupport
import Testing

#if DEBUG
  private let optimized = false
#else
  private let optimized = true
#endif

/// The steady-state decode loop makes no heap allocation per token. Only an optimized build
/// says anything about that (unoptimized Swift boxes captured variables on the heap), so
/// `make test` runs this suite a second time in release mode.
@Suite(.serialized) struct AllocationTests {
  @Test(.enabled(if: optimized, "counted in the release run of make test"))
  func decodeStepsAllocateNothing() throws {
    #expect(malloc_counter_is_active() == 1)
    let engine = try Engines.smolLM2(threads: 2)
    let prompt: [TokenID] = [504, 3575, 282, 4649, 314]
    var logits = try engine.prefill(sequence: 0, tokens: prompt)
    var sampler = Sampler(parameters: SamplingParameters(temperature: 0.8, topK: 40, seed: 1))
    var history = prompt
    history.reserveCapacity(prompt.count + 64)
    // Warm up: the sampler sizes its scratch, the cache takes its first blocks.
    for _ in 0..<3 {
      let token = sampler.sample(
        logits: logits, history: history, choiceIndex: 0, position: history.count)
      history.append(token)
      logits = try engine.decode(sequence: 0, token: token)
    }
    // Steps that stay inside the current KV block (blocks are 16 tokens): nothing allocated.
    let steps = 16 - history.count % 16 - 1
    #expect(steps >= 4)
    let before = malloc_counter_thread_allocations()
    for _ in 0..<steps {
      let token = sampler.sample(
        logits: logits, history: history, choiceIndex: 0, position: history.count)
      history.append(token)
      logits = try engine.decode(sequence: 0, token: token)
    }
    let allocations = malloc_counter_thread_allocations() - before
    #expect(allocations == 0, "\(allocations) allocations in \(steps) decode steps")
    // The counter does see allocations (so the zero above means something).
    let probe = malloc_counter_thread_allocations()
    let array = [Int](repeating: 1, count: 1000 + Int(probe % 7))
    #expect(malloc_counter_thread_allocations() > probe && array.count > 0)
    engine.release(sequence: 0)
  }
}
