import Core
import Foundation
import RedisClient
import Router
import TestSupport
import Testing

/// The Redis client against a real `redis-server` of each test's own (free port, temp dir).
@Suite struct RedisClientTests {
  func client(_ server: RedisServer, password: String? = nil, user: String? = nil)
    -> RedisClient
  {
    RedisClient(
      url: RedisURL(host: "127.0.0.1", port: server.port, user: user, password: password),
      options: .init(commandTimeout: 0.5, initialBackoff: 0.05, maxBackoff: 0.2))
  }

  @Test func urlsParseAndHideTheirPassword() throws {
    let full = try RedisURL("redis://alice:s%40cret@cache.local:6380/3")
    #expect(
      full
        == RedisURL(host: "cache.local", port: 6380, user: "alice", password: "s@cret", database: 3)
    )
    #expect(full.description == "redis://alice:***@cache.local:6380/3")
    #expect(try RedisURL("redis://:pw@h").user == nil)
    #expect(try RedisURL("redis://h") == RedisURL(host: "h"))
    for bad in ["http://h", "redis://", "redis://h/x", "redis://h:0", "not a url"] {
      #expect(throws: RedisError.self, "\(bad)") { try RedisURL(bad) }
    }
  }

  @Test func binaryValuesPipelinesAndErrorRepliesRoundTrip() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let redis = client(server)
    let value: [UInt8] = [0, 1, 2, 255, 0, 13, 10]
    #expect(try redis.command([Array("SET".utf8), Array("k\u{0}ey".utf8), value]) == .status("OK"))
    let replies = try redis.pipeline([
      [Array("GET".utf8), Array("k\u{0}ey".utf8)], [Array("GET".utf8), Array("missing".utf8)],
      [Array("INCR".utf8), Array("k\u{0}ey".utf8)], [Array("INCR".utf8), Array("n".utf8)],
    ])
    #expect(try replies[0].bytes() == value)
    #expect(try replies[1].bytes() == nil)
    guard case .error(let message) = replies[2] else {
      Issue.record("INCR on bytes should fail: \(replies[2])")
      return
    }
    #expect(message.contains("not an integer"))
    #expect(try replies[3].integer() == 1)  // an error reply does not spoil the pipeline
    #expect(redis.health.consecutiveFailures == 0)
  }

  @Test func passwordsAndACLUsersLogIn() throws {
    let server = try RedisServer(extraArguments: ["--requirepass", "hunter2"])
    defer { server.stop() }
    #expect(throws: RedisError.self) { try client(server).command(["SET", "a", "1"]).ok() }
    #expect(throws: RedisError.self) { try client(server, password: "wrong").command(["PING"]) }
    let admin = client(server, password: "hunter2")
    try admin.command(["SET", "a", "1"]).ok()
    try admin.command(["ACL", "SETUSER", "alice", "on", ">open sesame", "~*", "+@all"]).ok()
    #expect(
      try client(server, password: "open sesame", user: "alice").command(["GET", "a"]).bytes()
        == Array("1".utf8))
  }

  @Test func aSlowCommandTimesOutAndTheConnectionIsReplaced() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let redis = client(server)
    // BLPOP would answer nil after 5 s; the 0.5 s command timeout breaks the connection first.
    #expect(throws: RedisError.self) { try redis.command(["BLPOP", "empty", "5"]) }
    // After the back-off a fresh connection works.
    let reply = try waitForSuccess { try redis.command(["PING"]) }
    #expect(reply == .status("PONG"))
  }

  @Test func aRedisThatGoesAwayIsBackedOffAndUsedAgainWhenItReturns() throws {
    let server = try RedisServer()
    let port = server.port
    let redis = RedisClient(
      url: RedisURL(host: "127.0.0.1", port: port),
      options: .init(initialBackoff: 0.5, maxBackoff: 1))
    try redis.command(["SET", "before", "1"]).ok()
    server.stop()
    let held = try ReservedPort(port: port)  // no other test's Redis may take it meanwhile
    #expect(throws: RedisError.self) { try redis.command(["GET", "before"]) }
    #expect(redis.health.consecutiveFailures == 1)
    // Calls during the back-off fail at once, without touching the network.
    do {
      _ = try redis.command(["PING"])
      Issue.record("a call during the back-off should fail")
    } catch {
      guard case .backingOff = error else {
        Issue.record("expected backingOff, got \(error)")
        return
      }
    }
    guard case .failure = redis.ping() else {
      Issue.record("PING should fail while Redis is down")
      return
    }
    held.release()
    let again = try RedisServer(port: port)
    defer { again.stop() }
    let reply = try waitForSuccess { try redis.command(["SET", "after", "2"]) }
    #expect(reply == .status("OK"))
    #expect(redis.health.consecutiveFailures == 0)
  }

  /// Retries `body` until it succeeds (the client's back-off ends within a second here).
  func waitForSuccess<R>(_ body: () throws -> R) throws -> R {
    let deadline = SystemClock.now() + 10
    while true {
      do { return try body() } catch {
        if SystemClock.now() > deadline { throw error }
        usleep(20_000)
      }
    }
  }
}
