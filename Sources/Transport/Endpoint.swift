/// ZeroMQ endpoints Tessera accepts: `tcp://HOST:PORT` (PORT may be `*` when binding),
/// `ipc://PATH`, `inproc://NAME`.
public enum Endpoint {
  public static func validate(_ endpoint: String) throws(TransportError) {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") {
      guard endpoint.split(separator: "/", omittingEmptySubsequences: false).count > 2,
        !endpoint.hasSuffix("//")
      else { throw .badEndpoint(endpoint) }
      return
    }
    guard endpoint.hasPrefix("tcp://") else { throw .badEndpoint(endpoint) }
    let address = endpoint.dropFirst("tcp://".count)
    guard let colon = address.lastIndex(of: ":"), colon != address.startIndex else {
      throw .badEndpoint(endpoint)
    }
    let port = address[address.index(after: colon)...]
    guard port == "*" || (UInt16(port).map { $0 > 0 } ?? false) else {
      throw .badEndpoint(endpoint)
    }
  }
}

extension Endpoint {
  /// Whether only this machine can reach `endpoint`: `ipc://`, `inproc://`, or TCP on a
  /// loopback address (127.0.0.0/8, `localhost`, `[::1]`).
  public static func isLocal(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://"),
      let colon = endpoint.lastIndex(of: ":"), colon > endpoint.startIndex
    else { return false }
    let host = endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]
    return host.hasPrefix("127.") || host == "localhost" || host == "[::1]" || host == "::1"
  }

  /// Secure by default: refuses a plaintext bind that other hosts could reach.
  public static func requireLocal(_ endpoint: String) throws(TransportError) {
    guard isLocal(endpoint) else { throw .plaintextBind(endpoint) }
  }
}
