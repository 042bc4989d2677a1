import Core
import Transport

/// The coordinator's socket: taking in what workers send (joins, heartbeats, logits, prefix
/// replies), planning once enough have joined, and heartbeats out.
extension Coordinator {
  // MARK: The socket

  /// Handles what arrives within `timeoutMilliseconds`, sends heartbeats, notices lost
  /// workers, and plans once enough have joined. Returns whether a message arrived.
  @discardableResult
  func pump(timeoutMilliseconds: Int, spinMicroseconds: Int = 0) throws(ClusterError) -> Bool {
    let now = clock.now()
    if now - lastPumped > workerTimeout / 2 {
      // Away for a while (a command between steps): what the workers sent meanwhile counts
      // before anyone is judged silent.
      for _ in 0..<4096 {
        let queued: [[UInt8]]?
        do {
          queued = try socket.receive(timeoutMilliseconds: 0)
        } catch {
          throw .transport(error)
        }
        guard let queued else { break }
        take(queued)
      }
    }
    lastPumped = clock.now()
    if !shuttingDown {
      if now - lastHeartbeat >= workerTimeout / 4 { sendHeartbeats() }
      let lost = membership.expire(now: clock.now())
      if !lost.isEmpty {
        lose(lost, reason: "silent", detail: "no heartbeat for \(workerTimeout) s")
      }
      if planID != 0, !isReady, now - assignedAt > assignDeadline { dropUnready() }
      if planID == 0 { planIfPossible() }
    }
    let message: [[UInt8]]?
    do {
      message = try socket.receive(
        timeoutMilliseconds: timeoutMilliseconds, spinMicroseconds: spinMicroseconds)
    } catch {
      throw .transport(error)
    }
    guard let parts = message else { return false }
    take(parts)
    return true
  }

  /// Decodes one message from the socket and handles it (garbage is counted and dropped).
  func take(_ parts: [[UInt8]]) {
    guard parts.count == 2 else {
      droppedMessages += 1
      log.warning("dropped a message of \(parts.count) parts")
      return
    }
    bytesReceived += parts[1].count
    let decoded: WireMessage
    do {
      decoded = try WireMessage(decoding: parts[1])
    } catch {
      droppedMessages += 1
      log.warning("dropped a message from \(String(decoding: parts[0], as: UTF8.self)): \(error)")
      return
    }
    let suffix = Array(Self.beatSuffix.utf8)
    if parts[0].count > suffix.count, Array(parts[0].suffix(suffix.count)) == suffix {
      handleBeat(decoded, from: Array(parts[0].dropLast(suffix.count)), now: clock.now())
    } else {
      handle(decoded, from: parts[0], now: clock.now())
    }
  }

  /// The routing-id suffix of a worker's heartbeat socket (see the worker's `HeartbeatThread`).
  static var beatSuffix: String { "~beat" }

  /// A heartbeat from a worker's heartbeat socket: a sign of life of the worker `id`.
  func handleBeat(_ message: WireMessage, from id: [UInt8], now: Double) {
    guard case .heartbeat(let beat) = message else {
      droppedMessages += 1
      return
    }
    guard membership.seen(id: id, now: now) else {
      // A worker this router does not know (it restarted, or the worker was fenced): ask it
      // to say hello on its control socket.
      try? send(Self.whoAreYou, to: id)
      return
    }
    report(beat, from: id)
  }

  static let whoAreYou = WireMessage.heartbeat(Heartbeat(planID: 0, sequence: 0)).encoded()

  func report(_ beat: Heartbeat, from id: [UInt8]) {
    guard let member = membership.member(id: id) else { return }
    if Int(beat.refusedClients) > member.refusedClients {
      dataPlaneRefusals += Int(beat.refusedClients) - member.refusedClients
      membership.refused(id: id, Int(beat.refusedClients))
    }
    if member.slot == nil || beat.planID == planID {
      membership.report(
        id: id, dataBytesSent: Int(clamping: beat.dataBytesSent),
        preparedShards: Int(beat.preparedShards))
    }
  }

