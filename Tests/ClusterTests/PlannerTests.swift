import Core
import Router
import Testing

/// The re-planning rules as a pure function of who is there: no sockets, no clock.
@Suite struct PlannerTests {
  static let config = MembershipTests.config

  static func planner(tp: Int, pp: Int, cost: ShardCost? = nil) -> Planner {
    Planner(
      config: config, tensorParallel: tp, pipelineParallel: pp,
      cost: cost
        ?? ShardCost(
          config: config, layerBytes: 0, embeddingBytes: 0, outputRowBytes: 0, kvTokens: 0))
  }

  static func workers(_ count: Int, memory: Int = 0) -> [Planner.Candidate] {
    (0..<count).map { Planner.Candidate(id: [UInt8($0)], memoryBytes: memory) }
  }

  func layout(_ outcome: Planner.Outcome) -> String {
    switch outcome {
    case .placed(let placement):
      "TP\(placement.plan.tensorParallel)×PP\(placement.plan.pipelineParallel)"
        + " +\(placement.standbys.count)"
    case .waiting(let reason): reason
    }
  }

  @Test func atStartOnlyTheConfiguredLayoutIsPlanned() {
    let planner = Self.planner(tp: 2, pp: 2)
    #expect(
      layout(planner.place(Self.workers(3), degradedAllowed: false))
        == "waiting for 3 of 4 workers")
    #expect(layout(planner.place(Self.workers(4), degradedAllowed: false)) == "TP2×PP2 +0")
    #expect(layout(planner.place(Self.workers(6), degradedAllowed: false)) == "TP2×PP2 +2")
  }

  @Test func survivorsHoldTheLargestLayoutTheyCan() {
    // TP2 with one worker left is one worker; TP2×PP2 with three is PP3; with two, TP2.
    #expect(
      layout(Self.planner(tp: 2, pp: 1).place(Self.workers(1), degradedAllowed: true))
        == "TP1×PP1 +0")
    let planner = Self.planner(tp: 2, pp: 2)
    #expect(layout(planner.place(Self.workers(3), degradedAllowed: true)) == "TP1×PP3 +0")
    #expect(layout(planner.place(Self.workers(2), degradedAllowed: true)) == "TP2×PP1 +0")
    #expect(layout(planner.place(Self.workers(1), degradedAllowed: true)) == "TP1×PP1 +0")
    #expect(
      layout(planner.place([], degradedAllowed: true)) == "no workers: all 4 are gone")
    // TP3 (the model's three KV heads) with two left keeps TP2.
    #expect(
      layout(Self.planner(tp: 3, pp: 1).place(Self.workers(2), degradedAllowed: true))
        == "TP2×PP1 +0")
  }

  @Test func aStandbyTakesTheLostSlotAndTheOthersKeepTheirShards() throws {
    let planner = Self.planner(tp: 2, pp: 2)
    guard case .placed(let first) = planner.place(Self.workers(5), degradedAllowed: false) else {
      Issue.record("five workers place TP2×PP2")
      return
    }
    // Worker 1 (stage 0 rank 1) is lost; the others still hold their shards.
    var live = Self.workers(5).filter { $0.id != [1] }
    for index in live.indices {
      if let slot = first.workers.firstIndex(of: live[index].id) {
        live[index].shard = first.plan.shard(first.plan.slots[slot])
      }
    }
    // The standby (4) is listed first: join order alone would give it slot 0.
    live.sort { $0.id == [4] && $1.id != [4] }
    guard case .placed(let second) = planner.place(live, degradedAllowed: true) else {
      Issue.record("four workers place TP2×PP2 again")
      return
    }
    #expect(second.plan == first.plan)
    #expect(second.workers == [[0], [4], [2], [3]])
    #expect(second.standbys.isEmpty)
  }

  @Test func aWarmStandbyWithTheShardIsPreferred() {
    let planner = Self.planner(tp: 2, pp: 1)
    guard case .placed(let plan) = planner.place(Self.workers(2), degradedAllowed: false) else {
      Issue.record("two workers place TP2")
      return
    }
    let lostShard = plan.plan.shard(Slot(stage: 0, rank: 1))
    let live = [
      Planner.Candidate(id: [0], shard: plan.plan.shard(Slot(stage: 0, rank: 0))),
      Planner.Candidate(id: [7]),  // cold
      Planner.Candidate(id: [8], prepared: [lostShard]),  // warm
    ]
    guard case .placed(let next) = planner.place(live, degradedAllowed: true) else {
      Issue.record("three workers place TP2")
      return
    }
    #expect(next.workers == [[0], [8]] && next.standbys == [[7]])
  }

  @Test func shardsStayWithinEachWorkersMemory() {
    // 30 layers of 10 MB: one worker needs 300 MB; TP2 halves each layer; PP3, 100 MB each.
    let cost = ShardCost(
      config: Self.config, layerBytes: 10_000_000, embeddingBytes: 0, outputRowBytes: 0,
      kvTokens: 0)
    let planner = Self.planner(tp: 2, pp: 2, cost: cost)
    #expect(cost.bytes(for: .whole(Self.config)) == 300_000_000)
    // Two survivors of 160 MB: TP2's rank 0 holds two of the three KV heads (200 MB) and does
    // not fit; PP2 (150 MB each) does.
    #expect(
      layout(planner.place(Self.workers(2, memory: 160_000_000), degradedAllowed: true))
        == "TP1×PP2 +0")
    // Of 210 MB they hold TP2, which has fewer stages.
    #expect(
      layout(planner.place(Self.workers(2, memory: 210_000_000), degradedAllowed: true))
        == "TP2×PP1 +0")
    // One survivor of 160 MB: nothing fits.
    #expect(
      layout(planner.place(Self.workers(1, memory: 160_000_000), degradedAllowed: true))
        == "no layout fits the memory of the 1 live workers")
    // Three of 90 MB: PP3 needs 100 MB each; TP2 alone 150: only TP2×PP1 is out too; none fits.
    #expect(
      layout(planner.place(Self.workers(3, memory: 90_000_000), degradedAllowed: true))
        == "no layout fits the memory of the 3 live workers")
    // A mix: one large worker takes the largest shard.
    let mixed = [
      Planner.Candidate(id: [0], memoryBytes: 60_000_000),
      Planner.Candidate(id: [1], memoryBytes: 400_000_000),
    ]
    #expect(
      layout(Self.planner(tp: 1, pp: 2, cost: cost).place(mixed, degradedAllowed: true))
        == "TP1×PP1 +1")
  }
}
