public import Core
public import Transport

/// What goes wrong between the router and its workers.
public enum ClusterError: Error, CustomStringConvertible {
  case plan(PlanError)
  case transport(TransportError)
  /// Not enough workers joined in time.
  case notEnoughWorkers(have: Int, need: Int, waited: Double)
  /// A worker of the plan stopped answering.
  case workerLost(String)
  /// The plan was dropped (a worker lost, a step hung) with this step in flight.
  case planLost(String)
  /// A worker could not run a step or take its assignment.
  case stepFailed(worker: String, message: String)
  case timeout(String)
  case noPlan

  public var description: String {
    switch self {
    case .plan(let error): "cannot plan: \(error)"
    case .transport(let error): "\(error)"
    case .notEnoughWorkers(let have, let need, let waited):
      "\(have) of the \(need) workers the plan needs joined within \(waited) s"
    case .workerLost(let name): "worker \(name) stopped answering"
    case .planLost(let why): "the plan was lost (\(why))"
    case .stepFailed(let worker, let message): "worker \(worker): \(message)"
    case .timeout(let what): "timed out: \(what)"
    case .noPlan: "the cluster has no plan yet"
    }
  }
}
