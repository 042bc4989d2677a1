/// Why an engine step failed, as the serving loop needs to know it: whether the model can go
/// on. The engines map their own errors (`ModelError`, `ClusterError`) to these.
public enum EngineFailure: Error, Sendable, Equatable, CustomStringConvertible {
  /// A worker died, hung, or could not be reached: the step's work is lost, but nothing is
  /// wrong with the requests or the model. The loop computes the sequences again (exact, by
  /// the determinism contract) once the engine can run.
  case workerLost(String)
  /// The engine cannot run this step (a worker's error, a state that disagrees): the requests
  /// in the step fail, the others are computed again.
  case broken(String)

  /// Whether the step may simply be tried again.
  public var isRecoverable: Bool {
    if case .workerLost = self { return true }
    return false
  }

  public var description: String {
    switch self {
    case .workerLost(let detail): "a worker was lost: \(detail)"
    case .broken(let detail): detail
    }
  }
}
