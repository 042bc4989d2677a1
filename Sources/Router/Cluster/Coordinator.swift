public import Core
import Transport

/// The router's side of the cluster: listens for workers on one ROUTER socket, plans when
/// enough have joined, hands out assignments, exchanges heartbeats, and runs steps — every
/// step goes to every worker of the plan, and the last stage's ranks answer with their
/// vocabulary slices of the logits. Several steps may be in flight (pipelining: stage 0 works
/// on step k+1 while stage 1 finishes step k).
///
/// Driven by one thread: every call pumps the socket while it waits.
public final class Coordinator {
  public let config: ModelConfig
  public let plan: PartitionPlan
  /// The address workers join, with a `*` port resolved.
  public let endpoint: String
  public private(set) var membership: Membership
  public private(set) var planID: UInt64 = 0
  public let kvTokens: Int
  public let maxBatch: Int
  /// Messages dropped as garbage, malformed or unexpected (each is logged).
  public private(set) var droppedMessages = 0
  /// Tokens the plan's steps have carried, for per-token figures.
  public private(set) var tokensStepped = 0
  /// Bytes of control traffic, for reports.
  public private(set) var bytesSent = 0
  public private(set) var bytesReceived = 0
  let log = Log("router")
  /// What heartbeats and deadlines are measured against.
  let clock: any TimeSource
  let context: ZMQContext
  let socket: ZMQSocket
  private var nextStepID: UInt64 = 1
  private var pending: [UInt64: PendingStep] = [:]
  /// Replies to the prefix load in progress, by worker slot.
  private var prefixReplies: (sequence: Int, blocks: [Slot: Int])?
  private var lastHeartbeat = 0.0
  private var heartbeats: UInt64 = 0
  /// How long waiting for a step's logits checks without sleeping (TESSERA_SPIN_US).
  let spinMicroseconds = Int(Environment.value("TESSERA_SPIN_US") ?? "") ?? 200

  struct PendingStep {
    var rows: Int
    var slices: [LogitsReply] = []
    var failure: ClusterError?
  }

  public init(
    bind: String, config: ModelConfig, fingerprint: [UInt8], tensorParallel: Int,
    pipelineParallel: Int, kvTokens: Int, maxBatch: Int = 256, heartbeatTimeout: Double = 5,
    clock: any TimeSource = SystemClock()
  ) throws(ClusterError) {
    self.clock = clock
    do {
      plan = try PartitionPlan(
        config: config, tensorParallel: tensorParallel, pipelineParallel: pipelineParallel)
    } catch {
      throw .plan(error)
    }
    do {
      context = try ZMQContext()
      socket = try ZMQSocket(context, .router)
      endpoint = try socket.bind(bind)
    } catch {
      throw .transport(error)
    }
    self.config = config
    self.kvTokens = kvTokens
    self.maxBatch = maxBatch
    membership = Membership(fingerprint: fingerprint, heartbeatTimeout: heartbeatTimeout)
    log.info("waiting for \(plan.workerCount) workers at \(endpoint)")
  }

  public var isReady: Bool { planID != 0 && membership.allAssignedReady }

  /// Waits until enough workers have joined, assigns the plan and waits for every worker to
  /// load its shard.
  public func waitUntilReady(timeout: Double) throws(ClusterError) {
    let start = clock.now()
    while !isReady {
      let left = timeout - (clock.now() - start)
      guard left > 0 else {
        if planID == 0 {
          throw .notEnoughWorkers(
            have: membership.members.count, need: plan.workerCount, waited: timeout)
        }
        throw .timeout("workers loading their shards")
      }
      try pump(timeoutMilliseconds: Int(min(left, 0.2) * 1000) + 1)
    }
  }

  /// Sends a step to every worker; returns its id for `collect`.
  public func submit(_ entries: [StepCommand.Entry], releases: [Int] = []) throws(ClusterError)
    -> UInt64
  {
    guard isReady else { throw .noPlan }
    let stepID = nextStepID
    nextStepID += 1
    let bytes = WireMessage.step(
      StepCommand(planID: planID, stepID: stepID, releases: releases, entries: entries)
    ).encoded()
    pending[stepID] = PendingStep(rows: entries.reduce(0) { $0 + $1.logitRows.count })
    tokensStepped += entries.reduce(0) { $0 + $1.tokens.count }
    for member in membership.assigned { try send(bytes, to: member.id) }
    return stepID
  }

  /// Waits for a step's logits: `[rows, vocabularySize]`, rows in the order the step asked.
  public func collect(_ stepID: UInt64, into out: inout [Float], timeout: Double = 120)
    throws(ClusterError)
  {
    guard pending[stepID] != nil else { throw .timeout("step \(stepID) was never submitted") }
    let start = clock.now()
    while true {
      if let step = pending[stepID] {
        if let failure = step.failure {
          pending[stepID] = nil
          throw failure
        }
        if step.slices.count == plan.tensorParallel {
          pending[stepID] = nil
          assemble(step, into: &out)
          return
        }
      }
      guard clock.now() - start < timeout else { throw .timeout("logits of step \(stepID)") }
      try pump(timeoutMilliseconds: 200, spinMicroseconds: spinMicroseconds)
    }
  }

