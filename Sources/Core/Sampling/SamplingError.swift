/// Errors of the sampling area: a sampling parameter outside its domain.
public enum SamplingError: Error, Equatable, Sendable, CustomStringConvertible {
  /// `name` is the `SamplingParameters` property, `value` its rejected value as text and
  /// `reason` the domain it must lie in.
  case invalidParameter(name: String, value: String, reason: String)

  public var description: String {
    switch self {
    case .invalidParameter(let name, let value, let reason):
      "invalid sampling parameter \(name) = \(value): \(reason)"
    }
  }
}
