import CZeroMQ

#if canImport(Glibc)
  import Glibc
#endif

/// A ZeroMQ socket that owns its handle and closes it when released (or on `close()`),
/// never lingering: unsent messages are dropped at close, so a process exits promptly.
///
/// Only ROUTER and DEALER (and PAIR, for a socket monitor's events): REQ/REP deadlocks on a
/// lost reply. Every socket refuses messages
/// with a part larger than `maxPartBytes` (libzmq drops the connection that sent it, so a
/// hostile length never makes the process allocate), and `receive` drops messages with more
/// than `maxParts` parts. A socket is used by one thread at a time.
public final class ZMQSocket {
  public enum Kind {
    case router
    case dealer
    case pair

    var raw: Int32 {
      switch self {
      case .router: ZMQ_ROUTER
      case .dealer: ZMQ_DEALER
      case .pair: ZMQ_PAIR
      }
    }
  }

  public let kind: Kind
  public let maxParts: Int
  let context: ZMQContext
  private(set) var raw: UnsafeMutableRawPointer?
  /// Set by `makeCurveServer`: messages then carry their sender's public key.
  var isCurveServer = false
  /// On a Curve server: the public key (Z85) of the client that sent the last message
  /// received, as its context's ZAP handler authenticated it.
  public private(set) var lastSenderKey: String?

  /// - Parameters:
  ///   - maxPartBytes: largest message part accepted from a peer.
  ///   - sendTimeoutMilliseconds: how long `send` may block on a full queue before failing.
  public init(
    _ context: ZMQContext, _ kind: Kind, maxPartBytes: Int = 64 << 20, maxParts: Int = 8,
    sendTimeoutMilliseconds: Int32 = 10_000
  ) throws(TransportError) {
    guard let raw = zmq_socket(context.raw, kind.raw) else { throw .last("zmq_socket") }
    self.raw = raw
    self.kind = kind
    self.maxParts = maxParts
    self.context = context
    try set(ZMQ_LINGER, Int32(0))
    try set(ZMQ_MAXMSGSIZE, Int64(maxPartBytes))
    try set(ZMQ_SNDTIMEO, sendTimeoutMilliseconds)
    try set(ZMQ_RECONNECT_IVL, Int32(100))
    try set(ZMQ_RECONNECT_IVL_MAX, Int32(1000))
    if kind == .router { try set(ZMQ_ROUTER_MANDATORY, Int32(1)) }
  }

  deinit { close() }

  /// Closes the socket now; later calls fail with ENOTSOCK.
  public func close() {
    if let raw { zmq_close(raw) }
    raw = nil
  }

  func handle() throws(TransportError) -> UnsafeMutableRawPointer {
    guard let raw else { throw .zmq(call: "socket", errno: ENOTSOCK, message: "socket is closed") }
    return raw
  }

  func set<Value: BitwiseCopyable>(_ option: Int32, _ value: Value) throws(TransportError) {
    var value = value
    let status = zmq_setsockopt(try handle(), option, &value, MemoryLayout<Value>.size)
    guard status == 0 else { throw .last("zmq_setsockopt(\(option))") }
  }

  /// Names this socket to the ROUTER sockets it connects to (set before connecting); the name
  /// survives reconnects.
  public func setRoutingID(_ id: String) throws(TransportError) {
    let bytes = Array(id.utf8.prefix(255))
    let status = bytes.withUnsafeBytes {
      zmq_setsockopt(try? handle(), ZMQ_ROUTING_ID, $0.baseAddress, $0.count)
    }
    guard status == 0 else { throw .last("zmq_setsockopt(ROUTING_ID)") }
  }

