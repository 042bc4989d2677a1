public import Core
public import Transport

/// What stops a worker from starting or a step from running.
public enum WorkerError: Error, CustomStringConvertible {
  case transport(TransportError)
  case model(ModelError)
  case gguf(GGUFError)
  /// The data address cannot be advertised as bound (a wildcard host): give `--advertise`.
  case needsAdvertise(bound: String)
  /// A peer's activations did not arrive in time.
  case peerTimeout(String)
  /// The router moved to a new plan while this step waited for a peer (the peer was lost).
  case planOver(String)
  /// A connection to a peer was reset while the plan ran: what was on it may be lost.
  case peerLinkReset(String)
  case wire(WireError)

  /// Whether the links between workers failed (the plan is made again), not the step.
  public var isLinkFailure: Bool {
    switch self {
    case .peerTimeout, .peerLinkReset: true
    default: false
    }
  }

  public var description: String {
    switch self {
    case .transport(let error): "\(error)"
    case .model(let error): "\(error)"
    case .gguf(let error): "\(error)"
    case .needsAdvertise(let bound):
      "bound the data plane to \(bound), which peers cannot dial: give --advertise tcp://HOST:PORT"
    case .peerTimeout(let what): "timed out waiting for \(what)"
    case .planOver(let what): "gave up waiting for \(what): the router has a new plan"
    case .peerLinkReset(let what):
      "the connection to a peer was reset (waiting for \(what)); its messages may be lost"
    case .wire(let error): "\(error)"
    }
  }
}
