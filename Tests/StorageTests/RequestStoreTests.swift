import Core
import Foundation
import RedisClient
import Testing

@testable import Router

/// Request state against a real redis-server: units written as transactions and read back,
/// damaged state refused with a typed error, and which orphans a router may take.
@Suite struct RequestStoreTests {
  func store(_ server: RedisServer, owner: String = "me") -> RedisRequestStore {
    RedisRequestStore(
      redis: RedisClient(url: RedisURL(host: "127.0.0.1", port: server.port)),
      prefix: "tessera:req:v1", owner: owner, ttl: 60, leaseMilliseconds: 60_000)
  }

  static let spec = RequestSpec(
    loopID: 0xaa, endpoint: .completion, model: "m", created: 1_700_000_000, prompt: [7, 8, 9],
    maxTokens: 5, sampling: SamplingParameters(temperature: 0.7, seed: 42), stop: ["\n"],
    choices: 2, stream: true)

  func progress(choice: Int, generated: Int, token: TokenID, sent: Int) -> ChoiceProgress {
    ChoiceProgress(
      index: choice, generated: generated, token: token, detokenizerBytes: [0xE4],
      stopHeld: "a", stopped: false, produced: sent + 1, sent: sent,
      pendingLogprobs: [], finishReason: nil)
  }

  /// Writes a request's units: created, two tokens for choice 0, one for choice 1.
  func writeRunningRequest(_ store: RedisRequestStore) throws -> RequestLog {
    let log = RequestLog(spec: Self.spec, journal: .inMemory(), clock: nil)
    let units = [
      JournalUnit(log: log, firstEvent: 0, events: [], kind: .create),
      JournalUnit(
        log: log, firstEvent: 0, events: [Array("e0".utf8)],
        kind: .progress(
          progress(choice: 0, generated: 1, token: 100, sent: 2), tokens: [100],
          text: Array("He".utf8))),
      JournalUnit(
        log: log, firstEvent: 1, events: [Array("e1".utf8), Array("e2".utf8)],
        kind: .progress(
          progress(choice: 0, generated: 2, token: 101, sent: 4), tokens: [101],
          text: Array("y!".utf8))),
      JournalUnit(
        log: log, firstEvent: 3, events: [Array("e3".utf8)],
        kind: .progress(
          progress(choice: 1, generated: 1, token: 200, sent: 1), tokens: [200],
          text: Array("Z".utf8))),
    ]
    for unit in units {
      let exec = try #require(try store.redis.pipeline(store.transaction(unit)).last)
      #expect(RedisRequestStore.transactionTook(exec, checksState: unit.checksState))
    }
    return log
  }

