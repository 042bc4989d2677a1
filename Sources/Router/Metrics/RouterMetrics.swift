import Core
import Metrics
public import Prometheus

/// The router's Prometheus metrics. Requests and latencies are recorded through swift-metrics
/// into one swift-prometheus registry; the serving loop's gauges and counters are read from
/// its snapshot at scrape time. Every name starts with `tessera_` and carries its unit.
public enum RouterMetrics {
  /// The registry `/metrics` shows.
  public static let registry = PrometheusCollectorRegistry()

  /// Points swift-metrics at the registry, once per process (later calls do nothing: tests
  /// build many applications in one process).
  public static func bootstrap() { _ = bootstrapped }

  private static let bootstrapped: Bool = {
    var factory = PrometheusMetricsFactory(registry: registry)
    let seconds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    let buckets = seconds.map { Duration.nanoseconds(Int64($0 * 1e9)) }
    factory.durationHistogramBuckets = [
      "tessera_time_to_first_token_seconds": buckets,
      "tessera_inter_token_latency_seconds": buckets,
      "tessera_request_duration_seconds": buckets,
      "tessera_recovery_seconds": buckets,
    ]
    MetricsSystem.bootstrap(factory)
    return true
  }()

  static func request(endpoint: String, status: Int, seconds: Double) {
    Counter(
      label: "tessera_requests_total",
      dimensions: [("endpoint", endpoint), ("status", "\(status)")]
    ).increment()
    Timer(label: "tessera_request_duration_seconds", dimensions: [("endpoint", endpoint)])
      .recordNanoseconds(Int64(max(seconds, 0) * 1e9))
  }

  /// A new plan is ready after an incident: seconds from the loss until then. (The counts
  /// of failures, re-plans and replayed sequences are read from the loop's snapshot.)
  static func recovered(after seconds: Double) {
    Timer(label: "tessera_recovery_seconds").recordNanoseconds(Int64(max(seconds, 0) * 1e9))
  }

  static func firstToken(after seconds: Double) {
    Timer(label: "tessera_time_to_first_token_seconds").recordNanoseconds(Int64(seconds * 1e9))
  }

  static func interToken(_ seconds: Double) {
    Timer(label: "tessera_inter_token_latency_seconds").recordNanoseconds(Int64(seconds * 1e9))
  }
}

/// Marks when a request's tokens arrive: the first gives time to first token, each later one
/// an inter-token latency.
struct TokenClock {
  let start: Double
  private var last: Double?

  init(start: Double) { self.start = start }

  mutating func tokensArrived() {
    let now = SystemClock.now()
    if let last {
      RouterMetrics.interToken(now - last)
    } else {
      RouterMetrics.firstToken(after: now - start)
    }
    last = now
  }
}
