/// What can be wrong with request state read back from Redis. A damaged record is logged and
/// the request reported failed; it never stops the router.
enum RequestStateError: Error, Equatable, CustomStringConvertible {
  /// No record under that id (never made, or expired).
  case notFound(String)
  /// A field is missing or does not decode (truncated, foreign or from another version).
  case damaged(id: String, detail: String)
  /// Redis did not answer.
  case unavailable(String)

  var description: String {
    switch self {
    case .notFound(let id): "no request \(id) in Redis"
    case .damaged(let id, let detail): "the stored state of request \(id) is damaged: \(detail)"
    case .unavailable(let detail): "request state is unavailable: \(detail)"
    }
  }
}
