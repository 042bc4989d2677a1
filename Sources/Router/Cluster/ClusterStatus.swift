import Core

/// The cluster's state for `/v1/cluster`: the configured and the running layout, the
/// standbys, what was lost and the last re-plans.
public struct ClusterStatus: Sendable, Encodable, Equatable {
  public struct Replan: Sendable, Encodable, Equatable {
    public let secondsAgo: Double
    public let reason: String
    public let from: String
    public let to: String
    public let recoverySeconds: Double

    enum CodingKeys: String, CodingKey {
      case reason, from, to
      case secondsAgo = "seconds_ago"
      case recoverySeconds = "recovery_seconds"
    }
  }

  public let configured: String
  public let current: String
  public let planID: String
  public let running: Bool
  /// Why no plan runs (absent while one does).
  public let waiting: String?
  public let standbyMode: String
  public let workerTimeout: Double
  public let standbys: [String]
  /// Spares `/ready` counts as healthy (`--standby`).
  public let wantedStandbys: Int
  /// Whether the workers' sockets use Curve.
  public let curve: Bool
  /// Clients refused for their Curve key, by plane (control, data).
  public let curveRefused: [String: Int]
  public let failures: [String: Int]
  public let replans: Int
  public let recentReplans: [Replan]
  /// Bytes the router sent to and received from workers (steps, logits, heartbeats), and
  /// tokens stepped: what the control plane costs per token.
  public let controlBytes: Int
  public let tokensStepped: Int
  /// The running plan's cut, as at start.
  let plan: PartitionPlan

  enum CodingKeys: String, CodingKey {
    case configured, current, running, waiting, standbys, failures, replans, curve
    case wantedStandbys = "wanted_standbys"
    case curveRefused = "curve_refused"
    case planID = "plan_id"
    case standbyMode = "standby_mode"
    case workerTimeout = "worker_timeout"
    case recentReplans = "recent_replans"
    case controlBytes = "control_bytes"
    case tokensStepped = "tokens_stepped"
  }

  public init(_ coordinator: Coordinator, now: Double) {
    let planner = coordinator.planner
    configured = "TP=\(planner.tensorParallel)×PP=\(planner.pipelineParallel)"
    current = coordinator.layoutText(coordinator.plan)
    planID = String(coordinator.planID)
    running = coordinator.isReady
    waiting = coordinator.isReady ? nil : coordinator.waitingReason
    standbyMode = coordinator.standbyMode.rawValue
    workerTimeout = coordinator.workerTimeout
    standbys = coordinator.membership.standbys.map(\.hello.name)
    wantedStandbys = coordinator.wantedStandbys
    curve = coordinator.publicKey != nil
    curveRefused = coordinator.curveRefusals
    failures = coordinator.failures
    replans = coordinator.replanCount
    recentReplans = coordinator.replans.suffix(8).map {
      Replan(
        secondsAgo: max(0, now - $0.at), reason: $0.reason, from: $0.from, to: $0.to,
        recoverySeconds: $0.seconds)
    }
    plan = coordinator.plan
    controlBytes = coordinator.bytesSent + coordinator.bytesReceived
    tokensStepped = coordinator.tokensStepped
  }
}
