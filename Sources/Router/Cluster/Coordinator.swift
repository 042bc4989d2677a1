public import Core
public import Transport

/// The router's side of the cluster: listens for workers on one ROUTER socket, plans when
/// enough have joined, hands out assignments, exchanges heartbeats, and runs steps — every
/// step goes to every worker of the plan, and the last stage's ranks answer with their
/// vocabulary slices of the logits. Several steps may be in flight (pipelining: stage 0 works
/// on step k+1 while stage 1 finishes step k).
///
/// Workers may die, hang or be cut off: a worker silent for `workerTimeout` (or whose socket
/// is gone) is lost, the steps in flight fail as `workerLost`, and the `Planner` places the
/// model again on who is left — a standby takes the lost slot, or the layout shrinks — under
/// a new plan id, which fences whatever the old plan's workers still send. When workers come
/// back, `maintain()` grows the cluster back to the configured layout between steps.
///
/// Driven by one thread: every call pumps the socket while it waits.
public final class Coordinator {
  /// Warm standbys keep every shard of the plan packed; cold ones pack theirs when assigned.
  public enum StandbyMode: String, Sendable, CaseIterable {
    case cold, warm
  }

  /// CurveZMQ on the workers' socket: the router's key pair, and the workers' public keys
  /// that may join (checked by the ZAP handler of the coordinator's context).
  public struct Security: Sendable {
    public var keys: CurveKeyPair
    public var authorizedKeys: [String]

    public init(keys: CurveKeyPair, authorizedKeys: [String]) {
      self.keys = keys
      self.authorizedKeys = authorizedKeys
    }
  }

  /// The ZAP domain of the router↔worker control plane (`tessera_curve_refused_total{plane}`).
  public static let controlPlane = "control"

  /// A re-plan, for `/v1/cluster`.
  public struct Replan: Sendable, Equatable {
    /// Seconds (the coordinator's clock) when the plan was lost.
    public var at: Double
    public var reason: String
    public var from: String
    public var to: String
    /// Seconds from the loss until the new plan was ready.
    public var seconds: Double
  }

  /// A lost plan, from detection until the next plan is ready.
  struct Incident {
    var started: Double
    var reason: String
    var from: String
  }

  public let config: ModelConfig
  /// Which layouts may run and who takes which slot.
  public let planner: Planner
  /// The plan running, or the last one (the configured layout until the first is made).
  public internal(set) var plan: PartitionPlan
  /// The address workers join, with a `*` port resolved.
  public let endpoint: String
  public internal(set) var membership: Membership
  public internal(set) var planID: UInt64 = 0
  public let kvTokens: Int
  public let maxBatch: Int
  /// Seconds of silence after which a worker is lost (`--worker-timeout`).
  public let workerTimeout: Double
  public let standbyMode: StandbyMode
  /// Seconds a step may take before the plan is counted as hung and made again.
  public let stepDeadline: Double
  /// Seconds workers of a new plan have to load their shards before those that did not are
  /// dropped from it.
  public let assignDeadline: Double
  /// Why there is no plan running (nil while one runs), for `/ready`.
  public internal(set) var waitingReason: String? = "no workers yet"
  /// Workers lost, by reason (silent, disconnected, rejoined, failed, hung).
  public internal(set) var failures: [String: Int] = [:]
  public internal(set) var replanCount = 0
  /// The last re-plans, newest last.
  public internal(set) var replans: [Replan] = []
  /// Whether a plan smaller than the configured one may run (after the first full one).
  var degradedAllowed = false
  var incident: Incident?
  var assignedAt = 0.0
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
  /// The allow-list of worker keys (nil without Curve).
  let zap: ZAPHandler?
  /// The router's public key, told to workers out of band (nil without Curve).
  public let publicKey: String?
  /// Spares `/ready` wants besides the plan (`--standby`); fewer is degraded, not down.
  public let wantedStandbys: Int
  /// Clients the workers' data planes refused for their key, as their heartbeats report it.
  public internal(set) var dataPlaneRefusals = 0
  var nextStepID: UInt64 = 1
  var pending: [UInt64: PendingStep] = [:]
  /// Replies to the prefix load in progress, by worker slot.
  var prefixReplies: (sequence: Int, blocks: [Slot: Int])?
  var lastHeartbeat = 0.0
  /// When the socket was last pumped (a longer gap drains it before judging silence).
  var lastPumped = 0.0
  /// Set by `shutdownWorkers()`.
  var shuttingDown = false
  var heartbeats: UInt64 = 0
  /// How long waiting for a step's logits checks without sleeping (TESSERA_SPIN_US).
  let spinMicroseconds = Int(Environment.value("TESSERA_SPIN_US") ?? "") ?? 200

