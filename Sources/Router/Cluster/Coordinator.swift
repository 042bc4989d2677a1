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
  public internal(set) var membership: Membership
  public internal(set) var planID: UInt64 = 0
  public let kvTokens: Int
  public let maxBatch: Int
  /// Messages dropped as garbage, malformed or unexpected (each is logged).
  public internal(set) var droppedMessages = 0
  /// Tokens the plan's steps have carried, for per-token figures.
  public internal(set) var tokensStepped = 0
  /// Bytes of control traffic, for reports.
  public internal(set) var bytesSent = 0
  public internal(set) var bytesReceived = 0
  let log = Log("router")
  /// What heartbeats and deadlines are measured against.
  let clock: any TimeSource
  let context: ZMQContext
  let socket: ZMQSocket
  var nextStepID: UInt64 = 1
  var pending: [UInt64: PendingStep] = [:]
  /// Replies to the prefix load in progress, by worker slot.
  var prefixReplies: (sequence: Int, blocks: [Slot: Int])?
  var lastHeartbeat = 0.0
  var heartbeats: UInt64 = 0
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

  func prefixRound(
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

  func assemble(_ step: PendingStep, into out: inout [Float]) {
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
}
