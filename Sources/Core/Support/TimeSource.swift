import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Monotonic seconds, as a value that can be injected: the serving loop's deadlines, the
/// request journal's leases and the coordinator's timeouts read one, so a test drives them
/// with a `ManualClock` instead of waiting. (Not named `Clock`: that is the standard
/// library's protocol.)
public protocol TimeSource: Sendable {
  func now() -> Double
}

/// The machine's monotonic clock (`CLOCK_MONOTONIC`).
public struct SystemClock: TimeSource {
  public init() {}

  public func now() -> Double { Self.now() }

  /// For timings where nothing needs a test clock (benchmarks, workers' step figures).
  public static func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }
}

/// A clock that moves only when told: for tests of deadlines, leases and timeouts.
public final class ManualClock: TimeSource {
  private let seconds: Mutex<Double>

  public init(_ start: Double = 1000) { seconds = Mutex(start) }

  public func now() -> Double { seconds.withLock { $0 } }

  public func advance(by interval: Double) { seconds.withLock { $0 += interval } }
}
