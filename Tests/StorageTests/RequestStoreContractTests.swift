import Core
import Foundation
import RedisClient
import Testing

@testable import Router

/// What both request-state drivers promise, run against each: a real redis-server of the
/// test's own, and the in-process store.
@Suite struct RequestStoreContractTests {
  enum Driver: String, CaseIterable, CustomStringConvertible {
    case redis, memory
    var description: String { rawValue }
  }

  /// A store of `driver` and what to stop when the test ends.
  func store(_ driver: Driver) throws -> (store: any RequestStore, stop: () -> Void) {
    switch driver {
    case .redis:
      let server = try RedisServer()
      let store = RedisRequestStore(
        redis: RedisClient(url: RedisURL(host: "127.0.0.1", port: server.port)),
        prefix: "tessera:req:v1", owner: "me", ttl: 60, leaseMilliseconds: 60_000)
      return (store, server.stop)
    case .memory:
      return (MemoryRequestStore(owner: "me"), {})
    }
  }

  static let spec = RequestStoreTests.spec

  func units(_ log: RequestLog) -> [JournalUnit] {
    let tests = RequestStoreTests()
    return [
      JournalUnit(log: log, firstEvent: 0, events: [], kind: .create),
      JournalUnit(
        log: log, firstEvent: 0, events: [Array("e0".utf8)],
        kind: .progress(
          tests.progress(choice: 0, generated: 1, token: 100, sent: 2), tokens: [100],
          text: Array("He".utf8))),
      JournalUnit(
        log: log, firstEvent: 1, events: [Array("e1".utf8), Array("e2".utf8)],
        kind: .progress(
          tests.progress(choice: 0, generated: 2, token: 101, sent: 4), tokens: [101],
          text: Array("y!".utf8))),
      JournalUnit(
        log: log, firstEvent: 3, events: [Array("e3".utf8)],
        kind: .progress(
          tests.progress(choice: 1, generated: 1, token: 200, sent: 1), tokens: [200],
          text: Array("Z".utf8))),
    ]
  }

  @Test(arguments: Driver.allCases) func unitsAreReadBackAndWritingTwiceChangesNothing(
    driver: Driver
  ) throws {
    let (store, stop) = try store(driver)
    defer { stop() }
    let log = RequestLog(spec: Self.spec, journal: .inMemory(), clock: nil)
    #expect(try store.write(units(log)) == [true, true, true, true])
    #expect(try store.write(Array(units(log).dropFirst())) == [true, true, true])  // again
    let stored = try store.load(Self.spec.id)
    #expect(stored.spec == Self.spec && stored.status == .running && stored.events == 4)
    #expect(stored.tokens == [[100, 101], [200]] && stored.texts == ["Hey!", "Z"])
    #expect(try store.events(Self.spec.id, from: 0).map(\.number) == [0, 1, 2, 3])
    #expect(try store.events(Self.spec.id, from: 2, to: 3).map(\.number) == [2])
    let end = JournalUnit(
      log: log, firstEvent: 4, events: [EventEncoder.done],
      kind: .end(
        status: .finished, usage: StoredUsage(promptTokens: 3, completionTokens: 3), error: nil))
    #expect(try store.write([end, end]) == [true, true])
    let ended = try store.load(Self.spec.id)
    #expect(ended.status == .finished && ended.events == 5 && ended.usage?.completionTokens == 3)
    #expect(try store.status(Self.spec.id) == .finished)
    #expect(try store.claimOrphans(except: []).isEmpty)  // ended: nobody's to take
  }

  @Test(arguments: Driver.allCases) func aUnitForStateTheStoreLostIsRefused(driver: Driver)
    throws
  {
    let (store, stop) = try store(driver)
    defer { stop() }
    let log = RequestLog(spec: Self.spec, journal: .inMemory(), clock: nil)
    #expect(try store.write([units(log)[1]]) == [false])
    // No usable record either way (Redis ran the transaction's other commands: a fragment
    // that reads as damaged; the memory store wrote nothing).
    #expect(throws: RequestStateError.self) { try store.load(Self.spec.id) }
    #expect(try store.status("nobody") == nil)
    #expect(try store.events("nobody", from: 0).isEmpty)
  }

  @Test(arguments: Driver.allCases) func aRequestWhoseStateCannotBeUsedEndsFailed(driver: Driver)
    throws
  {
    let (store, stop) = try store(driver)
    defer { stop() }
    let log = RequestLog(spec: Self.spec, journal: .inMemory(), clock: nil)
    _ = try store.write(units(log))
    try store.markFailed(Self.spec.id, reason: "damaged")
    let stored = try store.load(Self.spec.id)
    #expect(stored.status == .failed && stored.error == "damaged")
  }
}

/// The in-process store's own rules: leases expire on its clock, and memory stays bounded.
@Suite struct MemoryRequestStoreTests {
  @Test func aLapsedLeaseIsClaimedOnceAndALiveOneNever() throws {
    let clock = ManualClock()
    let store = MemoryRequestStore(owner: "me", leaseSeconds: 10, clock: clock)
    let log = RequestLog(spec: RequestStoreTests.spec, journal: .inMemory(), clock: nil)
    _ = try store.write([JournalUnit(log: log, firstEvent: 0, events: [], kind: .create)])
    let id = RequestStoreTests.spec.id
    #expect(try store.checkLeases([id]) == [id: .held])
    #expect(try !store.cancelOrphan(id))  // someone (this router) runs it
    clock.advance(by: 11)
    #expect(try store.checkLeases([id]) == [id: .retaken])
    clock.advance(by: 11)
    #expect(try store.claimOrphans(except: []) == [id])
    #expect(try store.claimOrphans(except: [id]).isEmpty)
    clock.advance(by: 11)
    #expect(try store.cancelOrphan(id))
    #expect(try store.status(id) == .cancelled)
  }

  @Test(arguments: [(2, 1 << 20), (100, 40)])
  func endedRequestsBeyondTheBoundAreForgottenOldestFirst(count: Int, bytes: Int) throws {
    // Each request ends with one 16-byte event: 2 requests or 40 bytes keep the last two.
    let store = MemoryRequestStore(keptEnded: count, keptEndedBytes: bytes)
    var ids: [String] = []
    for loopID in UInt64(1)...3 {
      var spec = RequestStoreTests.spec
      spec.loopID = loopID
      spec.id = RequestSpec.responseID(loopID, endpoint: .completion)
      ids.append(spec.id)
      let log = RequestLog(spec: spec, journal: .inMemory(), clock: nil)
      _ = try store.write([
        JournalUnit(log: log, firstEvent: 0, events: [], kind: .create),
        JournalUnit(
          log: log, firstEvent: 0, events: [Array(repeating: 0x61, count: 16)],
          kind: .end(status: .finished, usage: nil, error: nil)),
      ])
    }
    #expect(try store.status(ids[0]) == nil)
    #expect(try store.status(ids[1]) == .finished && store.status(ids[2]) == .finished)
  }
}
