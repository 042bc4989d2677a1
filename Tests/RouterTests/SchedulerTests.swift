import Core
import Router
import Testing

/// The scheduler driven by a simulated engine: the "sampled" token depends only on the
/// sequence and its position, as Tessera's counter-based sampling does, so a sequence must
/// produce the same tokens whatever else runs, however its prompt is chunked, and whether or
/// not it was preempted and recomputed.
@Suite struct SchedulerTests {
  static func limits(
    maxRunning: Int = 8, maxQueued: Int = 64, stepTokens: Int = 64, blockSize: Int = 4,
    totalBlocks: Int = 256
  ) -> Scheduler.Limits {
    Scheduler.Limits(
      maxRunning: maxRunning, maxQueued: maxQueued, stepTokens: stepTokens, blockSize: blockSize,
      totalBlocks: totalBlocks)
  }

  struct Request {
    var id: Int
    var prompt: [TokenID]
    var maxNewTokens: Int
  }

  static func token(sequence: Int, position: Int) -> TokenID {
    TokenID(truncatingIfNeeded: (sequence &* 7919 &+ position &* 104_729) % 50_000)
  }

  /// Runs requests (each submitted at its step) to the end, checking the invariants every
  /// step; returns each sequence's generated tokens and the scheduler.
  static func run(
    _ requests: [(step: Int, request: Request)], limits: Scheduler.Limits,
    cancel: [(step: Int, id: Int)] = []
  ) -> (outputs: [Int: [TokenID]], scheduler: Scheduler, maxBatch: Int) {
    var scheduler = Scheduler(limits: limits)
    var outputs: [Int: [TokenID]] = [:]
    var fed: [Int: Int] = [:]  // tokens in the simulated cache per sequence
    var maxBatch = 0
    var step = 0
    while step < 10_000 {
      for (at, request) in requests where at == step {
        let outcome = scheduler.submit(
          id: request.id, prompt: request.prompt, maxNewTokens: request.maxNewTokens)
        #expect(outcome == .queued)
      }
      for (at, id) in cancel where at == step { scheduler.cancel(id: id) }
      if scheduler.isIdle && requests.allSatisfy({ $0.step <= step }) { break }
      let plan = scheduler.nextStep()
      for id in plan.releases { fed[id] = nil }
      #expect(plan.slices.reduce(0) { $0 + $1.tokens.count } <= limits.stepTokens)
      #expect(Set(plan.slices.map(\.sequence)).count == plan.slices.count)
      var sampled: [Int: TokenID] = [:]
      for slice in plan.slices {
        fed[slice.sequence, default: 0] += slice.tokens.count
        if slice.wantsLogits {
          sampled[slice.sequence] = token(
            sequence: slice.sequence, position: fed[slice.sequence, default: 0])
        }
      }
      let blocksInUse = fed.values.reduce(0) { $0 + ($1 + limits.blockSize - 1) / limits.blockSize }
      #expect(blocksInUse <= limits.totalBlocks, "step \(step)")
      maxBatch = max(maxBatch, plan.slices.count)
      scheduler.complete(plan, sampled: sampled, finished: [])
      for (id, token) in sampled {
        // Recomputation after a preemption samples a position it sampled before.
        let promptCount = requests.first { $0.request.id == id }?.request.prompt.count ?? 0
        let position = fed[id, default: 0] - promptCount
        let previous = outputs[id, default: []]
        if position < previous.count {
          #expect(
            position >= 0 && previous[position] == token,
            "sequence \(id) changed its token at \(position)")
        } else {
          outputs[id, default: []].append(token)
        }
      }
      step += 1
    }
    #expect(scheduler.isIdle, "did not drain")
    return (outputs, scheduler, maxBatch)
  }

  static func requests(_ count: Int, promptLength: Int = 10, maxNewTokens: Int = 12) -> [Request] {
    (0..<count).map { id in
      Request(
        id: id, prompt: (0..<(promptLength + id)).map { TokenID($0 + id) },
        maxNewTokens: maxNewTokens)
    }
  }

  @Test func aSequenceGeneratesTheSameAloneAndAmongOthers() {
    let all = Self.requests(8)
    let together = Self.run(all.map { (0, $0) }, limits: Self.limits())
    #expect(together.maxBatch > 1)
    for request in all {
      let alone = Self.run([(0, request)], limits: Self.limits())
      #expect(alone.outputs[request.id] == together.outputs[request.id], "sequence \(request.id)")
      #expect(alone.outputs[request.id]?.count == request.maxNewTokens)
    }
  }

  @Test func promptsAreChunkedAndInterleavedWithDecode() {
    var scheduler = Scheduler(limits: Self.limits(stepTokens: 8))
    let first = scheduler.submit(id: 1, prompt: [1, 2, 3], maxNewTokens: 5)
    #expect(first == .queued)
    var plan = scheduler.nextStep()
    #expect(plan.slices == [.init(sequence: 1, tokens: [1, 2, 3], wantsLogits: true)])
    scheduler.complete(plan, sampled: [1: 99], finished: [])
    let second = scheduler.submit(id: 2, prompt: Array(100..<120), maxNewTokens: 5)
    #expect(second == .queued)
    plan = scheduler.nextStep()
    // Sequence 1 decodes its sampled token; sequence 2 gets the rest of the budget.
    #expect(plan.slices[0] == .init(sequence: 1, tokens: [99], wantsLogits: true))
    #expect(plan.slices[1] == .init(sequence: 2, tokens: Array(100..<107), wantsLogits: false))
    scheduler.complete(plan, sampled: [1: 98], finished: [])
    plan = scheduler.nextStep()
    #expect(plan.slices[1] == .init(sequence: 2, tokens: Array(107..<114), wantsLogits: false))
  }

  /// A cached prefix is loaded at admission: it takes blocks but no step budget, and the first
  /// slice starts after it.
  @Test func aCachedPrefixIsLoadedNotComputed() {
    var scheduler = Scheduler(limits: Self.limits(stepTokens: 8, totalBlocks: 8))
    #expect(
      scheduler.submit(id: 1, prompt: Array(0..<14), maxNewTokens: 4, cachedTokens: 12) == .queued)
    var plan = scheduler.nextStep()
    var expected = Scheduler.Slice(sequence: 1, tokens: [12, 13], wantsLogits: true)
    expected.loadsCachedTokens = 12
    #expect(plan.slices == [expected])
    #expect(scheduler.blocksUsed == 3)  // 12 loaded tokens hold three blocks of 4
    scheduler.complete(plan, sampled: [1: 50], finished: [])
    #expect(scheduler.blocksUsed == 4)
    plan = scheduler.nextStep()
    #expect(plan.slices == [.init(sequence: 1, tokens: [50], wantsLogits: true)])
    // Not a whole number of blocks, or the whole prompt: computed as usual.
    #expect(
      scheduler.submit(id: 2, prompt: Array(0..<8), maxNewTokens: 1, cachedTokens: 6) == .queued)
    #expect(
      scheduler.submit(id: 3, prompt: Array(0..<8), maxNewTokens: 1, cachedTokens: 8) == .queued)
    scheduler.complete(plan, sampled: [1: 51], finished: [])
    plan = scheduler.nextStep()
    #expect(plan.slices.map(\.sequence) == [1, 2])  // 3 waits for blocks
    #expect(plan.slices[1].loadsCachedTokens == 0 && plan.slices[1].tokens == Array(0..<7))
  }

  /// Fewer blocks loaded than promised (a part evicted since the lookup): the loop drops the
  /// sequence's slice from the step and revises its prefix; the next step computes from the
  /// first missing block.
  @Test func aPartialLoadComputesFromTheFirstMissingBlock() {
    var scheduler = Scheduler(limits: Self.limits(stepTokens: 8, totalBlocks: 8))
    #expect(
      scheduler.submit(id: 1, prompt: Array(0..<14), maxNewTokens: 4, cachedTokens: 12) == .queued)
    var plan = scheduler.nextStep()
    #expect(plan.slices.first?.loadsCachedTokens == 12)
    scheduler.reviseCachedPrefix(id: 1, tokens: 4)  // one block of three loaded
    plan.slices = []
    scheduler.complete(plan, sampled: [:], finished: [])
    #expect(scheduler.blocksUsed == 1)  // as in the engine's cache: the one block loaded
    plan = scheduler.nextStep()
    #expect(plan.slices == [.init(sequence: 1, tokens: Array(4..<12), wantsLogits: false)])
    scheduler.complete(plan, sampled: [:], finished: [])
    plan = scheduler.nextStep()
    #expect(plan.slices == [.init(sequence: 1, tokens: [12, 13], wantsLogits: true)])
    // Only once, and never upwards: a later revision changes nothing.
    scheduler.reviseCachedPrefix(id: 1, tokens: 0)
    scheduler.complete(plan, sampled: [1: 50], finished: [])
    #expect(scheduler.nextStep().slices == [.init(sequence: 1, tokens: [50], wantsLogits: true)])
  }

  @Test func admissionWaitsForRunningSlotsAndBlocks() {
    var scheduler = Scheduler(limits: Self.limits(maxRunning: 2, blockSize: 4, totalBlocks: 10))
    for id in 0..<3 { _ = scheduler.submit(id: id, prompt: Array(0..<8), maxNewTokens: 4) }
    let plan = scheduler.nextStep()
    #expect(plan.slices.map(\.sequence) == [0, 1])  // two running slots
    #expect(scheduler.queuedCount == 1 && scheduler.runningCount == 2)
    var tight = Scheduler(limits: Self.limits(blockSize: 4, totalBlocks: 5))
    _ = tight.submit(id: 0, prompt: Array(0..<12), maxNewTokens: 4)  // 3 blocks
    _ = tight.submit(id: 1, prompt: Array(0..<8), maxNewTokens: 4)  // 2 blocks + 1 per running
    let tightPlan = tight.nextStep()
    #expect(tightPlan.slices.map(\.sequence) == [0])
  }

  @Test func fullQueuesAndImpossibleRequestsAreRefused() {
    var scheduler = Scheduler(limits: Self.limits(maxQueued: 2, blockSize: 4, totalBlocks: 4))
    let outcomes = [
      scheduler.submit(id: 0, prompt: [1], maxNewTokens: 1),
      scheduler.submit(id: 1, prompt: [1], maxNewTokens: 1),
      scheduler.submit(id: 2, prompt: [1], maxNewTokens: 1),
      scheduler.submit(id: 3, prompt: Array(repeating: 1, count: 10), maxNewTokens: 10),
      scheduler.submit(id: 4, prompt: [], maxNewTokens: 1),
    ]
    #expect(
      outcomes == [
        .queued, .queued, .queueFull, .tooLarge(blocksNeeded: 5, totalBlocks: 4), .emptyPrompt,
      ])
  }

  @Test func runningOutOfBlocksPreemptsTheNewestAndRecomputesItExactly() {
    // 12 blocks of 4 tokens: four sequences of 6 prompt tokens that each grow to 26 cannot
    // all fit, so decoding preempts; recomputation must give the same tokens.
    let all = Self.requests(4, promptLength: 6, maxNewTokens: 20)
    let tight = Self.run(all.map { (0, $0) }, limits: Self.limits(totalBlocks: 12))
    #expect(tight.scheduler.preemptionCount > 0)
    let roomy = Self.run(all.map { (0, $0) }, limits: Self.limits())
    #expect(roomy.scheduler.preemptionCount == 0)
    #expect(tight.outputs == roomy.outputs)
  }

  @Test func cancellationFreesQueuedAndRunningSequences() {
    var scheduler = Scheduler(limits: Self.limits(maxRunning: 1))
    _ = scheduler.submit(id: 0, prompt: [1, 2], maxNewTokens: 50)
    _ = scheduler.submit(id: 1, prompt: [3, 4], maxNewTokens: 50)
    let plan = scheduler.nextStep()
    scheduler.complete(plan, sampled: [0: 5], finished: [])
    let cancelled = [scheduler.cancel(id: 1), scheduler.cancel(id: 0), scheduler.cancel(id: 7)]
    #expect(cancelled == [true, true, false])  // queued, running (released next step), unknown
    let next = scheduler.nextStep()
    #expect(next.releases == [0] && next.slices.isEmpty)
    #expect(scheduler.isIdle)
  }

  @Test func randomLoadsKeepEveryInvariant() {
    var generator = SplitMix64(seed: 11)
    for round in 0..<20 {
      let count = 1 + Int(generator.next() % 12)
      let requests = (0..<count).map { id in
        (
          step: Int(generator.next() % 30),
          request: Request(
            id: id, prompt: (0..<(1 + Int(generator.next() % 40))).map { TokenID($0) },
            maxNewTokens: 1 + Int(generator.next() % 30))
        )
      }
      let limits = Self.limits(
        maxRunning: 1 + Int(generator.next() % 6), stepTokens: 4 + Int(generator.next() % 60),
        blockSize: 4, totalBlocks: 20 + Int(generator.next() % 20))
      let result = Self.run(requests, limits: limits)
      for (_, request) in requests {
        #expect(result.outputs[request.id]?.count == request.maxNewTokens, "round \(round)")
      }
    }
  }
}
