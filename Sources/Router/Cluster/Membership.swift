public import Core

/// Who is in the cluster and where each worker sits in the plan: a pure state machine fed
/// with what arrives (hellos, heartbeats, readiness) and the time, with no I/O, so its rules
/// are tested directly. Workers outside the plan are standbys.
public struct Membership: Sendable {
  public struct Member: Sendable, Equatable {
    /// The worker's ZeroMQ routing id.
    public let id: [UInt8]
    public var hello: WorkerHello
    /// Its Curve public key, as the router's ZAP handler authenticated it ("" without Curve):
    /// its peers dial its data plane with it.
    public var publicKey = ""
    public var lastSeen: Double
    public var slot: Slot?
    /// The shard of `slot` (kept after the plan is lost, so a re-plan can leave it there).
    public var shard: ShardSpec?
    public var ready = false
    public var weightBytes = 0
    /// Bytes the worker reports having sent to its peers under the current plan.
    public var dataBytesSent = 0
    /// The shards a standby was told to keep packed, and how many of them it has.
    public var standbyShards: [ShardSpec] = []
    public var preparedShards = 0
    /// The plan of the last standby order it was sent (0: none).
    public var standbyPlanID: UInt64 = 0
    /// Clients its data plane refused for their Curve key, as it last reported.
    public var refusedClients = 0
  }

  public enum HelloOutcome: Equatable, Sendable {
    case joined
    /// A known worker said hello again (it lost its plan, or the router restarted).
    case rejoined
    case wrongModel
  }

  public let fingerprint: [UInt8]
  /// Seconds of silence after which a worker counts as lost (`--worker-timeout`).
  public let heartbeatTimeout: Double
  /// In join order.
  public private(set) var members: [Member] = []

  public init(fingerprint: [UInt8], heartbeatTimeout: Double) {
    self.fingerprint = fingerprint
    self.heartbeatTimeout = heartbeatTimeout
  }

  public mutating func hello(
    id: [UInt8], _ hello: WorkerHello, publicKey: String = "", now: Double
  ) -> HelloOutcome {
    guard hello.fingerprint == fingerprint else { return .wrongModel }
    if let index = members.firstIndex(where: { $0.id == id }) {
      members[index].hello = hello
      members[index].publicKey = publicKey
      members[index].lastSeen = now
      members[index].ready = false
      members[index].standbyShards = []
      members[index].preparedShards = 0
      members[index].standbyPlanID = 0
      return .rejoined
    }
    members.append(Member(id: id, hello: hello, publicKey: publicKey, lastSeen: now))
    return .joined
  }

  /// Records a sign of life; false for a worker that never said hello.
  public mutating func seen(id: [UInt8], now: Double) -> Bool {
    guard let index = members.firstIndex(where: { $0.id == id }) else { return false }
    members[index].lastSeen = now
    return true
  }

  public func member(id: [UInt8]) -> Member? { members.first { $0.id == id } }

  /// Removes workers silent for longer than the heartbeat timeout and returns them.
  public mutating func expire(now: Double) -> [Member] {
    guard members.contains(where: { now - $0.lastSeen > heartbeatTimeout }) else { return [] }
    let lost = members.filter { now - $0.lastSeen > heartbeatTimeout }
    members.removeAll { now - $0.lastSeen > heartbeatTimeout }
    return lost
  }

  /// Removes a worker now (its socket is gone, or it failed to take its slot).
  @discardableResult
  public mutating func remove(id: [UInt8]) -> Member? {
    guard let index = members.firstIndex(where: { $0.id == id }) else { return nil }
    return members.remove(at: index)
  }

  /// Every member as the planner sees it.
  public var candidates: [Planner.Candidate] {
    members.map {
      Planner.Candidate(
        id: $0.id, memoryBytes: $0.hello.memoryBytes, shard: $0.shard,
        prepared: Array($0.standbyShards.prefix($0.preparedShards)))
    }
  }

