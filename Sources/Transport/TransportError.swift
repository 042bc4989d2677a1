import CZeroMQ

/// What can go wrong moving messages over ZeroMQ.
public enum TransportError: Error, Equatable, CustomStringConvertible {
  /// A libzmq call failed; `errno` and its text.
  case zmq(call: String, errno: Int32, message: String)
  /// An endpoint that is not `tcp://HOST:PORT`, `ipc://PATH` or `inproc://NAME`.
  case badEndpoint(String)
  /// The peer is not (or no longer) connected to a ROUTER socket.
  case unroutable(peer: String)
  /// A Curve key that is not one.
  case badKey(String)
  /// A key file that cannot be used, and why.
  case keyFile(String, String)
  /// A plaintext bind to an address other hosts can reach (secure by default: give keys, or
  /// say `--insecure`).
  case plaintextBind(String)

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
    case .badKey(let reason): "bad Curve key: \(reason)"
    case .keyFile(let path, let reason): "key file \(path) \(reason)"
    case .plaintextBind(let endpoint):
      "refusing to bind \(endpoint) without Curve keys: other hosts could reach it "
        + "unauthenticated and read the traffic (give --curve-secret-key, or --insecure to "
        + "allow it on a network you trust)"
    }
  }
}
