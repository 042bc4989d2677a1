import ContextCache
public import Core
import RedisClient
import Transport

#if canImport(Glibc)
  import Glibc
#endif

/// A worker process: joins the router, announces itself, loads the shard it is assigned (or
/// waits as a standby) and serves forward steps until told to shut down.
///
/// Heartbeats go out from a thread of their own (`HeartbeatThread`). Every assignment has a
/// plan id, and the worker acts only on messages of its current plan: a worker that was
/// stopped and wakes up, or whose peer was lost, is fenced by it. A step waiting for a lost
/// peer gives up as soon as the router's next plan (or standby order) arrives.
///
/// The router may go away and come back (restarted, at the same address): without a word
/// from it for `routerTimeout` seconds, or when it asks who this is (a heartbeat with
/// sequence 0), the worker says hello again and waits for a new assignment. Garbage on either
/// socket is logged and dropped.
public final class WorkerProcess {
  let options: WorkerOptions
  let log: Log
  let context: ZMQContext
  let control: ZMQSocket
  let data: DataPlane
  let file: GGUFFile
  /// The address peers dial for this worker's data plane.
  public let dataAddress: String
  let fingerprint: [UInt8]
  private let beats: HeartbeatThread
  /// The data plane's allow-list (nil without Curve).
  private let zap: ZAPHandler?
  /// Why the control socket's handshakes fail, for a clear error.
  private let handshakes: HandshakeMonitor
  /// When each kind of handshake failure was last logged.
  private var loggedFailures: [HandshakeMonitor.Failure: Double] = [:]
  private var runner: ShardRunner?
  /// The standby order this worker follows while it has no slot.
  private var standby: StandbyOrder?
  /// Packed shards: the assigned one, or a warm standby's.
  private var models: [ShardSpec: any LanguageModel] = [:]
  /// The context-fragment cache of `fragmentShard` (its parts only); kept across plans that
  /// leave this worker the same shard.
  private var fragments: FragmentCache?
  private var fragmentShard: ShardSpec?
  /// Whether this plan's link failure was told to the router (once per plan).
  private var linkResetReported = false
  /// The control socket's dropped connections when the plan was assigned: one more since
  /// means a step or its reply may have been lost on the way.
  private var controlDropsAtAssignment = 0
  /// Control messages that arrived while a step waited for a peer, handled next.
  private var deferred: [[[UInt8]]] = []
  private let redis: RedisClient?
  private var lastFromRouter = SystemClock.now()
  private var lastHello = 0.0

  public init(options: WorkerOptions) throws(WorkerError) {
    self.options = options
    log = Log("worker[\(options.name)]")
    do {
      file = try GGUFFile(path: options.modelPath)
    } catch {
      throw .gguf(error)
    }
    fingerprint = ModelFingerprint.of(file)
    redis = options.redis.map { RedisClient(url: $0) }
    let bound: String
    // A stable id across reconnects, unique per process.
    let routingID = "\(options.name)#\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let log = log
    do {
      if options.curve == nil, !options.insecure { try Endpoint.requireLocal(options.dataBind) }
      context = try ZMQContext()
      control = try ZMQSocket(context, .dealer)
      try control.setRoutingID(routingID)
      if let curve = options.curve {
        try control.makeCurveClient(curve.keys, serverKey: curve.routerKey)
      }
      handshakes = try HandshakeMonitor(control)
      try control.connect(options.router)
      let inbound = try ZMQSocket(context, .router)
      if let curve = options.curve {
        // A peer of the same plan may dial before this worker has read its assignment.
        let handler = try ZAPHandler(context: context, hold: [Self.dataPlane: 5]) { _, key, first in
          if first { log.warning("data plane: refused a client with key \(key): not a peer") }
        }
        try inbound.makeCurveServer(curve.keys, domain: Self.dataPlane)
        zap = handler
      } else {
        zap = nil
      }
      bound = try inbound.bind(options.dataBind)
      data = DataPlane(inbound: inbound, keys: options.curve?.keys, log: log)
      if let advertise = options.advertise { try Endpoint.validate(advertise) }
    } catch {
      throw .transport(error)
    }
    if let advertise = options.advertise {
      dataAddress = advertise
    } else if bound.contains("://0.0.0.0:") || bound.contains("://*:") || bound.contains("://[::]:")
    {
      throw .needsAdvertise(bound: bound)
    } else {
      dataAddress = bound
    }
    beats = HeartbeatThread(
      router: options.router, routingID: routingID, curve: options.curve, refusals: zap,
      log: log)
    data.planIsOver = { [unowned self] in planIsOver() }
    log.info(
      "data plane at \(dataAddress); joining \(options.router)"
        + (options.curve == nil ? " (plaintext)" : " (Curve)"))
  }

