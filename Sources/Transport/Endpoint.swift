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