  func handle(_ message: WireMessage, from id: [UInt8], now: Double) {
    if case .hello(let hello) = message {
      switch membership.hello(id: id, hello, publicKey: socket.lastSenderKey ?? "", now: now) {
      case .joined:
        // The next `maintain` grows back onto it, or makes it a standby.
        log.info("worker \(hello.name) joined (\(hello.dataAddress))")
      case .rejoined:
        if membership.member(id: id)?.slot != nil, planID != 0 {
          log.info("worker \(hello.name) joined again")
          lose([], reason: "rejoined", detail: "worker \(hello.name) lost its plan")
        }
      case .wrongModel:
        log.warning("worker \(hello.name) has a different model file; not using it")
      }
      return
    }
    guard membership.seen(id: id, now: now), let member = membership.member(id: id) else {
      droppedMessages += 1
      try? send(Self.whoAreYou, to: id)
      return
    }
    switch message {
    case .ready(let ready):
      guard ready.planID == planID,
        membership.ready(id: id, slot: ready.slot, weightBytes: ready.weightBytes)
      else { return }
      log.debug("worker \(member.hello.name) ready at \(ready.slot): \(ready.weightBytes) bytes")
      if isReady { planReady() }
    case .logits(let reply):
      guard reply.planID == planID, var step = pending[reply.stepID],
        reply.rows == step.fullRows, reply.best.count == step.rows - step.fullRows,
        reply.slot == member.slot,
        !step.slices.contains(where: { $0.slot == reply.slot })
      else {
        droppedMessages += 1
        log.debug("dropped logits from \(member.hello.name) that match no waiting step")
        return
      }
      step.slices.append(reply)
      pending[reply.stepID] = step
    case .failure(let failure):
      guard failure.planID == planID else { return }
      let error = ClusterError.stepFailed(worker: member.hello.name, message: failure.message)
      if failure.linkLost {
        // The links between workers failed, not the worker: the same workers get a new plan
        // (fresh connections) and the steps in flight are computed again.
        lose([], reason: "link", detail: "\(member.hello.name): \(failure.message)")
      } else if failure.stepID == 0 {
        // It could not take its slot (out of memory, say): re-plan without it.
        log.error("\(error)")
        membership.remove(id: id)
        lose([member], reason: "failed", detail: failure.message)
      } else if pending[failure.stepID] != nil {
        pending[failure.stepID]?.failure = error
      }
    case .prefixLoaded(let loaded):
      guard loaded.planID == planID, loaded.slot == member.slot,
        prefixReplies?.sequence == loaded.sequence
      else {
        droppedMessages += 1
        log.debug("dropped a prefix reply from \(member.hello.name) that matches no load")
        return
      }
      prefixReplies?.blocks[loaded.slot] = loaded.blocks
    case .heartbeat(let heartbeat): report(heartbeat, from: id)
    default:
      droppedMessages += 1
      log.warning("dropped an unexpected message from \(member.hello.name)")
    }
  }

  func sendHeartbeats() {
    lastHeartbeat = clock.now()
    heartbeats += 1
    // Each member as it is now: a send that finds a worker gone re-plans on the spot, and a
    // standby just given a slot must get the new plan's id, not the 0 of a standby.
    for id in membership.members.map(\.id) {
      guard let member = membership.member(id: id) else { continue }
      let plan = member.slot != nil ? planID : 0
      try? send(
        WireMessage.heartbeat(Heartbeat(planID: plan, sequence: heartbeats)).encoded(), to: id)
    }
  }

  /// Sends to a worker; a worker whose socket is gone is lost at once (no need to wait for
  /// its heartbeats to stop).
  func send(_ bytes: [UInt8], to id: [UInt8]) throws(ClusterError) {
    do {
      try socket.send([id, bytes])
      bytesSent += bytes.count
    } catch {
      if case .unroutable = error, !shuttingDown, let member = membership.remove(id: id) {
        lose([member], reason: "disconnected", detail: "its connection closed")
        throw .workerLost(member.hello.name)
      }
      throw .transport(error)
    }
  }
}