  /// - Parameters:
  ///   - cost: what a shard needs in memory, for the planner (default: nothing is checked).
  ///   - security: Curve keys; without them a bind other hosts can reach is refused unless
  ///     `insecure`.
  ///   - wantedStandbys: spares beyond the plan for `/ready` to count as healthy.
  public init(
    bind: String, config: ModelConfig, fingerprint: [UInt8], tensorParallel: Int,
    pipelineParallel: Int, kvTokens: Int, maxBatch: Int = 256, workerTimeout: Double = 1,
    standbyMode: StandbyMode = .warm, stepDeadline: Double = 120, assignDeadline: Double = 120,
    cost: ShardCost? = nil, security: Security? = nil, insecure: Bool = false,
    wantedStandbys: Int = 0, clock: any TimeSource = SystemClock()
  ) throws(ClusterError) {
    self.clock = clock
    do {
      plan = try PartitionPlan(
        config: config, tensorParallel: tensorParallel, pipelineParallel: pipelineParallel)
    } catch {
      throw .plan(error)
    }
    planner = Planner(
      config: config, tensorParallel: tensorParallel, pipelineParallel: pipelineParallel,
      cost: cost
        ?? ShardCost(
          config: config, layerBytes: 0, embeddingBytes: 0, outputRowBytes: 0, kvTokens: 0))
    self.workerTimeout = workerTimeout
    self.standbyMode = standbyMode
    self.stepDeadline = stepDeadline
    self.assignDeadline = assignDeadline
    self.wantedStandbys = wantedStandbys
    publicKey = security?.keys.publicKey
    do {
      if security == nil, !insecure { try Endpoint.requireLocal(bind) }
      context = try ZMQContext()
      socket = try ZMQSocket(context, .router)
      if let security {
        let log = log
        let handler = try ZAPHandler(context: context) { _, key, first in
          if first { log.warning("refused a worker with key \(key): not an authorized key") }
        }
        handler.allow(security.authorizedKeys, domain: Self.controlPlane)
        zap = handler
        try socket.makeCurveServer(security.keys, domain: Self.controlPlane)
      } else {
        zap = nil
      }
      endpoint = try socket.bind(bind)
    } catch {
      throw .transport(error)
    }
    self.config = config
    self.kvTokens = kvTokens
    self.maxBatch = maxBatch
    membership = Membership(fingerprint: fingerprint, heartbeatTimeout: workerTimeout)
    log.info(
      "waiting for \(plan.workerCount) workers at \(endpoint)"
        + (security == nil
          ? " (plaintext)" : " (Curve, \(security?.authorizedKeys.count ?? 0) keys)"))
    waitingReason = "waiting for 0 of \(plan.workerCount) workers"
  }

  deinit { zap?.stop() }

  /// Workers refused for their Curve key, by plane: the router's own socket (`control`) and
  /// the workers' data planes (`data`), as their heartbeats report it.
  public var curveRefusals: [String: Int] {
    ["control": zap?.refused[Self.controlPlane] ?? 0, "data": dataPlaneRefusals]
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
            have: membership.members.count, need: planner.configuredWorkers, waited: timeout)
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
    pending[stepID] = PendingStep(
      rows: entries.reduce(0) { $0 + $1.logitRows.count },
      argmaxOnly: entries.flatMap { entry in entry.logitRows.map { _ in entry.argmaxOnly } })
    tokensStepped += entries.reduce(0) { $0 + $1.tokens.count }
    do {
      for member in membership.assigned { try send(bytes, to: member.id) }
    } catch {
      pending[stepID] = nil  // never collected
      throw error
    }
    return stepID
  }

  /// Waits for a step's logits: `[rows, vocabularySize]`, rows in the order the step asked.
  /// A step past `timeout` (default: the step deadline) counts the plan as hung: it is made
  /// again and the step fails as a lost worker.
  public func collect(_ stepID: UInt64, into out: inout [Float], timeout: Double? = nil)
    throws(ClusterError)
  {
    let timeout = timeout ?? stepDeadline
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
      guard clock.now() - start < timeout else {
        pending[stepID] = nil
        lose([], reason: "hung", detail: "no logits for step \(stepID) within \(timeout) s")
        throw .planLost("step \(stepID) passed its deadline of \(timeout) s")
      }
      try pump(timeoutMilliseconds: 200, spinMicroseconds: spinMicroseconds)
    }
  }

  /// Bytes on the wire per token so far: worker to worker (as the workers report them) and
  /// router to and from workers.
  public var wireBytesPerToken: (dataPlane: Double, control: Double) {
    let tokens = Double(max(tokensStepped, 1))
    let data = membership.assigned.reduce(0) { $0 + $1.dataBytesSent }
    return (Double(data) / tokens, Double(bytesSent + bytesReceived) / tokens)
  }

  /// Tells every worker to exit. From then on nobody is counted lost or re-planned: the
  /// members stay as they were, for the final reports.
  public func shutdownWorkers() {
    shuttingDown = true
    let bytes = WireMessage.shutdown.encoded()
    for member in membership.members { try? send(bytes, to: member.id) }
  }
}