  /// Binds to `endpoint` and returns the address it got (a `*` port resolved), e.g.
  /// `tcp://127.0.0.1:*` → `tcp://127.0.0.1:40123`.
  @discardableResult
  public func bind(_ endpoint: String) throws(TransportError) -> String {
    try Endpoint.validate(endpoint)
    guard zmq_bind(try handle(), endpoint) == 0 else { throw .last("zmq_bind(\(endpoint))") }
    var buffer = [CChar](repeating: 0, count: 512)
    var size = buffer.count
    guard zmq_getsockopt(try handle(), ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
      throw .last("zmq_getsockopt(LAST_ENDPOINT)")
    }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Connects to `endpoint`; libzmq connects (and reconnects) in the background.
  public func connect(_ endpoint: String) throws(TransportError) {
    try Endpoint.validate(endpoint)
    guard zmq_connect(try handle(), endpoint) == 0 else { throw .last("zmq_connect(\(endpoint))") }
  }

  /// Sends one message of several parts (for a ROUTER socket, the first is the peer's id).
  public func send(_ parts: [[UInt8]]) throws(TransportError) {
    let socket = try handle()
    for (index, part) in parts.enumerated() {
      let flags = index + 1 < parts.count ? ZMQ_SNDMORE : 0
      let sent = part.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
      guard sent >= 0 else {
        let error = TransportError.last("zmq_send")
        if case .zmq(_, EHOSTUNREACH, _) = error {
          throw .unroutable(peer: parts.first.map(Self.hex) ?? "?")
        }
        throw error
      }
    }
  }

  /// Receives one whole message if one arrives within `timeoutMilliseconds` (0: only what
  /// is already queued; -1: wait forever). Messages with more than `maxParts` parts are
  /// drained and dropped (the result is then an empty array).
  ///
  /// With `spinMicroseconds`, it first checks without sleeping for that long (yielding the
  /// core between checks): waking a sleeping thread costs tens of microseconds (more in a
  /// VM), which matters when the message is a peer's partial sums due any moment.
  public func receive(timeoutMilliseconds: Int = 0, spinMicroseconds: Int = 0)
    throws(TransportError) -> [[UInt8]]?
  {
    if spinMicroseconds > 0 {
      let deadline = Self.microseconds() + spinMicroseconds
      repeat {
        if let message = try receiveQueued() { return message }
        // Give the core to another runnable thread — often this process's own ZeroMQ I/O
        // thread, which has to move the awaited message in (measured: TP2 decode +30% on two
        // cores, where a spin without yielding gained nothing).
        sched_yield()
      } while Self.microseconds() < deadline
    }
    guard try Poller.wait([self], timeoutMilliseconds: timeoutMilliseconds).first == true else {
      return nil
    }
    return try receiveQueued()
  }

  /// Receives a message known to be queued (after a poll said so).
  func receiveQueued() throws(TransportError) -> [[UInt8]]? {
    let socket = try handle()
    var parts: [[UInt8]] = []
    var tooMany = false
    while true {
      var message = zmq_msg_t()
      zmq_msg_init(&message)
      defer { zmq_msg_close(&message) }
      guard zmq_msg_recv(&message, socket, ZMQ_DONTWAIT) >= 0 else {
        if tessera_zmq_errno() == EAGAIN && parts.isEmpty { return nil }
        throw .last("zmq_msg_recv")
      }
      // A ROUTER's identity part carries no metadata; the peer's own parts do.
      if isCurveServer {
        if parts.isEmpty { lastSenderKey = nil }
        if lastSenderKey == nil, let key = zmq_msg_gets(&message, "User-Id") {
          lastSenderKey = String(cString: key)
        }
      }
      if parts.count < maxParts {
        let size = zmq_msg_size(&message)
        let bytes = zmq_msg_data(&message).assumingMemoryBound(to: UInt8.self)
        parts.append(Array(UnsafeBufferPointer(start: bytes, count: size)))
      } else {
        tooMany = true
      }
      if zmq_msg_more(&message) == 0 { break }
    }
    return tooMany ? [] : parts
  }

  static func microseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let seconds = Int(now.tv_sec)
    let nanoseconds = Int(now.tv_nsec)
    return seconds * 1_000_000 + nanoseconds / 1000
  }

  static func seconds() -> Double { Double(microseconds()) / 1_000_000 }

  static func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
