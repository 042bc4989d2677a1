import CProcess
import Core
public import Foundation
import RedisClient

#if canImport(Glibc)
  import Glibc
#endif

/// A `redis-server` of our own (Debian's package) for `tessera up`: a free loopback port, a
/// private temporary directory, no persistence, `maxmemory` with `volatile-lru` so only keys
/// with a TTL (cache entries) are ever evicted. It exits with the process that started it
/// (`setpriv --pdeathsig`), even if that one is killed outright.
public final class RedisServer {
  public let port: Int
  public let directory: String
  private var pid: pid_t = -1
  private let spawner = SpawnThread()

  public struct Failed: Error, CustomStringConvertible {
    public let description: String
  }

  public var url: String { "redis://127.0.0.1:\(port)" }

  /// - Parameters:
  ///   - port: The port to listen on; nil picks a free one.
  ///   - extraArguments: More `redis-server` options (tests: `--requirepass`, …).
  public init(
    port: Int? = nil, maxMemory: String = "256mb", extraArguments: [String] = [],
    startTimeout: Double = 10
  ) throws {
    let server = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    guard let server else {
      throw Failed(description: "redis-server is not installed (scripts/setup installs it)")
    }
    // A free port can be taken by someone else between our finding it and the server binding
    // it: then another redis-server answers there, ours exits, and we try another port (only
    // when the caller let us choose).
    var attempt = 0
    while true {
      attempt += 1
      guard let chosen = port ?? Self.freePort() else {
        throw Failed(description: "no free port for Redis")
      }
      let directory =
        FileManager.default.temporaryDirectory
        .appendingPathComponent(
          "tessera-redis-\(getpid())-\(chosen)-\(UInt32.random(in: 0...UInt32.max))"
        )
        .path
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700])
      // Spawned with a clean signal state (the caller's thread may block SIGTERM, and a child
      // inherits that), through setpriv so it gets SIGTERM when this process dies.
      let arguments =
        [
          "/usr/bin/setpriv", "--pdeathsig", "TERM", "--", server, "--port", String(chosen),
          "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", "no",
          "--maxmemory", maxMemory, "--maxmemory-policy", "volatile-lru", "--daemonize", "no",
          "--loglevel", "warning",
        ] + extraArguments
      let pid = try spawner.run {
        var cArguments = arguments.map { strdup($0) }
        cArguments.append(nil)
        defer { for argument in cArguments { free(argument) } }
        return tessera_spawn("/usr/bin/setpriv", cArguments, 1)
      }
      guard pid > 0 else { throw Failed(description: "cannot start redis-server: errno \(errno)") }
      switch Self.waitUntilServing(pid: pid, port: chosen, timeout: startTimeout) {
      case .ours:
        self.port = chosen
        self.directory = directory
        self.pid = pid
        return
      case .taken(let owner) where port == nil && attempt < 4:
        try? FileManager.default.removeItem(atPath: directory)
        Log("redis").debug("port \(chosen) was taken by pid \(owner); trying another")
      case .taken(let owner):
        try? FileManager.default.removeItem(atPath: directory)
        throw Failed(description: "port \(chosen) is taken by another redis-server (pid \(owner))")
      case .failed(let reason):
        try? FileManager.default.removeItem(atPath: directory)
        throw Failed(description: "redis-server on port \(chosen): \(reason)")
      }
    }
  }

  private enum Start {
    case ours
    case taken(pid_t)
    case failed(String)
  }

  /// Waits until the server `pid` answers on `port`. Another server answering there (its INFO
  /// names another process) means the port was taken; ours then exits, having failed to bind.
  private static func waitUntilServing(pid: pid_t, port: Int, timeout: Double) -> Start {
    let deadline = Date().addingTimeInterval(timeout)
    func running() -> Bool {
      var status: Int32 = 0
      return waitpid(pid, &status, WNOHANG) != pid
    }
    while true {
      if answers(port: port) {
        if let owner = processID(port: port), owner != pid {
          kill(pid, SIGKILL)
          var status: Int32 = 0
          waitpid(pid, &status, 0)
          return .taken(owner)
        }
        // Ours, or one that asks for a password (ours if it still runs: one that could not
        // bind exits at once).
        usleep(50_000)
        if running() { return .ours }
        return .taken(0)
      }
      guard running() else { return .failed("it exited at start") }
      guard Date() < deadline else {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return .failed("it did not answer PING within \(timeout) s")
      }
      usleep(20_000)
    }
  }

  /// The process id the server on `port` reports (nil: it asks for a password, or no answer).
  static func processID(port: Int) -> pid_t? {
    let connection = try? RedisConnection(
      url: RedisURL(host: "127.0.0.1", port: port), connectTimeout: 1, commandTimeout: 1)
    guard case .string(let bytes)? = try? connection?.command(["INFO", "server"]) else {
      return nil
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard
      let line = text.split(whereSeparator: \.isNewline).first(where: {
        $0.hasPrefix("process_id:")
      })
    else { return nil }
    return pid_t(line.dropFirst("process_id:".count).trimmingCharacters(in: .whitespaces))
  }

  deinit { stop() }

  /// Whether the server process has not exited (it is reaped if it has).
  var isRunning: Bool {
    guard pid > 0 else { return false }
    var status: Int32 = 0
    if waitpid(pid, &status, WNOHANG) == pid {
      pid = -1
      return false
    }
    return true
  }

  /// Kills the server outright (SIGKILL), as a crash would, and reaps it.
  public func crash() {
    guard isRunning else { return }
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    pid = -1
  }

  /// Stops the server: SIGTERM, up to five seconds, then SIGKILL.
  public func stop() {
    if isRunning {
      kill(pid, SIGTERM)
      let deadline = Date().addingTimeInterval(5)
      while isRunning, Date() < deadline { usleep(10_000) }
      if isRunning {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = -1
      }
    }
    try? FileManager.default.removeItem(atPath: directory)
    spawner.close()
  }

  /// A port nobody listens on now (bound and released; Redis takes it a moment later).
  static func freePort() -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { return nil }
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { return nil }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Whether a Redis on the port answers `PING` (`+PONG`, or `-NOAUTH` when it wants a
  /// password: it is up either way; an error reply is a reply, not a failure).
  static func answers(port: Int) -> Bool {
    let connection = try? RedisConnection(
      url: RedisURL(host: "127.0.0.1", port: port), connectTimeout: 1, commandTimeout: 1)
    return (try? connection?.command(["PING"])) != nil
  }
}
