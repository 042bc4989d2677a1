import Core
import Transport

/// A worker's side of the worker↔worker traffic: the socket its peers send to, sockets to
/// the other ranks of its stage and to the next stage, and the messages that arrived before
/// the step that needs them (a faster peer can be one exchange ahead).
final class DataPlane {
  let inbound: ZMQSocket
  private var stagePeers: [ZMQSocket] = []
  private var nextStage: ZMQSocket?
  /// Watch the sockets to the peers: a connection reset loses what was on it.
  private var monitors: [HandshakeMonitor] = []
  private var early: [WireMessage] = []
  private let log: Log
  /// This worker's Curve keys: each peer is dialled as a Curve server with the public key
  /// its assignment gives (nil: plaintext).
  private let keys: CurveKeyPair?
  /// Most messages kept for later; a peer cannot be more than a step ahead, so this is only
  /// reached by a misbehaving sender.
  private let earlyLimit = 1024
  /// How long a wait for a peer checks without sleeping (TESSERA_SPIN_US, default 200).
  let spinMicroseconds = Int(Environment.value("TESSERA_SPIN_US") ?? "") ?? 200
  /// Asked every few milliseconds while a step waits for a peer: true when the router has
  /// moved on (a new plan: the peer was lost), so the wait gives up at once rather than at
  /// its deadline.
  var planIsOver: () -> Bool = { false }
  /// How often a wait asks `planIsOver`.
  static let abandonCheckMilliseconds = 20

  init(inbound: ZMQSocket, keys: CurveKeyPair?, log: Log) {
    self.inbound = inbound
    self.keys = keys
    self.log = log
  }

  /// Connects to the other ranks of the stage and the next stage.
  func connect(context: ZMQContext, assignment: Assignment) throws(TransportError) {
    close()
    for (rank, address) in assignment.stagePeers.enumerated() where rank != assignment.slot.rank {
      let key = rank < assignment.stagePeerKeys.count ? assignment.stagePeerKeys[rank] : ""
      stagePeers.append(try dial(address, key: key, context: context))
    }
    if let address = assignment.nextStage {
      nextStage = try dial(address, key: assignment.nextStageKey, context: context)
    }
  }

  private func dial(_ address: String, key: String, context: ZMQContext) throws(TransportError)
    -> ZMQSocket
  {
    let socket = try ZMQSocket(context, .dealer)
    if let keys {
      guard !key.isEmpty else { throw .badKey("the assignment names no key for \(address)") }
      try socket.makeCurveClient(keys, serverKey: key)
    }
    monitors.append(try HandshakeMonitor(socket))
    try socket.connect(address)
    return socket
  }

  /// Whether a connection to a peer was reset since the plan's links were made (the peer
  /// that waits for what was on it would wait in vain).
  func linkWasReset() -> Bool {
    for monitor in monitors { _ = monitor.failures() }
    return monitors.contains { $0.dropped > 0 }
  }

  func close() {
    monitors = []
    for socket in stagePeers { socket.close() }
    stagePeers = []
    nextStage?.close()
    nextStage = nil
    early = []
  }

  /// Sends to every other rank of the stage; returns the bytes sent.
  @discardableResult
  func sendToStagePeers(_ message: WireMessage) throws(TransportError) -> Int {
    let bytes = message.encoded()
    for peer in stagePeers { try peer.send([bytes]) }
    return bytes.count * stagePeers.count
  }

  /// Sends to the next stage (if any); returns the bytes sent.
  @discardableResult
  func sendToNextStage(_ message: WireMessage) throws(TransportError) -> Int {
    guard let nextStage else { return 0 }
    let bytes = message.encoded()
    try nextStage.send([bytes])
    return bytes.count
  }

  /// Keeps what is queued on the inbound socket for a later step (called between steps).
  func drainInbound(planID: UInt64) {
    while let message = try? receiveOne(timeoutMilliseconds: 0) {
      keep(message, planID: planID)
    }
  }

  /// The first message `match` accepts, from those that came early or from the socket,
  /// waiting at most `timeout` seconds, or until the plan is over. Others of the current plan
  /// are kept for later.
  func await<T>(
    _ what: String, planID: UInt64, timeout: Double, _ match: (WireMessage) -> T?
  ) throws(WorkerError) -> T {
    if let index = early.firstIndex(where: { match($0) != nil }) {
      let message = early.remove(at: index)
      if let value = match(message) { return value }
    }
    let deadline = SystemClock.now() + timeout
    while true {
      let left = deadline - SystemClock.now()
      guard left > 0 else { throw .peerTimeout(what) }
      let message: WireMessage?
      do {
        message = try receiveOne(
          timeoutMilliseconds: min(Int(left * 1000) + 1, Self.abandonCheckMilliseconds))
      } catch {
        throw .transport(error)
      }
      guard let message else {
        if planIsOver() { throw .planOver(what) }
        if linkWasReset() { throw .peerLinkReset(what) }
        continue
      }
      if let value = match(message) { return value }
      keep(message, planID: planID)
    }
  }

  /// Forgets early messages of steps up to `stepID` (duplicates, or a failed step's).
  func forget(throughStep stepID: UInt64) {
    early.removeAll { message in
      switch message {
      case .hidden(let hidden): hidden.stepID <= stepID
      case .partials(let partials): partials.stepID <= stepID
      default: true
      }
    }
  }

  private func keep(_ message: WireMessage, planID: UInt64) {
    let belongs: Bool
    switch message {
    case .hidden(let hidden): belongs = hidden.planID == planID
    case .partials(let partials): belongs = partials.planID == planID
    default: belongs = false
    }
    guard belongs else {
      log.warning("dropped a data-plane message that belongs to no current step")
      return
    }
    guard early.count < earlyLimit else {
      log.warning("dropped a data-plane message: \(earlyLimit) already waiting")
      return
    }
    early.append(message)
  }

  /// One decoded message from the inbound socket; garbage is logged and skipped.
  private func receiveOne(timeoutMilliseconds: Int) throws(TransportError) -> WireMessage? {
    let deadline = SystemClock.now() + Double(timeoutMilliseconds) / 1000
    while true {
      let left = max(0, Int((deadline - SystemClock.now()) * 1000))
      guard
        let parts = try inbound.receive(
          timeoutMilliseconds: left, spinMicroseconds: left > 0 ? spinMicroseconds : 0)
      else { return nil }
      guard parts.count == 2 else {
        log.warning("dropped a data-plane message of \(parts.count) parts")
        continue
      }
      do {
        return try WireMessage(decoding: parts[1])
      } catch {
        log.warning("dropped a data-plane message: \(error)")
      }
    }
  }
}