  /// The ZAP domain of the worker↔worker data plane.
  public static let dataPlane = "data"

  deinit {
    beats.stop()
    zap?.stop()
  }

  /// Serves until the router says shut down.
  public func run() throws(WorkerError) {
    defer { beats.stop() }
    while true {
      let now = SystemClock.now()
      if runner == nil, standby == nil {
        reportHandshakeFailures(now: now)
        if now - lastHello >= 1 { sendHello() }
      }
      if runner != nil || standby != nil, now - lastFromRouter > options.routerTimeout {
        log.warning("no word from the router for \(options.routerTimeout) s; rejoining")
        rejoin()
      }
      while !deferred.isEmpty {
        if handle(deferred.removeFirst()) == .shutdown { return }
      }
      // With a plan, the next step is due any moment: check for it without sleeping first.
      if runner != nil, let parts = try receiveControl(spinMicroseconds: data.spinMicroseconds) {
        if handle(parts) == .shutdown { return }
        continue
      }
      // A warm standby packs its shards one at a time, answering the router in between.
      if runner == nil, prepareNextStandbyShard() { continue }
      reportLinkReset()
      let ready: [Bool]
      do {
        ready = try Poller.wait([control, data.inbound], timeoutMilliseconds: 200)
      } catch {
        throw .transport(error)
      }
      if ready[0] {
        while let parts = try receiveControl() {
          if handle(parts) == .shutdown { return }
        }
      }
      if ready[1] { data.drainInbound(planID: runner?.planID ?? 0) }
    }
  }

  private enum Outcome { case carryOn, shutdown }

  /// A connection to a peer was reset between steps: what the last step sent on it may be
  /// lost, and the peer waiting for it would wait in vain. The router makes the plan again.
  private func reportLinkReset() {
    guard let runner, !linkResetReported else { return }
    _ = handshakes.failures()  // in a plan the handshake works; this counts dropped links
    guard data.linkWasReset() || handshakes.dropped > controlDropsAtAssignment else { return }
    linkResetReported = true
    log.warning("a connection of this plan was reset; asking the router for a new plan")
    send(
      .failure(
        StepFailure(
          planID: runner.planID, stepID: runner.lastStepID,
          message: "a connection (to a peer or the router) was reset", linkLost: true)))
  }

  /// Says why the router cannot be reached (its key refused, a wrong router key), each
  /// reason at most every 30 s; the worker keeps trying.
  private func reportHandshakeFailures(now: Double) {
    for failure in handshakes.failures() where now - (loggedFailures[failure] ?? -60) >= 30 {
      loggedFailures[failure] = now
      log.error("cannot join the router at \(options.router): \(failure)")
    }
  }

  private func receiveControl(spinMicroseconds: Int = 0) throws(WorkerError) -> [[UInt8]]? {
    do {
      return try control.receive(timeoutMilliseconds: 0, spinMicroseconds: spinMicroseconds)
    } catch {
      throw .transport(error)
    }
  }

  /// While a step waits for a peer: takes in what the router sent (kept for after the step)
  /// and says whether the router has moved past this worker's plan.
  private func planIsOver() -> Bool {
    while let parts = try? control.receive(timeoutMilliseconds: 0) {
      deferred.append(parts)
      lastFromRouter = SystemClock.now()
    }
    if SystemClock.now() - lastFromRouter > options.routerTimeout { return true }
    let planID = runner?.planID ?? 0
    return deferred.contains { parts in
      guard parts.count == 1, let message = try? WireMessage(decoding: parts[0]) else {
        return false
      }
      switch message {
      case .assign, .standby, .shutdown: return true
      case .heartbeat(let beat): return beat.sequence == 0 || beat.planID != planID
      default: return false
      }
    }
  }