  /// Gives the placement's slots to its workers and returns each one's assignment; the
  /// others become standbys.
  public mutating func apply(
    _ placement: Planner.Placement, planID: UInt64, kvTokens: Int, maxBatch: Int,
    workerTimeout: Double
  ) -> [(id: [UInt8], assignment: Assignment)] {
    let plan = placement.plan
    let slots = plan.slots
    let slotOf = Dictionary(
      zip(placement.workers, slots).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
    for index in members.indices {
      let slot = slotOf[members[index].id]
      members[index].slot = slot
      members[index].shard = slot.map(plan.shard)
      members[index].ready = false
      members[index].dataBytesSent = 0
      if slot != nil {
        members[index].standbyShards = []
        members[index].preparedShards = 0
      }
    }
    func holder(_ slot: Slot) -> Member? {
      member(id: placement.workers[slots.firstIndex(of: slot) ?? 0])
    }
    func stage(_ stage: Int) -> [Member?] {
      (0..<plan.tensorParallel).map { holder(Slot(stage: stage, rank: $0)) }
    }
    let secure = members.contains { !$0.publicKey.isEmpty }
    return zip(placement.workers, slots).map { id, slot in
      let peers = stage(slot.stage)
      let nextHolder =
        slot.stage + 1 < plan.pipelineParallel
        ? holder(Slot(stage: slot.stage + 1, rank: slot.rank)) : nil
      let next = nextHolder.map(\.hello.dataAddress)
      // Who dials this worker's data plane: the other ranks of its stage and the stage before.
      let clients =
        peers.enumerated().filter { $0.offset != slot.rank }.map(\.element)
        + (slot.stage > 0 ? stage(slot.stage - 1) : [])
      return (
        id,
        Assignment(
          planID: planID, slot: slot, tensorParallel: plan.tensorParallel,
          pipelineParallel: plan.pipelineParallel, shard: plan.shard(slot),
          stagePeers: peers.map { $0?.hello.dataAddress ?? "" }, nextStage: next,
          kvTokens: kvTokens, maxBatch: maxBatch, workerTimeout: workerTimeout,
          stagePeerKeys: secure ? peers.map { $0?.publicKey ?? "" } : [],
          nextStageKey: nextHolder?.publicKey ?? "",
          dataClientKeys: secure ? clients.compactMap { $0?.publicKey } : [])
      )
    }
  }

  /// Records that a standby was told to keep `shards` packed.
  public mutating func ordered(id: [UInt8], shards: [ShardSpec], planID: UInt64) {
    guard let index = members.firstIndex(where: { $0.id == id }) else { return }
    members[index].standbyPlanID = planID
    if members[index].standbyShards != shards { members[index].preparedShards = 0 }
    members[index].standbyShards = shards
  }

  /// Marks a worker ready for `slot`; false if that is not its slot.
  public mutating func ready(id: [UInt8], slot: Slot, weightBytes: Int) -> Bool {
    guard let index = members.firstIndex(where: { $0.id == id }), members[index].slot == slot
    else { return false }
    members[index].ready = true
    members[index].weightBytes = weightBytes
    return true
  }

  /// Records a worker's heartbeat report: its data-plane traffic (a plan member) or how many
  /// of its standby shards it has packed.
  public mutating func report(id: [UInt8], dataBytesSent: Int, preparedShards: Int) {
    guard let index = members.firstIndex(where: { $0.id == id }) else { return }
    if members[index].slot != nil {
      members[index].dataBytesSent = dataBytesSent
    } else {
      members[index].preparedShards = min(preparedShards, members[index].standbyShards.count)
    }
  }

  /// Records how many clients a worker's data plane has refused since it started.
  public mutating func refused(id: [UInt8], _ count: Int) {
    guard let index = members.firstIndex(where: { $0.id == id }) else { return }
    members[index].refusedClients = count
  }

  /// The workers holding slots of the current assignment.
  public var assigned: [Member] { members.filter { $0.slot != nil } }

  /// The workers outside the plan.
  public var standbys: [Member] { members.filter { $0.slot == nil } }

  /// Asked several times per step, so it counts without building `assigned`.
  public var allAssignedReady: Bool {
    members.contains { $0.slot != nil } && !members.contains { $0.slot != nil && !$0.ready }
  }
}
