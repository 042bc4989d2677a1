import Core
import Foundation
import RedisClient
import TestSupport
import Testing

@testable import Router

/// The journal with a real redis-server: a reader never holds an event Redis lacks, and a
/// request whose units Redis could not take is written whole once Redis is back.
@Suite struct RequestJournalTests {
  static let spec = RequestSpec(
    loopID: 0xbb, endpoint: .completion, model: "m", created: 1_700_000_000, prompt: [5, 6],
    maxTokens: 40, sampling: SamplingParameters(temperature: 0.7, seed: 1), stream: true)

  /// A journal on the Redis at `port`. `commandTimeout` is short for the test that takes Redis
  /// away; the others give a loaded machine room (the whole suite runs at once, and on two
  /// cores redis-server can wait seconds for one), since a command that times out counts
  /// Redis as failing and shows events it does not have yet.
  /// The lease is long for the same reason: renewals are every third of it, and a lease that
  /// lapses on a stalled machine makes the next write refused (and its events shown anyway).
  /// So is the TTL a finished request keeps: under the whole suite this test's task has waited
  /// over 60 s to run again, by which time a 60 s TTL had expired every key it then looked for
  /// (CI: no failed call, nothing evicted, an empty Redis).
  func journal(port: Int, commandTimeout: Double = 60) -> RequestJournal {
    RequestJournal(
      redis: RedisClient(
        url: RedisURL(host: "127.0.0.1", port: port),
        options: .init(
          connectTimeout: min(commandTimeout, 30), commandTimeout: commandTimeout,
          initialBackoff: 0.05, maxBackoff: 0.2)),
      options: .init(owner: "test", ttl: 3_600, lease: 30))
  }

  /// What else the Redis on `port` holds and who is connected (for a failure's message).
  static func whoElse(port: Int) -> String {
    let redis = RedisClient(url: RedisURL(host: "127.0.0.1", port: port))
    func text(_ command: [String]) -> String {
      guard case .string(let bytes)? = try? redis.command(command) else { return "?" }
      return String(decoding: bytes, as: UTF8.self)
    }
    let keys = (try? redis.command(["DBSIZE"])).map { "\($0)" } ?? "?"
    let clients = text(["CLIENT", "LIST"]).split(separator: "\n").count
    let evicted =
      text(["INFO", "stats"]).split(whereSeparator: \.isNewline)
      .first { $0.hasPrefix("evicted_keys:") } ?? "?"
    return "keys \(keys), \(clients) clients, \(evicted)"
  }

  /// Token `n` of a run: its delta and its checkpoint.
  func sendToken(_ n: Int, to log: RequestLog) {
    let sent = (0...n).map { "t\($0) ".utf8.count }.reduce(0, +)
    log.send(.delta(choice: 0, text: "t\(n) ", logprobs: []))
    log.send(
      .checkpoint(
        ChoiceProgress(
          index: 0, generated: n + 1, token: TokenID(100 + n), detokenizerBytes: [], stopHeld: "",
          stopped: false, produced: sent, sent: sent, pendingLogprobs: [],
          finishReason: nil)))
  }

  @Test func aReaderNeverHoldsAnEventRedisLacks() async throws {
    // No eviction: under the whole suite a client of another test that lost its own Redis
    // could reach this one (a port taken again) and fill it; its writes then fail, and ours
    // stay.
    let server = try RedisServer(extraArguments: ["--maxmemory-policy", "noeviction"])
    defer { server.stop() }
    let journal = journal(port: server.port)
    journal.start(periodic: {}, lost: { _ in })
    defer { journal.stop() }
    let log = RequestLog(spec: Self.spec, journal: journal, clock: nil)
    for n in 0..<20 { sendToken(n, to: log) }
    log.send(.done(promptTokens: 2, completionTokens: 20))
    var last = -1
    var reads = 0
    while true {
      let batch = await log.read(after: last)
      last = batch.first + batch.payloads.count - 1
      reads += 1
      // Whatever a reader got, Redis had already.
      let stored = try journal.store.events(Self.spec.id, from: 0)
      #expect(
        stored.count >= last + 1,
        "read up to \(last), Redis has \(stored.count); failures \(journal.failures.load(ordering: .relaxed)); \(Self.whoElse(port: server.port))"
      )
      if batch.ended { break }
    }
    #expect(last == 20)  // 20 deltas and [DONE]
    // What this test claims holds while Redis answers: had a call failed, the journal would
    // rightly have shown events first (the other test).
    #expect(server.isRunning, "redis-server on \(server.port) is gone")
    #expect(journal.failures.load(ordering: .relaxed) == 0, "a Redis call failed")
    let record = try journal.store.load(Self.spec.id)
    #expect(record.status == .finished && record.tokens[0] == (0..<20).map { TokenID(100 + $0) })
    #expect(record.texts[0] == (0..<20).map { "t\($0) " }.joined())
  }

  @Test func withRedisDownEventsAreShownAndTheRequestIsWrittenWholeWhenItIsBack() async throws {
    // Held (bound, not listening: connections are refused) while Redis is "down", so that no
    // other test's server takes the port meanwhile.
    let reservation = try ReservedPort()
    let port = reservation.port
    let journal = journal(port: port, commandTimeout: 1)
    journal.start(periodic: {}, lost: { _ in })
    defer { journal.stop() }
    let log = RequestLog(spec: Self.spec, journal: journal, clock: nil)
    for n in 0..<5 { sendToken(n, to: log) }
    // Nothing listens on the port: the events are shown anyway.
    let batch = await log.read(after: -1)
    #expect(batch.first == 0 && batch.payloads.count >= 1)
    reservation.release()
    let server = try RedisServer(port: port)
    defer { server.stop() }
    for n in 5..<8 { sendToken(n, to: log) }
    let deadline = Date().addingTimeInterval(30)
    var record: StoredRequest?
    while Date() < deadline {
      if let loaded = try? journal.store.load(Self.spec.id), loaded.tokens[0].count == 8 {
        record = loaded
        break
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    let whole = try #require(record, "the request was never written whole")
    #expect(whole.spec == Self.spec && whole.status == .running && whole.events == 8)
    #expect(try journal.store.events(Self.spec.id, from: 0).count == 8)
    #expect(
      try (journal.store as? RedisRequestStore)?.redis.command([
        "GET", "tessera:req:v1:\(Self.spec.id):lease",
      ])
        == .string(Array("test".utf8)))
  }
}