  /// Starts `sequence` on every worker with the longest prefix of the cached blocks `ids`
  /// that all of them could load (each fetches its own parts), and returns its length in
  /// blocks. When some worker loaded fewer, the others cut back to that, so every stage and
  /// rank starts computing at the same token.
  /// `releases` are freed on every worker first.
  public func loadPrefix(
    sequence: Int, ids: [FragmentID], releases: [Int] = [], timeout: Double = 30
  ) throws(ClusterError) -> Int {
    var agreed = try prefixRound(
      sequence: sequence, ids: ids, releases: releases, timeout: timeout)
    if agreed.min != agreed.max {
      agreed = try prefixRound(
        sequence: sequence, ids: Array(ids[..<agreed.min]), releases: [], timeout: timeout)
    }
    return agreed.min
  }

  /// Tells every worker to keep `sequence`'s blocks from `firstBlock` on (ids `ids`) in the
  /// fragment cache; false if there was no plan to tell.
  @discardableResult
  public func keepPrefix(sequence: Int, firstBlock: Int, ids: [FragmentID]) throws(ClusterError)
    -> Bool
  {
    guard isReady, !ids.isEmpty else { return false }
    let bytes = WireMessage.prefixKeep(
      PrefixKeep(planID: planID, sequence: sequence, firstBlock: firstBlock, ids: ids)
    ).encoded()
    for member in membership.assigned { try send(bytes, to: member.id) }
    return true
  }

  private func prefixRound(
    sequence: Int, ids: [FragmentID], releases: [Int], timeout: Double
  ) throws(ClusterError) -> (min: Int, max: Int) {
    guard isReady else { throw .noPlan }
    prefixReplies = (sequence, [:])
    defer { prefixReplies = nil }
    let bytes = WireMessage.prefixLoad(
      PrefixLoad(planID: planID, releases: releases, sequence: sequence, ids: ids)
    ).encoded()
    for member in membership.assigned { try send(bytes, to: member.id) }
    let start = clock.now()
    while (prefixReplies?.blocks.count ?? 0) < plan.workerCount {
      guard isReady else { throw .noPlan }
      guard clock.now() - start < timeout else { throw .timeout("prefix load of \(sequence)") }
      try pump(timeoutMilliseconds: 200, spinMicroseconds: spinMicroseconds)
    }
    let counts = prefixReplies?.blocks.values.map { $0 } ?? [0]
    return (counts.min() ?? 0, counts.max() ?? 0)
  }

  /// Bytes on the wire per token so far: worker to worker (as the workers report them) and
  /// router to and from workers.
  public var wireBytesPerToken: (dataPlane: Double, control: Double) {
    let tokens = Double(max(tokensStepped, 1))
    let data = membership.assigned.reduce(0) { $0 + $1.dataBytesSent }
    return (Double(data) / tokens, Double(bytesSent + bytesReceived) / tokens)
  }

  /// Tells every worker to exit.
  public func shutdownWorkers() {
    let bytes = WireMessage.shutdown.encoded()
    for member in membership.members { try? send(bytes, to: member.id) }
  }

  private func assemble(_ step: PendingStep, into out: inout [Float]) {
    let vocabulary = config.vocabularySize
    let count = step.rows * vocabulary
    if out.count != count { out = [Float](repeating: 0, count: count) }
    out.withUnsafeMutableBufferPointer { buffer in
      for slice in step.slices {
        let width = slice.vocabulary.count
        slice.values.withUnsafeBufferPointer { values in
          for row in 0..<step.rows {
            guard let source = values.baseAddress, let destination = buffer.baseAddress else {
              continue
            }
            (destination + row * vocabulary + slice.vocabulary.lowerBound).update(
              from: source + row * width, count: width)
          }
        }
      }
    }
  }

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

  private func handle(_ message: WireMessage, from id: [UInt8], now: Double) {
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

  private func planIfPossible() throws(ClusterError) {
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

  private func failPending(_ error: ClusterError) {
    for id in pending.keys where pending[id]?.failure == nil { pending[id]?.failure = error }
  }

  private func sendHeartbeats() {
    lastHeartbeat = clock.now()
    heartbeats += 1
    for member in membership.members {
      let id = member.slot != nil ? planID : 0
      try? send(
        WireMessage.heartbeat(Heartbeat(planID: id, sequence: heartbeats)).encoded(), to: member.id)
    }
  }

  private func send(_ bytes: [UInt8], to id: [UInt8]) throws(ClusterError) {
    do {
      try socket.send([id, bytes])
      bytesSent += bytes.count
    } catch {
      throw .transport(error)
    }
  }
}