  private func handle(_ parts: [[UInt8]]) -> Outcome {
    guard parts.count == 1 else {
      log.warning("dropped a control message of \(parts.count) parts")
      return .carryOn
    }
    let message: WireMessage
    do {
      message = try WireMessage(decoding: parts[0])
    } catch {
      log.warning("dropped a control message: \(error)")
      return .carryOn
    }
    lastFromRouter = SystemClock.now()
    switch message {
    case .assign(let assignment): assign(assignment)
    case .standby(let order): wait(asStandby: order)
    case .step(let step): runStep(step)
    case .prefixLoad(let load): loadPrefix(load)
    case .prefixKeep(let keep): keepPrefix(keep)
    case .heartbeat(let heartbeat):
      if heartbeat.sequence == 0 {
        if runner != nil || standby != nil {
          log.info("the router does not know this worker (it restarted, or fenced it); rejoining")
          rejoin()
        }
      } else if let runner, heartbeat.planID != runner.planID {
        log.info("the router has no plan with this worker; rejoining")
        rejoin()
      }
    case .shutdown:
      fragments?.flush()  // prefix blocks on their way to Redis
      sendFinalHeartbeat()
      if let runner { logSummary(runner) }
      log.info("shutting down")
      return .shutdown
    default:
      log.warning("dropped an unexpected control message")
    }
    return .carryOn
  }

  private func assign(_ assignment: Assignment) {
    if let runner, runner.planID == assignment.planID {
      sendReady(runner)  // a repeated assignment: answer again
      return
    }
    dropAssignment()
    standby = nil
    log.info(
      "assigned \(assignment.slot) of TP=\(assignment.tensorParallel) × "
        + "PP=\(assignment.pipelineParallel) (plan \(assignment.planID)): layers "
        + "\(assignment.shard.layers), KV groups \(assignment.shard.kvGroups), FFN units "
        + "\(assignment.shard.ffnUnits)")
    do {
      let kept = models[assignment.shard]
      let model: any LanguageModel
      if let kept {
        model = kept
      } else {
        do {
          model = try ModelLoader.load(file, shard: assignment.shard)
        } catch {
          throw WorkerError.model(error)
        }
      }
      models = [assignment.shard: model]  // the others' memory goes back
      linkResetReported = false
      _ = handshakes.failures()
      controlDropsAtAssignment = handshakes.dropped
      zap?.allow(assignment.dataClientKeys, domain: Self.dataPlane)
      let runner = try ShardRunner(
        assignment: assignment, model: model, threads: options.threads, data: data,
        context: context, peerTimeout: options.peerTimeout, log: log)
      self.runner = runner
      if fragmentShard != assignment.shard {
        fragments = FragmentCache(
          fingerprint: fingerprint, blockSize: runner.engine.cache.blockSize,
          fragments: KVFragments(shard: assignment.shard, config: runner.engine.model.config),
          local: LocalFragmentTier(capacityBytes: options.prefixCacheBytes),
          store: redis.map { FragmentStore(redis: $0) })
        fragmentShard = assignment.shard
      }
      beats.update {
        $0.planID = assignment.planID
        $0.dataBytesSent = 0
        $0.preparedShards = 0
        $0.interval = assignment.workerTimeout / 4
      }
      log.info(
        "shard \(kept == nil ? "loaded" : "kept"): \(model.weightByteCount) bytes of weights")
      sendReady(runner)
    } catch {
      log.error("cannot take the assignment: \(error)")
      send(.failure(StepFailure(planID: assignment.planID, stepID: 0, message: "\(error)")))
    }
  }

  /// Leaves any plan and waits for a slot: a warm standby keeps (or packs) every shard of the
  /// order, a cold one nothing.
  private func wait(asStandby order: StandbyOrder) {
    if runner != nil { log.info("now a standby of plan \(order.planID)") }
    dropAssignment()
    if standby?.planID != order.planID || standby?.warm != order.warm {
      log.info(
        "standby of plan \(order.planID) (\(order.warm ? "warm: packing \(order.shards.count) shards" : "cold"))"
      )
    }
    standby = order
    let wanted = Set(order.warm ? order.shards : [])
    models = models.filter { wanted.contains($0.key) }
    beats.update {
      $0.planID = 0
      $0.interval = order.workerTimeout / 4
      $0.preparedShards = preparedCount(order)
    }
  }

  /// Shards of the order packed so far, counted from the first.
  private func preparedCount(_ order: StandbyOrder) -> Int {
    guard order.warm else { return 0 }
    return order.shards.prefix { models[$0] != nil }.count
  }

  /// Packs the next shard a warm standby lacks; false when there is none.
  private func prepareNextStandbyShard() -> Bool {
    guard let order = standby, order.warm,
      let shard = order.shards.first(where: { models[$0] == nil })
    else { return false }
    do {
      models[shard] = try ModelLoader.load(file, shard: shard)
    } catch {
      log.error("cannot pack a standby shard: \(error)")
      standby?.warm = false
      return false
    }
    let prepared = preparedCount(order)
    beats.update { $0.preparedShards = prepared }
    if prepared == order.shards.count { log.info("warm: \(prepared) shards packed") }
    return true
  }

