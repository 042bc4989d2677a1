import Core
import Router
import Testing

/// The membership rules with no sockets and a hand-driven clock.
@Suite struct MembershipTests {
  static let config = ModelConfig(
    architecture: "llama", layerCount: 30, embeddingLength: 576, feedForwardLength: 1536,
    headCount: 9, headCountKV: 3, contextLength: 8192, ropeFreqBase: 100_000,
    ropeDimensionCount: 64, rmsNormEpsilon: 1e-5, vocabularySize: 49152)
  static let model: [UInt8] = Array(repeating: 7, count: 32)

  func hello(_ name: String, model: [UInt8] = Self.model) -> WorkerHello {
    WorkerHello(name: name, threads: 1, fingerprint: model, dataAddress: "tcp://\(name):1")
  }

  @Test func workersJoinOnceAndOnlyWithTheSameModel() {
    var membership = Membership(fingerprint: Self.model, heartbeatTimeout: 5)
    let joined = membership.hello(id: [1], hello("a"), now: 0)
    let again = membership.hello(id: [1], hello("a"), now: 1)
    let other = membership.hello(id: [2], hello("b", model: [1, 2]), now: 1)
    #expect(joined == .joined && again == .rejoined && other == .wrongModel)
    #expect(membership.members.map(\.hello.name) == ["a"])
    let stranger = membership.seen(id: [9], now: 2)
    #expect(!stranger)
  }

  @Test func silentWorkersExpire() {
    var membership = Membership(fingerprint: Self.model, heartbeatTimeout: 5)
    _ = membership.hello(id: [1], hello("a"), now: 0)
    _ = membership.hello(id: [2], hello("b"), now: 0)
    let seen = membership.seen(id: [2], now: 4)
    let lost = membership.expire(now: 5.5)
    #expect(seen && lost.map(\.hello.name) == ["a"])
    #expect(membership.members.map(\.hello.name) == ["b"])
  }

  @Test func slotsGoInJoinOrderWithTheirPeersAddresses() throws {
    let plan = try PartitionPlan(config: Self.config, tensorParallel: 2, pipelineParallel: 2)
    var membership = Membership(fingerprint: Self.model, heartbeatTimeout: 5)
    for (index, name) in ["a", "b", "c"].enumerated() {
      _ = membership.hello(id: [UInt8(index)], hello(name), now: 0)
    }
    let planner = Planner(
      config: Self.config, tensorParallel: 2, pipelineParallel: 2,
      cost: ShardCost(
        config: Self.config, layerBytes: 0, embeddingBytes: 0, outputRowBytes: 0, kvTokens: 0))
    let tooFew = planner.place(membership.candidates, degradedAllowed: false)
    #expect(tooFew == .waiting("waiting for 3 of 4 workers"))
    _ = membership.hello(id: [3], hello("d"), now: 0)
    _ = membership.hello(id: [4], hello("spare"), now: 0)
    guard case .placed(let placement) = planner.place(membership.candidates, degradedAllowed: false)
    else {
      Issue.record("five workers place TP2×PP2")
      return
    }
    #expect(placement.plan == plan && placement.standbys == [[4]])
    let assignments = membership.apply(
      placement, planID: 9, kvTokens: 64, maxBatch: 8, workerTimeout: 0.5)
    #expect(assignments.map(\.id) == [[0], [1], [2], [3]])
    let slots = assignments.map(\.assignment.slot)
    #expect(slots == plan.slots)
    let first = assignments[0].assignment
    #expect(first.stagePeers == ["tcp://a:1", "tcp://b:1"] && first.nextStage == "tcp://c:1")
    let last = assignments[3].assignment
    #expect(last.stagePeers == ["tcp://c:1", "tcp://d:1"] && last.nextStage == nil)
    #expect(last.shard == plan.shard(Slot(stage: 1, rank: 1)) && last.planID == 9)
    #expect(last.workerTimeout == 0.5)
    #expect(membership.member(id: [4])?.slot == nil)  // a spare
    #expect(membership.standbys.map(\.hello.name) == ["spare"])

    #expect(!membership.allAssignedReady)
    let wrongSlot = membership.ready(id: [0], slot: Slot(stage: 1, rank: 0), weightBytes: 1)
    #expect(!wrongSlot)
    for (id, assignment) in assignments {
      let ready = membership.ready(id: id, slot: assignment.slot, weightBytes: 100)
      #expect(ready)
    }
    #expect(membership.allAssignedReady)
    // A worker that says hello again is no longer ready.
    _ = membership.hello(id: [2], hello("c"), now: 1)
    #expect(!membership.allAssignedReady)
  }
}
