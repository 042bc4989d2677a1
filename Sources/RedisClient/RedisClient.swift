import Core
import Foundation
import Synchronization

/// A small pool of connections to one Redis, shared by every thread of a process.
///
/// Each call borrows a connection (or opens one), and gives it back unless it broke. When a
/// connection cannot be made or breaks, the client backs off — calls fail at once with
/// `.backingOff` — for a delay that doubles with each consecutive failure (up to a ceiling),
/// then tries again; the first success resets it. So a Redis that is down costs callers
/// nothing but a failed call, and one that comes back is used again without a restart.
public final class RedisClient: Sendable {
  public struct Options: Sendable {
    public var connectTimeout: Double
    public var commandTimeout: Double
    /// Idle connections kept for reuse.
    public var maxIdle: Int
    public var initialBackoff: Double
    public var maxBackoff: Double

    public init(
      connectTimeout: Double = 0.5, commandTimeout: Double = 2, maxIdle: Int = 8,
      initialBackoff: Double = 0.05, maxBackoff: Double = 2
    ) {
      self.connectTimeout = connectTimeout
      self.commandTimeout = commandTimeout
      self.maxIdle = maxIdle
      self.initialBackoff = initialBackoff
      self.maxBackoff = maxBackoff
    }
  }

  /// How Redis has been lately, for `/ready` and logs.
  public struct Health: Sendable, Equatable {
    /// Consecutive failed attempts (0: the last one worked).
    public var consecutiveFailures = 0
    public var lastError: RedisError?
    public var retryAt = 0.0
  }

  public let url: RedisURL
  public let options: Options
  private let state: Mutex<(idle: [RedisConnection], health: Health)>

  public init(url: RedisURL, options: Options = Options()) {
    self.url = url
    self.options = options
    state = Mutex(([], Health()))
  }

  public var health: Health { state.withLock { $0.health } }

  /// Runs `body` with a connection of the pool.
  public func withConnection<R>(_ body: (RedisConnection) throws(RedisError) -> R)
    throws(RedisError) -> R
  {
    let now = SystemClock.now()
    let (connection, retryIn) = state.withLock { state -> (RedisConnection?, Double) in
      guard now >= state.health.retryAt else { return (nil, state.health.retryAt - now) }
      return (state.idle.popLast(), 0)
    }
    if retryIn > 0 { throw .backingOff(retryIn: retryIn) }
    let borrowed: RedisConnection
    if let connection {
      borrowed = connection
    } else {
      do {
        borrowed = try RedisConnection(
          url: url, connectTimeout: options.connectTimeout, commandTimeout: options.commandTimeout)
      } catch {
        failed(error)
        throw error
      }
    }
    do {
      let result = try body(borrowed)
      succeeded(returning: borrowed)
      return result
    } catch {
      if borrowed.isBroken {
        failed(error)
      } else {
        succeeded(returning: borrowed)  // an error reply: Redis itself is fine
      }
      throw error
    }
  }

  /// One command on a pooled connection.
  public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
    try withConnection { connection throws(RedisError) in try connection.command(arguments) }
  }

  public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
    try command(arguments.map { Array($0.utf8) })
  }

  /// Several commands in one round trip.
  public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
    try withConnection { connection throws(RedisError) in try connection.pipeline(commands) }
  }

  /// Whether Redis answers PING, for health checks: during a back-off the last error, without
  /// touching the network; otherwise a PING on a pooled connection.
  public func ping() -> Result<Void, RedisError> {
    do {
      let reply = try command(["PING"])
      guard reply == .status("PONG") else { return .failure(.unexpectedReply("\(reply)")) }
      return .success(())
    } catch {
      if case .backingOff = error, let last = health.lastError { return .failure(last) }
      return .failure(error)
    }
  }

  private let log = Log("redis")

  private func succeeded(returning connection: RedisConnection) {
    let recovered = state.withLock { state in
      let wasFailing = state.health.consecutiveFailures > 0
      state.health = Health()
      if !connection.isBroken, state.idle.count < options.maxIdle { state.idle.append(connection) }
      return wasFailing
    }
    if recovered { log.info("\(url) is reachable again") }
  }

  private func failed(_ error: RedisError) {
    let now = SystemClock.now()
    let isNewIncident = state.withLock { state in
      state.idle.removeAll()  // they likely share the fate of the one that broke
      state.health.consecutiveFailures += 1
      state.health.lastError = error
      let exponent = Double(min(state.health.consecutiveFailures - 1, 30))
      let delay = min(options.maxBackoff, options.initialBackoff * pow(2, exponent))
      state.health.retryAt = now + delay
      return state.health.consecutiveFailures == 1
    }
    // Once per incident, not once per call.
    if isNewIncident { log.warning("\(url): \(error); backing off and serving without it") }
  }
}
