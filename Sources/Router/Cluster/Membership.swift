public import Core

/// Who is in the cluster and where each worker sits in the plan: a pure state machine fed
/// with what arrives (hellos, heartbeats, readiness) and the time, with no I/O, so its rules
/// are tested directly.
public struct Membership: Sendable {
  public struct Member: Sendable, Equatable {
    /// The worker's ZeroMQ routing id.
    public let id: [UInt8]
    public var hello: WorkerHello
    public var lastSeen: Double
    public var slot: Slot?
    public var ready = false
    public var weightBytes = 0
    /// Bytes the worker reports having sent to its peers under the current plan.
    public var dataBytesSent = 0
  }

  public enum HelloOutcome: Equatable, Sendable {
    case joined
    /// A known worker said hello again (it lost its plan, or the router restarted).
    case rejoined
    case wrongModel
  }

  public let fingerprint: [UInt8]
  public let heartbeatTimeout: Double
  /// In join order.
  public private(set) var members: [Member] = []

  public init(fingerprint: [UInt8], heartbeatTimeout: Double) {
    self.fingerprint = fingerprint
    self.heartbeatTimeout = heartbeatTimeout
  }

  public mutating func hello(id: [UInt8], _ hello: WorkerHello, now: Double) -> HelloOutcome {
    guard hello.fingerprint == fingerprint else { return .wrongModel }
    if let index = members.firstIndex(where: { $0.id == id }) {
      members[index].hello = hello
      members[index].lastSeen = now
      members[index].ready = false
      return .rejoined
    }
    members.append(Member(id: id, hello: hello, lastSeen: now))
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
    let lost = members.filter { now - $0.lastSeen > heartbeatTimeout }
    members.removeAll { now - $0.lastSeen > heartbeatTimeout }
    return lost
  }

  /// Gives the plan's slots to the first workers that joined (stage by stage, rank by rank)
  /// and returns each one's assignment; nil while fewer workers than slots have joined.
  public mutating func assign(
    _ plan: PartitionPlan, planID: UInt64, kvTokens: Int, maxBatch: Int
  ) -> [(id: [UInt8], assignment: Assignment)]? {
    guard members.count >= plan.workerCount else { return nil }
    let slots = plan.slots
    for index in members.indices {
      members[index].slot = index < slots.count ? slots[index] : nil
      members[index].ready = false
      members[index].dataBytesSent = 0
    }
    func address(_ slot: Slot) -> String {
      members[slots.firstIndex(of: slot) ?? 0].hello.dataAddress
    }
    return slots.enumerated().map { index, slot in
      let stagePeers = (0..<plan.tensorParallel).map { address(Slot(stage: slot.stage, rank: $0)) }
      let next =
        slot.stage + 1 < plan.pipelineParallel
        ? address(Slot(stage: slot.stage + 1, rank: slot.rank)) : nil
      return (
        members[index].id,
        Assignment(
          planID: planID, slot: slot, tensorParallel: plan.tensorParallel,
          pipelineParallel: plan.pipelineParallel, shard: plan.shard(slot),
          stagePeers: stagePeers, nextStage: next, kvTokens: kvTokens, maxBatch: maxBatch)
      )
    }
  }

  /// Marks a worker ready for `slot`; false if that is not its slot.
  public mutating func ready(id: [UInt8], slot: Slot, weightBytes: Int) -> Bool {
    guard let index = members.firstIndex(where: { $0.id == id }), members[index].slot == slot
    else { return false }
    members[index].ready = true
    members[index].weightBytes = weightBytes
    return true
  }

  /// Records a worker's report of its data-plane traffic.
  public mutating func report(id: [UInt8], dataBytesSent: Int) {
    guard let index = members.firstIndex(where: { $0.id == id }) else { return }
    members[index].dataBytesSent = dataBytesSent
  }

  /// The workers holding slots of the current assignment.
  public var assigned: [Member] { members.filter { $0.slot != nil } }

  public var allAssignedReady: Bool { !assigned.isEmpty && assigned.allSatisfy(\.ready) }
}
