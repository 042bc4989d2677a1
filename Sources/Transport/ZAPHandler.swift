import CZeroMQ
import Foundation
import Synchronization

/// The ZAP handler of one context (ZeroMQ RFC 27): every Curve server socket of that context
/// asks it, during the handshake, whether a client's public key may connect. It answers from
/// an allow-list per ZAP domain (a plane: `control`, `data`), so a client that knows the
/// server's public key but holds no listed key is refused before a single message of its
/// reaches the application. Without a handler libzmq lets every Curve client in.
///
/// It runs on a thread of its own; refusals are counted per domain and reported through
/// `onRefused` (with `first` true the first time a key is refused, for logging it once).
public final class ZAPHandler: Sendable {
  /// The endpoint libzmq asks (fixed by the RFC).
  static let endpoint = "inproc://zeromq.zap.01"
  /// Keys remembered as already logged; beyond this every refusal counts as a first one.
  static let rememberedKeys = 1024
  /// Most requests held at once (more are refused at once).
  static let mostHeld = 256

  /// What the handler's thread shares with its owner (the thread holds this, not the
  /// handler, so dropping the handler stops it).
  final class State: Sendable {
    let lists = Mutex(Lists())
    let stopped = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)
  }

  private let state = State()

  /// Binds the handler in `context`: call it before any Curve server socket there binds.
  /// - Parameters:
  ///   - hold: seconds, per domain, that a request with a key not (yet) allowed waits for the
  ///     allow-list to gain it before it is refused. A worker's data plane learns its peers'
  ///     keys from its assignment, and a peer given the same plan may dial it first.
  ///   - onRefused: called on the handler's thread with the domain and the key.
  public init(
    context: ZMQContext, hold: [String: Double] = [:],
    onRefused: @escaping @Sendable (_ domain: String, _ key: String, _ first: Bool) -> Void = {
      _, _, _ in
    }
  ) throws(TransportError) {
    // The ZAP request has 9 parts behind the router's envelope (RFC 27).
    let socket = try ZMQSocket(context, .router, maxPartBytes: 4096, maxParts: 16)
    try socket.bind(Self.endpoint)
    let handed = UncheckedBox(socket)
    let thread = Thread { [state] in
      Self.serve(handed.value, state: state, hold: hold, onRefused: onRefused)
      handed.value.close()
      state.done.signal()
    }
    thread.name = "zap"
    thread.start()
  }

  deinit { state.stopped.store(true, ordering: .sequentiallyConsistent) }

  /// Sets the keys that may connect in `domain` (replacing the previous list).
  public func allow(_ keys: some Sequence<String>, domain: String) {
    let set = Set(keys)
    state.lists.withLock { $0.allowed[domain] = set }
  }

  /// Clients refused so far, by domain.
  public var refused: [String: Int] { state.lists.withLock { $0.refused } }

  /// Stops the thread and waits for it (its socket is closed, so the context can end).
  public func stop() {
    guard !state.stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
    state.done.wait()
  }

  /// A request whose key is not allowed yet.
  struct Held {
    var request: Request
    var until: Double
  }

  private static func serve(
    _ socket: ZMQSocket, state: State, hold: [String: Double],
    onRefused: @Sendable (String, String, Bool) -> Void
  ) {
    var held: [Held] = []
    while !state.stopped.load(ordering: .sequentiallyConsistent) {
      let message = (try? socket.receive(timeoutMilliseconds: held.isEmpty ? 100 : 20)) ?? nil
      if let message, let request = Request(message) {
        if let reply = request.malformed {
          try? socket.send(reply)
        } else if state.lists.withLock({ $0.allows(request) }) {
          try? socket.send(request.reply(allowed: true))
        } else if let seconds = hold[request.domain], seconds > 0, held.count < mostHeld {
          held.append(Held(request: request, until: ZMQSocket.seconds() + seconds))
        } else {
          refuse(request, socket: socket, state: state, onRefused: onRefused)
        }
      }
      guard !held.isEmpty else { continue }
      let now = ZMQSocket.seconds()
      held.removeAll { entry in
        if state.lists.withLock({ $0.allows(entry.request) }) {
          try? socket.send(entry.request.reply(allowed: true))
          return true
        }
        guard now >= entry.until else { return false }
        refuse(entry.request, socket: socket, state: state, onRefused: onRefused)
        return true
      }
    }
  }

  private static func refuse(
    _ request: Request, socket: ZMQSocket, state: State,
    onRefused: @Sendable (String, String, Bool) -> Void
  ) {
    let first = state.lists.withLock { $0.noteRefused(request) }
    onRefused(request.domain, request.key, first)
    try? socket.send(request.reply(allowed: false))
  }

  /// What is allowed and what was refused, shared with the handler's thread.
  struct Lists {
    var allowed: [String: Set<String>] = [:]
    var refused: [String: Int] = [:]
    var refusedKeys: Set<String> = []

    func allows(_ request: Request) -> Bool {
      allowed[request.domain]?.contains(request.key) == true
    }

    /// Counts a refusal; true the first time this key is refused in its domain.
    mutating func noteRefused(_ request: Request) -> Bool {
      refused[request.domain, default: 0] += 1
      guard refusedKeys.count < ZAPHandler.rememberedKeys else { return true }
      return refusedKeys.insert("\(request.domain) \(request.key)").inserted
    }
  }

  /// One ZAP request: `[peer, "", version, request id, domain, address, identity,
  /// mechanism, credentials…]`.
  struct Request {
    let parts: [[UInt8]]
    let domain: String
    /// The client's public key in Z85 ("" when the request carries none).
    let key: String
    /// The reply to a request that cannot be allowed whatever the lists say.
    private(set) var malformed: [[UInt8]]?

    /// Nil for a message that is not a ZAP request at all.
    init?(_ parts: [[UInt8]]) {
      guard parts.count >= 8, parts[1].isEmpty else { return nil }
      self.parts = parts
      domain = String(decoding: parts[4], as: UTF8.self)
      let mechanism = String(decoding: parts[7], as: UTF8.self)
      let key = parts.count >= 9 ? CurveKeyPair.z85(parts[8]) : nil
      self.key = key ?? ""
      // Only version 1.0 and CURVE with a key (a NULL or PLAIN client never gets in).
      let usable = String(decoding: parts[2], as: UTF8.self) == "1.0" && mechanism == "CURVE"
      if !usable || key == nil { malformed = reply(allowed: false) }
    }

    func reply(allowed: Bool) -> [[UInt8]] {
      [
        parts[0], [], Array("1.0".utf8), parts[3], Array((allowed ? "200" : "400").utf8),
        Array((allowed ? "OK" : "key not authorized").utf8), Array((allowed ? key : "").utf8), [],
      ]
    }
  }
}

/// Hands a value that is not `Sendable` to the one thread that uses it from then on.
struct UncheckedBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
