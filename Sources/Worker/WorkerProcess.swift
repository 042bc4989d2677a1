import ContextCache
public import Core
import RedisClient
import Transport

#if canImport(Glibc)
  import Glibc
#endif

/// A worker process: joins the router, announces itself, loads the shard it is assigned and
/// serves forward steps until told to shut down.
///
/// The router may go away and come back (restarted, at the same address): without a word
/// from it for `routerTimeout` seconds, or when it answers a heartbeat with no plan, the
/// worker says hello again and waits for a new assignment. Garbage on either socket is
/// logged and dropped.
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
  private var runner: ShardRunner?
  /// The context-fragment cache for the current shard (its parts only).
  private var fragments: FragmentCache?
  private let redis: RedisClient?
  private var lastFromRouter = SystemClock.now()
  private var lastHeartbeat = 0.0
  private var lastHello = 0.0
  private var heartbeats: UInt64 = 0

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
    do {
      context = try ZMQContext()
      control = try ZMQSocket(context, .dealer)
      // A stable id across reconnects, unique per process.
      try control.setRoutingID("\(options.name)#\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
      try control.connect(options.router)
      let inbound = try ZMQSocket(context, .router)
      bound = try inbound.bind(options.dataBind)
      data = DataPlane(inbound: inbound, log: log)
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
    log.info("data plane at \(dataAddress); joining \(options.router)")
  }

  /// Serves until the router says shut down.
  public func run() throws(WorkerError) {
    while true {
      let now = SystemClock.now()
      if runner == nil, now - lastHello >= 1 { sendHello() }
      if now - lastHeartbeat >= 1 { sendHeartbeat() }
      if runner != nil, now - lastFromRouter > options.routerTimeout {
        log.warning("no word from the router for \(options.routerTimeout) s; rejoining")
        dropAssignment()
      }
      // With a plan, the next step is due any moment: check for it without sleeping first.
      if runner != nil, let parts = try receiveControl(spinMicroseconds: data.spinMicroseconds) {
        if handle(parts) == .shutdown { return }
        continue
      }
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

  private func receiveControl(spinMicroseconds: Int = 0) throws(WorkerError) -> [[UInt8]]? {
    do {
      return try control.receive(timeoutMilliseconds: 0, spinMicroseconds: spinMicroseconds)
    } catch {
      throw .transport(error)
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
    case .step(let step): runStep(step)
    case .prefixLoad(let load): loadPrefix(load)
    case .prefixKeep(let keep): keepPrefix(keep)
    case .heartbeat(let heartbeat):
      if let runner, heartbeat.planID != runner.planID {
        log.info("the router has no plan with this worker; rejoining")
        dropAssignment()
      }
    case .shutdown:
      fragments?.flush()  // prefix blocks on their way to Redis
      sendHeartbeat()  // the final figures
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
    log.info(
      "assigned \(assignment.slot) of TP=\(assignment.tensorParallel) × "
        + "PP=\(assignment.pipelineParallel) (plan \(assignment.planID)): layers "
        + "\(assignment.shard.layers), KV groups \(assignment.shard.kvGroups), FFN units "
        + "\(assignment.shard.ffnUnits)")
    do {
      let runner = try ShardRunner(
        assignment: assignment, file: file, threads: options.threads, data: data,
        context: context, peerTimeout: options.peerTimeout, log: log)
      self.runner = runner
      fragments = FragmentCache(
        fingerprint: fingerprint, blockSize: runner.engine.cache.blockSize,
        fragments: KVFragments(
          shard: assignment.shard, headDimension: runner.engine.model.config.headDimension),
        local: LocalFragmentTier(capacityBytes: options.prefixCacheBytes),
        store: redis.map { FragmentStore(redis: $0) })
      log.info("shard loaded: \(runner.engine.model.weightByteCount) bytes of weights")
      sendReady(runner)
    } catch {
      log.error("cannot take the assignment: \(error)")
      send(.failure(StepFailure(planID: assignment.planID, stepID: 0, message: "\(error)")))
    }
  }

  private func runStep(_ step: StepCommand) {
    guard let runner, step.planID == runner.planID else {
      log.warning("dropped step \(step.stepID) of plan \(step.planID): not this worker's plan")
      return
    }
    do {
      if let reply = try runner.run(step) { send(.logits(reply)) }
    } catch {
      log.error("step \(step.stepID) failed: \(error)")
      send(.failure(StepFailure(planID: step.planID, stepID: step.stepID, message: "\(error)")))
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

  private func dropAssignment() {
    if let runner { logSummary(runner) }
    fragments?.flush()
    fragments = nil
    runner = nil
    data.close()
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
          dataAddress: dataAddress)))
  }

  private func sendReady(_ runner: ShardRunner) {
    send(
      .ready(
        WorkerReady(
          planID: runner.planID, slot: runner.assignment.slot,
          weightBytes: runner.engine.model.weightByteCount)))
  }

  private func sendHeartbeat() {
    lastHeartbeat = SystemClock.now()
    heartbeats += 1
    send(
      .heartbeat(
        Heartbeat(
          planID: runner?.planID ?? 0, sequence: heartbeats,
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
