import CZeroMQ

/// What can go wrong moving messages over ZeroMQ.
public enum TransportError: Error, Equatable, CustomStringConvertible {
  /// A libzmq call failed; `errno` and its text.
  case zmq(call: String, errno: Int32, message: String)
  /// An endpoint that is not `tcp://HOST:PORT`, `ipc://PATH` or `inproc://NAME`.
  case badEndpoint(String)
  /// The peer is not (or no longer) connected to a ROUTER socket.
  case unroutable(peer: String)

  static func last(_ call: String) -> TransportError {
    let code = tessera_zmq_errno()
    return .zmq(call: call, errno: code, message: String(cString: zmq_strerror(code)))
  }

  public var description: String {
    switch self {
    case .zmq(let call, let errno, let message): "\(call) failed: \(message) (errno \(errno))"
    case .badEndpoint(let endpoint):
      "bad endpoint '\(endpoint)' (expected tcp://HOST:PORT, ipc://PATH or inproc://NAME)"
    case .unroutable(let peer): "peer \(peer) is not connected"
    }
  }
}
