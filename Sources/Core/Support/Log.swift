#if canImport(Glibc)
  import Glibc
#endif

/// One-line log records on standard error: `2026-11-29T05:14:00.123Z worker[w0] info: …`.
/// Small on purpose: the processes log little (joins, plans, dropped messages, failures).
public struct Log: Sendable {
  public enum Level: String, Sendable {
    case debug, info, warning, error
  }

  public let component: String

  public init(_ component: String) { self.component = component }

  public func debug(_ message: @autoclosure () -> String) {
    if Log.verbose { write(.debug, message()) }
  }
  public func info(_ message: @autoclosure () -> String) { write(.info, message()) }
  public func warning(_ message: @autoclosure () -> String) { write(.warning, message()) }
  public func error(_ message: @autoclosure () -> String) { write(.error, message()) }

  /// Whether debug records are written (`TESSERA_LOG=debug`).
  public static let verbose = Environment.value("TESSERA_LOG") == "debug"

  private func write(_ level: Level, _ message: String) {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var time = tm()
    var seconds = now.tv_sec
    gmtime_r(&seconds, &time)
    let stamp =
      "\(time.tm_year + 1900)-\(pad(time.tm_mon + 1))-\(pad(time.tm_mday))T"
      + "\(pad(time.tm_hour)):\(pad(time.tm_min)):\(pad(time.tm_sec))."
      + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    let line = "\(stamp) \(component) \(level.rawValue): \(message)\n"
    // One write(2) per record, so lines from several threads or processes never interleave.
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
  }

  private func pad(_ value: Int32, _ width: Int = 2) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, width - text.count)) + text
  }
}
