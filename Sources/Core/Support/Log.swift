public import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// A component's log, through swift-log — the one logging system of the process, which
/// Hummingbird's own records go through too. `LogLines.bootstrap()` (called first by the
/// executable) makes every record one line on standard error:
/// `2026-11-29T05:14:00.123Z worker[w0] info: …`. Small on purpose: the processes log little
/// (joins, plans, dropped messages, failures).
public struct Log: Sendable {
  public let component: String
  private let logger: Logger

  public init(_ component: String) {
    self.component = component
    var logger = Logger(label: component)
    if Log.verbose { logger.logLevel = .debug }
    self.logger = logger
  }

  public func debug(_ message: @autoclosure () -> String) { logger.debug("\(message())") }
  public func info(_ message: @autoclosure () -> String) { logger.info("\(message())") }
  public func warning(_ message: @autoclosure () -> String) { logger.warning("\(message())") }
  public func error(_ message: @autoclosure () -> String) { logger.error("\(message())") }

  /// Whether debug records are written (`TESSERA_LOG=debug`).
  public static let verbose = Environment.value("TESSERA_LOG") == "debug"
}

/// swift-log's handler for Tessera's processes: one line per record on standard error, with a
/// UTC time stamp, the logger's label and the level; metadata as `key=value` after the text.
public struct LogLines: LogHandler {
  public let label: String
  public var logLevel: Logger.Level = Log.verbose ? .debug : .info
  public var metadata: Logger.Metadata = [:]

  public init(label: String) { self.label = label }

  /// Sends every logger of the process here; call once, before anything logs.
  public static func bootstrap() {
    LoggingSystem.bootstrap { LogLines(label: $0) }
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    let merged = metadata.merging(event.metadata ?? [:]) { $1 }
    let extra =
      merged.isEmpty
      ? ""
      : " "
        + merged.sorted { $0.key < $1.key }
        .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    let line = "\(Self.stamp()) \(label) \(event.level.rawValue): \(event.message)\(extra)\n"
    // One write(2) per record, so lines from several threads or processes never interleave.
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
  }

  private static func stamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var time = tm()
    var seconds = now.tv_sec
    gmtime_r(&seconds, &time)
    return "\(time.tm_year + 1900)-\(pad(time.tm_mon + 1))-\(pad(time.tm_mday))T"
      + "\(pad(time.tm_hour)):\(pad(time.tm_min)):\(pad(time.tm_sec))."
      + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
  }

  private static func pad(_ value: Int32, _ width: Int = 2) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, width - text.count)) + text
  }
}
