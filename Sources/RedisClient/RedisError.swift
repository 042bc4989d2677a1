/// Everything that can go wrong talking to Redis. None of it is fatal: callers treat a cache
/// that cannot answer as a miss, and keep serving.
public enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The URL is not `redis://[user:pass@]host[:port][/db]`.
  case badURL(String)
  /// No connection could be made (refused, unreachable, connect timeout).
  case connect(String)
  /// The connection broke or a command timed out; the connection is dropped.
  case io(String)
  /// Redis answered with an error reply (`-ERR …`, `-NOAUTH …`, `-OOM …`).
  case server(String)
  /// A reply of a shape the caller did not expect.
  case unexpectedReply(String)
  /// Redis failed recently and the client is backing off until it tries again.
  case backingOff(retryIn: Double)

  public var description: String {
    switch self {
    case .badURL(let detail): "bad Redis URL: \(detail)"
    case .connect(let detail): "cannot connect to Redis: \(detail)"
    case .io(let detail): "Redis connection failed: \(detail)"
    case .server(let message): "Redis error: \(message)"
    case .unexpectedReply(let detail): "unexpected Redis reply: \(detail)"
    case .backingOff(let seconds):
      "Redis is unavailable (next attempt in \(String(format: "%.1f", seconds)) s)"
    }
  }
}