  private func runStep(_ step: StepCommand) {
    guard let runner, step.planID == runner.planID else {
      log.warning("dropped step \(step.stepID) of plan \(step.planID): not this worker's plan")
      return
    }
    do {
      if let reply = try runner.run(step) { send(.logits(reply)) }
      beats.update { $0.dataBytesSent = runner.stats.bytesSent }
    } catch .planOver(let what) {
      log.info("step \(step.stepID) abandoned waiting for \(what): a new plan is here")
    } catch {
      log.error("step \(step.stepID) failed: \(error)")
      send(
        .failure(
          StepFailure(
            planID: step.planID, stepID: step.stepID, message: "\(error)",
            linkLost: error.isLinkFailure)))
      if error.isLinkFailure { linkResetReported = true }
    }
  }

  /// Starts a sequence with the cached blocks the router names, as far as this worker can
  /// (its local tier, then Redis), cutting any it loaded beyond them; says how many it holds.
  private func loadPrefix(_ load: PrefixLoad) {
    guard let runner, load.planID == runner.planID else {
      log.warning("dropped a prefix load of plan \(load.planID): not this worker's plan")
      return
    }
    for sequence in load.releases { runner.engine.release(sequence: sequence) }
    let cache = runner.engine.cache
    let blockSize = cache.blockSize
    if cache.length(of: load.sequence) == 0, !load.ids.isEmpty, let fragments {
      let blocks = fragments.prefix(load.ids)
      do {
        _ = try fragments.fragments.load(blocks, into: cache, sequence: load.sequence)
      } catch {
        log.warning("sequence \(load.sequence): cached blocks not loaded: \(error)")
      }
    }
    if cache.length(of: load.sequence) > load.ids.count * blockSize {
      cache.truncate(load.sequence, to: load.ids.count * blockSize)
    }
    send(
      .prefixLoaded(
        PrefixLoaded(
          planID: load.planID, slot: runner.assignment.slot, sequence: load.sequence,
          blocks: cache.length(of: load.sequence) / blockSize)))
  }

  /// Keeps this worker's parts of a sequence's computed blocks (local tier now, Redis in the
  /// background).
  private func keepPrefix(_ keep: PrefixKeep) {
    guard let runner, keep.planID == runner.planID, let fragments else { return }
    fragments.keep(
      sequence: keep.sequence, firstBlock: keep.firstBlock, ids: keep.ids,
      from: runner.engine.cache)
  }

  /// Leaves the current plan (the shard's weights and fragments stay for the next one).
  private func dropAssignment() {
    if let runner { logSummary(runner) }
    fragments?.flush()
    runner = nil
    data.close()
    beats.update {
      $0.planID = 0
      $0.dataBytesSent = 0
    }
  }

  /// Forgets plan and standby order and says hello at once.
  private func rejoin() {
    dropAssignment()
    standby = nil
    lastHello = 0
  }

  private func logSummary(_ runner: ShardRunner) {
    let stats = runner.stats
    guard stats.steps > 0 else { return }
    let perStep = 1e6 / Double(stats.steps)
    log.info(
      "\(stats.steps) steps, \(stats.rows) tokens: per step \(Int(stats.stepSeconds * perStep)) µs, "
        + "of which waiting for peers \(Int(stats.waitSeconds * perStep)) µs; "
        + "\(stats.bytesSent / max(stats.rows, 1)) bytes sent to peers per token")
  }

  private func sendHello() {
    lastHello = SystemClock.now()
    send(
      .hello(
        WorkerHello(
          name: options.name, threads: options.threads, fingerprint: fingerprint,
          dataAddress: dataAddress, processID: Int(getpid()),
          memoryBytes: ProcessStats.availableMemoryBytes())))
  }

  private func sendReady(_ runner: ShardRunner) {
    send(
      .ready(
        WorkerReady(
          planID: runner.planID, slot: runner.assignment.slot,
          weightBytes: runner.engine.model.weightByteCount)))
  }

  /// The last figures, on the control socket, before exiting.
  private func sendFinalHeartbeat() {
    send(
      .heartbeat(
        Heartbeat(
          planID: runner?.planID ?? 0, sequence: UInt64.max,
          dataBytesSent: UInt64(runner?.stats.bytesSent ?? 0))))
  }

  private func send(_ message: WireMessage) {
    do {
      try control.send([message.encoded()])
    } catch {
      log.warning("could not reach the router: \(error)")
    }
  }
}