  @Test func unitsAreReadBackAsTheyWereWritten() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let store = store(server)
    _ = try writeRunningRequest(store)
    let stored = try store.load(Self.spec.id)
    #expect(stored.spec == Self.spec && stored.status == .running && stored.events == 4)
    #expect(stored.tokens == [[100, 101], [200]] && stored.texts == ["Hey!", "Z"])
    #expect(stored.progress[0] == progress(choice: 0, generated: 2, token: 101, sent: 4))
    #expect(stored.resumePoints[1]?.tokens == [200])
    let events = try store.events(Self.spec.id, from: 0)
    #expect(events.map(\.number) == [0, 1, 2, 3])
    #expect(events.map { String(decoding: $0.payload, as: UTF8.self) } == ["e0", "e1", "e2", "e3"])
    #expect(try store.events(Self.spec.id, from: 2, to: 3).map(\.number) == [2])
    // Active, leased, and nothing of it has a TTL.
    #expect(try store.redis.command(["TTL", "tessera:req:v1:\(Self.spec.id)"]) == .integer(-1))
    #expect(
      try store.redis.command(["SISMEMBER", "tessera:req:v1:active", Self.spec.id]) == .integer(1))
  }

  @Test func theEndReleasesTheRequestAndGivesEveryKeyTheTTL() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let store = store(server)
    let log = try writeRunningRequest(store)
    let end = JournalUnit(
      log: log, firstEvent: 4, events: [EventEncoder.done],
      kind: .end(
        status: .finished, usage: StoredUsage(promptTokens: 3, completionTokens: 3), error: nil))
    _ = try store.redis.pipeline(store.transaction(end))
    // Written twice (a reply lost, the unit sent again): the same state, no duplicate event.
    _ = try store.redis.pipeline(store.transaction(end))
    let stored = try store.load(Self.spec.id)
    #expect(stored.status == .finished && stored.events == 5 && stored.usage?.completionTokens == 3)
    #expect(try store.events(Self.spec.id, from: 0).count == 5)
    #expect(
      try store.redis.command(["SISMEMBER", "tessera:req:v1:active", Self.spec.id]) == .integer(0))
    let id = Self.spec.id
    for key in ["\(id)", "\(id):events", "\(id):tokens:0", "\(id):text:1"] {
      let ttl = try store.redis.command(["TTL", "tessera:req:v1:\(key)"]).integer()
      #expect(ttl > 0 && ttl <= 60, "\(key)")
    }
    #expect(try store.redis.command(["EXISTS", "tessera:req:v1:\(id):lease"]) == .integer(0))
  }

  @Test func damagedStateIsATypedErrorNeverACrash() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let store = store(server)
    let id = Self.spec.id
    #expect(throws: RequestStateError.notFound(id)) { try store.load(id) }
    _ = try writeRunningRequest(store)
    // A token string cut short.
    _ = try store.redis.command(["SET", "tessera:req:v1:\(id):tokens:0", "abcde"])
    #expect(throws: RequestStateError.self) { try store.load(id) }
    _ = try store.redis.command(["SET", "tessera:req:v1:\(id):tokens:0", "abcd"])
    #expect {
      try store.load(id)
    } throws: { error in
      guard case RequestStateError.damaged(_, let detail) = error else { return false }
      return detail.contains("tokens")
    }
    // A spec that is not JSON, a progress that is not, a status nobody knows.
    for (field, value) in [("spec", "{\"id\":"), ("choice:0", "[]"), ("status", "dancing")] {
      _ = try writeRunningRequest(store)
      _ = try store.redis.command(["HSET", "tessera:req:v1:\(id)", field, value])
      #expect(throws: RequestStateError.self, "\(field)") { try store.load(id) }
    }
    // A stream entry that is not ours.
    _ = try store.redis.command(["XADD", "tessera:req:v1:\(id):events", "0-99", "x", "y", "z", "w"])
    #expect(throws: RequestStateError.self) { try store.events(id, from: 0) }
    // Redis gone: unavailable, not damaged.
    server.stop()
    #expect {
      try store.load(id)
    } throws: { error in
      guard case RequestStateError.unavailable = error else { return false }
      return true
    }
  }

  @Test func aUnitForStateRedisLostIsNotTaken() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let store = store(server)
    let log = RequestLog(spec: Self.spec, journal: .inMemory(), clock: nil)
    // Redis restarted empty: the request's hash is gone, so a progress unit must not count.
    let unit = JournalUnit(
      log: log, firstEvent: 7, events: [Array("e7".utf8)],
      kind: .progress(
        progress(choice: 0, generated: 3, token: 1, sent: 3), tokens: [1], text: Array("x".utf8)))
    let exec = try #require(try store.redis.pipeline(store.transaction(unit)).last)
    #expect(!RedisRequestStore.transactionTook(exec, checksState: true))
    #expect(
      !RedisRequestStore.transactionTook(
        .error("EXECABORT Transaction discarded"), checksState: false))
  }

  @Test func leasesAreRenewedRetakenOrGivenUpNeverStolen() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let me = store(server)
    _ = try me.redis.command(["SET", "tessera:req:v1:held:lease", "me"])
    _ = try me.redis.command(["SET", "tessera:req:v1:taken:lease", "other"])
    let checks = try me.checkLeases(["held", "vanished", "taken"])
    #expect(checks == ["held": .held, "vanished": .retaken, "taken": .lost])
    #expect(
      try me.redis.command(["GET", "tessera:req:v1:taken:lease"]) == .string(Array("other".utf8)))
    #expect(try me.redis.command(["PTTL", "tessera:req:v1:vanished:lease"]).integer() > 0)
    #expect(try me.redis.command(["PTTL", "tessera:req:v1:held:lease"]).integer() > 0)
  }

  /// A lease check Redis answers with an error (here: the key holds a hash) failed; it never
  /// means another router holds the lease (that would stop a request for nothing).
  @Test func aLeaseCheckRedisRefusesIsAFailureNotALoss() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let me = store(server)
    _ = try me.redis.command(["HSET", "tessera:req:v1:odd:lease", "f", "v"])
    #expect(throws: RequestStateError.self) { try me.checkLeases(["odd"]) }
  }

  @Test func orphansAreTakenOnlyWithoutALiveLeaseOrFromAnEarlierSelf() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let me = store(server)
    let other = store(server, owner: "other")
    for id in ["lapsed", "others", "mine-before", "running-here"] {
      _ = try me.redis.command(["SADD", "tessera:req:v1:active", id])
    }
    _ = try me.redis.command(["SET", "tessera:req:v1:others:lease", "other"])
    _ = try me.redis.command(["SET", "tessera:req:v1:mine-before:lease", "me"])
    _ = try me.redis.command(["SET", "tessera:req:v1:running-here:lease", "me"])
    let taken = try me.claimOrphans(except: ["running-here"])
    #expect(Set(taken) == ["lapsed", "mine-before"])
    #expect(
      try me.redis.command(["GET", "tessera:req:v1:lapsed:lease"]) == .string(Array("me".utf8)))
    // Taken once: another router finds nothing left to take.
    #expect(try other.claimOrphans(except: []) == ["others"])  // its own earlier self's
    #expect(try me.redis.command(["PTTL", "tessera:req:v1:lapsed:lease"]).integer() > 0)
  }
}
