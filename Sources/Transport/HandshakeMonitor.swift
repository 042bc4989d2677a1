import CZeroMQ

/// Watches a client socket's connections (libzmq's socket monitor) and tells why a
/// handshake failed — the server refused this side's key, or closed the connection before
/// the handshake ended (a wrong server key, or one side without Curve) — so a worker that
/// cannot join says why instead of retrying in silence.
public final class HandshakeMonitor {
  /// What went wrong with a connection, in words for the log.
  public enum Failure: Hashable, Sendable, CustomStringConvertible {
    /// The server's ZAP handler refused this side's public key (status 400 and the like).
    case refusedKey(status: UInt32)
    /// The connection closed during the handshake (what a wrong server key looks like from
    /// the client: the server cannot open its hello and hangs up).
    case closedDuringHandshake
    /// One side uses Curve and the other does not.
    case mechanismMismatch
    /// A Curve box did not open: the keys do not belong together.
    case cryptographic
    /// Another ZMTP or ZAP protocol error (libzmq's `ZMQ_PROTOCOL_ERROR_*` code).
    case protocolError(UInt32)

    public var description: String {
      switch self {
      case .refusedKey(let status):
        "the server refused this side's Curve key (ZAP status \(status)): is its public key in "
          + "the server's authorized keys?"
      case .closedDuringHandshake:
        "the server closed the connection during the handshake: is the server's public key "
          + "(--router-public-key) right, and do both sides use Curve?"
      case .mechanismMismatch:
        "one side uses Curve and the other does not: give both keys, or both --insecure"
      case .cryptographic:
        "the Curve handshake did not decrypt: is the server's public key (--router-public-key) "
          + "right?"
      case .protocolError(let code):
        "the handshake failed with protocol error 0x\(String(code, radix: 16)): do both sides "
          + "use Curve (or both --insecure), with the right server key?"
      }
    }
  }

  private let pair: ZMQSocket
  private let watched: ZMQSocket
  private var connected = false
  private var succeeded = false
  /// Established connections (handshake done) that closed since the monitor started: on a
  /// DEALER, what was sent on them and not yet delivered is lost.
  public private(set) var dropped = 0
  nonisolated(unsafe) private static var counter = 0

  /// Starts watching `socket`; call before connecting.
  public init(_ socket: ZMQSocket) throws(TransportError) {
    Self.counter += 1
    let address = "inproc://tessera-monitor-\(Self.counter)-\(UInt32.random(in: 0...UInt32.max))"
    let events =
      ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
      | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
      | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
    guard zmq_socket_monitor(try socket.handle(), address, events) == 0 else {
      throw .last("zmq_socket_monitor")
    }
    pair = try ZMQSocket(socket.context, .pair, maxPartBytes: 4096, maxParts: 2)
    try pair.connect(address)
    watched = socket
  }

  /// Stops the monitor before its socket goes (a monitor left without its reader stalls
  /// the watched socket).
  deinit {
    if let raw = watched.raw { zmq_socket_monitor(raw, nil, 0) }
    pair.close()
  }

  /// The failures since the last call (never blocks).
  public func failures() -> [Failure] {
    var found: [Failure] = []
    while let parts = (try? pair.receive(timeoutMilliseconds: 0)) ?? nil, parts.count == 2,
      parts[0].count >= 6
    {
      let event = Int32(parts[0][0]) | Int32(parts[0][1]) << 8
      let value = parts[0][2...5].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
      switch event {
      case ZMQ_EVENT_CONNECTED:
        connected = true
        succeeded = false
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: succeeded = true
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: found.append(.refusedKey(status: value))
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        switch Int32(bitPattern: value) {
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: found.append(.mechanismMismatch)
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: found.append(.cryptographic)
        default: found.append(.protocolError(value))
        }
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: found.append(.closedDuringHandshake)
      case ZMQ_EVENT_DISCONNECTED:
        if connected, !succeeded, found.isEmpty { found.append(.closedDuringHandshake) }
        if succeeded { dropped += 1 }
        connected = false
        succeeded = false
      default: break
      }
    }
    return found
  }
}
