import Core

/// Losing workers and planning again: one incident per lost plan, logged once when it starts
/// and once when the next plan is ready, and counted in `/metrics`.
extension Coordinator {
  /// Between steps: takes in what the workers sent, notices lost workers, and grows the
  /// cluster back towards the configured layout when workers have come back. Call it only
  /// when no step is in flight. (Called every step: it allocates nothing when nothing
  /// changed.)
  public func maintain() {
    for _ in 0..<256 {
      guard (try? pump(timeoutMilliseconds: 0)) == true else { break }
    }
    growBackIfPossible()
    // Workers that joined (or came back) and stay outside the plan wait as standbys.
    if isReady,
      membership.members.contains(where: { $0.slot == nil && $0.standbyPlanID != planID })
    {
      for id in membership.standbys.map(\.id) {
        guard isReady, let member = membership.member(id: id), member.slot == nil,
          member.standbyPlanID != planID
        else { continue }
        orderStandby(id)
      }
    }
  }

  /// Workers `lost` (already out of the membership) or a plan that cannot go on: if the plan
  /// needed them, the steps in flight fail, the plan is dropped, and a new one is made at
  /// once from who is left.
  func lose(_ lost: [Membership.Member], reason: String, detail: String) {
    let count = max(lost.count, 1)  // a plan lost without removing anyone counts once
    failures[reason, default: 0] += count
    for member in lost where member.slot == nil {
      log.info("standby \(member.hello.name) lost (\(reason): \(detail))")
    }
    let planned = lost.filter { $0.slot != nil }
    guard planID != 0, lost.isEmpty || !planned.isEmpty else { return }
    let names = planned.map(\.hello.name).joined(separator: ", ")
    losePlan(reason: reason, detail: names.isEmpty ? detail : "\(names): \(detail)")
  }

  /// Drops the running plan: steps in flight fail as a lost worker, and the next pump plans.
  func losePlan(reason: String, detail: String) {
    guard planID != 0 else { return }
    let now = clock.now()
    if incident == nil {
      incident = Incident(started: now, reason: reason, from: layoutText(plan))
      log.warning("lost the plan \(layoutText(plan)) (\(reason): \(detail)); planning again")
    }
    failPending(.planLost("\(reason): \(detail)"))
    prefixReplies = nil
    planID = 0
    planIfPossible()
  }

  /// Places the model on the live workers and hands out the assignments and standby orders.
  func planIfPossible() {
    switch planner.place(membership.candidates, degradedAllowed: degradedAllowed) {
    case .waiting(let reason):
      waitingReason = reason
    case .placed(let placement):
      assign(placement)
    }
  }

  func assign(_ placement: Planner.Placement) {
    let id = UInt64.random(in: 1...UInt64.max)
    plan = placement.plan
    planID = id
    assignedAt = clock.now()
    waitingReason = "workers loading their shards"
    let assignments = membership.apply(
      placement, planID: id, kvTokens: kvTokens, maxBatch: maxBatch,
      workerTimeout: workerTimeout)
    log.debug("\(plan) (plan \(id))")
    // A send that finds a worker gone plans again at once: then this plan is over, and what
    // is left of it must not follow the next one's messages.
    for (memberID, assignment) in assignments {
      try? send(WireMessage.assign(assignment).encoded(), to: memberID)
      guard planID == id else { return }
    }
    for standby in placement.standbys {
      orderStandby(standby)
      guard planID == id else { return }
    }
  }

  /// Tells a worker outside the plan to wait as a standby (warm: packing the plan's shards).
  func orderStandby(_ id: [UInt8]) {
    var shards: [ShardSpec] = []
    if standbyMode == .warm {
      for slot in plan.slots where !shards.contains(plan.shard(slot)) {
        shards.append(plan.shard(slot))
      }
    }
    membership.ordered(id: id, shards: shards, planID: planID)
    let order = StandbyOrder(
      planID: planID, warm: standbyMode == .warm, shards: shards, workerTimeout: workerTimeout)
    try? send(WireMessage.standby(order).encoded(), to: id)
  }

  /// Every assigned worker is ready: the plan runs.
  func planReady() {
    waitingReason = nil
    let first = !degradedAllowed
    degradedAllowed = true
    let standbys = membership.standbys.count
    let layout = layoutText(plan)
    if let incident {
      let seconds = clock.now() - incident.started
      replanCount += 1
      RouterMetrics.recovered(after: seconds)
      replans.append(
        Replan(
          at: incident.started, reason: incident.reason, from: incident.from, to: layout,
          seconds: seconds))
      if replans.count > 16 { replans.removeFirst(replans.count - 16) }
      log.warning(
        "recovered from \(incident.reason) in \(Self.format(seconds)) s: \(incident.from) → "
          + "\(layout) (plan \(planID)), \(standbys) standby")
      self.incident = nil
    } else if first {
      log.info(
        "all \(plan.workerCount) workers ready: \(layout) (plan \(planID)), \(standbys) standby")
    } else {
      log.info("now \(layout) (plan \(planID)), \(standbys) standby")
    }
  }

  /// A plan whose workers did not all load their shards in time: those that did not leave it.
  func dropUnready() {
    let slow = membership.assigned.filter { !$0.ready }
    for member in slow { membership.remove(id: member.id) }
    lose(slow, reason: "hung", detail: "no shard loaded within \(assignDeadline) s")
  }

  /// Between steps, with the plan running smaller than configured: if the live workers now
  /// hold a larger layout, move to it (the sequences in flight are computed again on it).
  func growBackIfPossible() {
    guard plan.workerCount < planner.configuredWorkers, isReady, pending.isEmpty,
      prefixReplies == nil,
      case .placed(let placement) = planner.place(membership.candidates, degradedAllowed: true),
      placement.plan.workerCount > plan.workerCount
    else { return }
    incident = Incident(started: clock.now(), reason: "grow back", from: layoutText(plan))
    log.info("\(membership.members.count) workers: growing back from \(layoutText(plan))")
    planID = 0
    assign(placement)
  }

  func layoutText(_ plan: PartitionPlan) -> String {
    "TP=\(plan.tensorParallel)×PP=\(plan.pipelineParallel)"
  }

  static func format(_ seconds: Double) -> String {
    String(Double(Int(seconds * 1000)) / 1000)
  }
}

extension Coordinator {
  /// Fails every step in flight that has not failed yet.
  func failPending(_ error: ClusterError) {
    for id in pending.keys where pending[id]?.failure == nil { pending[id]?.failure = error }
  }
}
