import Core
import Transport

/// The coordinator's socket: taking in what workers send (joins, heartbeats, logits, prefix
/// replies), planning once enough have joined, and heartbeats out.
extension Coordinator {
  // MARK: The socket

  /// Handles what arrives within `timeoutMilliseconds`, sends heartbeats, notices lost
  /// workers, and plans once enough have joined.
  @discardableResult
  func pump(timeoutMilliseconds: Int, spinMicroseconds: Int = 0) throws(ClusterError) -> Bool {
    let now = clock.now()
    if now - lastHeartbeat >= 1 { sendHeartbeats() }
    for lost in membership.expire(now: now) {
      log.warning("worker \(lost.hello.name) stopped answering")
      if lost.slot != nil {
        failPending(.workerLost(lost.hello.name))
        planID = 0
      }
    }
    if planID == 0 { try planIfPossible() }
    let message: [[UInt8]]?
    do {
      message = try socket.receive(
        timeoutMilliseconds: timeoutMilliseconds, spinMicroseconds: spinMicroseconds)
    } catch {
      throw .transport(error)
    }
    guard let parts = message else { return false }
    guard parts.count == 2 else {
      droppedMessages += 1
      log.warning("dropped a message of \(parts.count) parts")
      return true
    }
    bytesReceived += parts[1].count
    let id = parts[0]
    let decoded: WireMessage
    do {
      decoded = try WireMessage(decoding: parts[1])
    } catch {
      droppedMessages += 1
      log.warning("dropped a message from \(String(decoding: id, as: UTF8.self)): \(error)")
      return true
    }
    handle(decoded, from: id, now: clock.now())
    return true
  }

  func handle(_ message: WireMessage, from id: [UInt8], now: Double) {
    if case .hello(let hello) = message {
      switch membership.hello(id: id, hello, now: now) {
      case .joined: log.info("worker \(hello.name) joined (\(hello.dataAddress))")
      case .rejoined:
        log.info("worker \(hello.name) joined again")
        if membership.member(id: id)?.slot != nil {
          failPending(.workerLost(hello.name))
          planID = 0
        }
      case .wrongModel:
        log.warning("worker \(hello.name) has a different model file; not using it")
      }
      return
    }
    guard membership.seen(id: id, now: now), let member = membership.member(id: id) else {
      droppedMessages += 1
      // Unknown sender: ask it to say hello.
      try? send(WireMessage.heartbeat(Heartbeat(planID: 0, sequence: 0)).encoded(), to: id)
      return
    }
    switch message {
    case .ready(let ready):
      guard ready.planID == planID,
        membership.ready(id: id, slot: ready.slot, weightBytes: ready.weightBytes)
      else { return }
      log.info("worker \(member.hello.name) ready at \(ready.slot): \(ready.weightBytes) bytes")
      if isReady { log.info("all \(plan.workerCount) workers ready") }
    case .logits(let reply):
      guard reply.planID == planID, var step = pending[reply.stepID],
        reply.rows == step.rows, reply.slot == member.slot,
        !step.slices.contains(where: { $0.slot == reply.slot })
      else {
        droppedMessages += 1
        log.warning("dropped logits from \(member.hello.name) that match no waiting step")
        return
      }
      step.slices.append(reply)
      pending[reply.stepID] = step
    case .failure(let failure):
      guard failure.planID == planID else { return }
      let error = ClusterError.stepFailed(worker: member.hello.name, message: failure.message)
      if failure.stepID == 0 {
        log.error("\(error)")
        failPending(error)
      } else if pending[failure.stepID] != nil {
        pending[failure.stepID]?.failure = error
      }
    case .prefixLoaded(let loaded):
      guard loaded.planID == planID, loaded.slot == member.slot,
        prefixReplies?.sequence == loaded.sequence
      else {
        droppedMessages += 1
        log.warning("dropped a prefix reply from \(member.hello.name) that matches no load")
        return
      }
      prefixReplies?.blocks[loaded.slot] = loaded.blocks
    case .heartbeat(let heartbeat):
      if heartbeat.planID == planID, member.slot != nil {
        membership.report(id: id, dataBytesSent: Int(clamping: heartbeat.dataBytesSent))
      }
    default:
      droppedMessages += 1
      log.warning("dropped an unexpected message from \(member.hello.name)")
    }
  }

  func planIfPossible() throws(ClusterError) {
    let id = UInt64.random(in: 1...UInt64.max)
    guard
      let assignments = membership.assign(
        plan, planID: id, kvTokens: kvTokens, maxBatch: maxBatch)
    else { return }
    planID = id
    log.info("\(plan) (plan \(id))")
    for (memberID, assignment) in assignments {
      try send(WireMessage.assign(assignment).encoded(), to: memberID)
    }
  }

  func failPending(_ error: ClusterError) {
    for id in pending.keys where pending[id]?.failure == nil { pending[id]?.failure = error }
  }

  func sendHeartbeats() {
    lastHeartbeat = clock.now()
    heartbeats += 1
    for member in membership.members {
      let id = member.slot != nil ? planID : 0
      try? send(
        WireMessage.heartbeat(Heartbeat(planID: id, sequence: heartbeats)).encoded(), to: member.id)
    }
  }

  func send(_ bytes: [UInt8], to id: [UInt8]) throws(ClusterError) {
    do {
      try socket.send([id, bytes])
      bytesSent += bytes.count
    } catch {
      throw .transport(error)
    }
  }
}
