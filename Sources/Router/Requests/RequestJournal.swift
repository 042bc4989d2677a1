public import Core
import Foundation
public import RedisClient
import Synchronization

/// Writes request state to Redis on a thread of its own, so neither the serving loop nor the
/// HTTP threads ever wait for Redis: units queue here, and each round writes all of them in
/// one pipeline of MULTI/EXEC transactions, then lets readers see their events. The same
/// thread renews this router's leases and, every lease period, looks for requests to take
/// over.
///
/// When Redis fails, the round's events are shown anyway (serving goes on without
/// persistence), the requests concerned are remembered, and once Redis answers again each is
/// written whole — nothing is lost unless this router dies while Redis is down.
public final class RequestJournal: Sendable {
  public struct Options: Sendable {
    /// This router's name in leases: a router restarted under the same name takes its
    /// unfinished requests back at once; others wait for the lease to expire.
    public var owner: String
    /// Seconds a finished request's state is kept.
    public var ttl: Int
    /// Seconds a lease lasts without renewal (renewed every third of it).
    public var lease: Double
    public var prefix: String

    public init(
      owner: String, ttl: Int = 86_400, lease: Double = 10, prefix: String = "tessera:req:v1"
    ) {
      self.owner = owner
      self.ttl = ttl
      self.lease = lease
      self.prefix = prefix
    }
  }

  public let options: Options
  let store: any RequestStore
  /// What lease renewals and scans are timed by.
  let clock: any TimeSource
  private let log = Log("requests")
  private let wake = DispatchSemaphore(value: 0)
  private let stopped = DispatchSemaphore(value: 0)

  private struct Shared {
    var units: [JournalUnit] = []
    /// Unfinished requests this router holds a lease on.
    var leased: [String: RequestLog] = [:]
    var stopping = false
  }
  private let shared = Mutex(Shared())
  /// Figures for /metrics.
  let written = Atomic<Int>(0)
  let failures = Atomic<Int>(0)
  let takeovers = Atomic<Int>(0)

  /// Request state in Redis (the real store).
  public convenience init(
    redis: RedisClient, options: Options, clock: any TimeSource = SystemClock()
  ) {
    self.init(
      store: RedisRequestStore(
        redis: redis, prefix: options.prefix, owner: options.owner, ttl: options.ttl,
        leaseMilliseconds: Int(options.lease * 1000)),
      options: options, clock: clock)
  }

  /// Request state in this process (serving without Redis, and tests).
  public static func inMemory(
    options: Options = Options(owner: "this-process"), clock: any TimeSource = SystemClock()
  ) -> RequestJournal {
    RequestJournal(
      store: MemoryRequestStore(owner: options.owner, leaseSeconds: options.lease, clock: clock),
      options: options, clock: clock)
  }

  init(store: any RequestStore, options: Options, clock: any TimeSource) {
    self.options = options
    self.store = store
    self.clock = clock
  }

  /// Whether request state outlives this process.
  public var isDurable: Bool { store.isDurable }

  /// Queues a unit; its events become readable once it is written (or failed).
  func write(_ unit: JournalUnit) {
    shared.withLock { shared in
      switch unit.kind {
      case .create: shared.leased[unit.requestID] = unit.log
      case .end, .handBack: shared.leased[unit.requestID] = nil
      default: break
      }
      shared.units.append(unit)
    }
    wake.signal()
  }

  /// Notes a request taken over (its lease is this router's now).
  func holdLease(_ requestLog: RequestLog) {
    shared.withLock { $0.leased[requestLog.spec.id] = requestLog }
  }

  /// Gives up a request whose stored state cannot be used (reported failed from then on).
  func abandon(_ id: String, reason: String) {
    do {
      try store.markFailed(id, reason: reason)
    } catch {
      failures.add(1, ordering: .relaxed)
    }
  }

  /// The unfinished requests this router holds.
  var leasedIDs: Set<String> { shared.withLock { Set($0.leased.keys) } }

  /// Starts the thread. `periodic` runs every lease period on a queue of its own (taking
  /// requests over: it may wait on Redis and on fragment loads); `lost` is called for a
  /// request whose lease another router holds now (this router stalled past its lease): it
  /// must stop running it.
  public func start(
    periodic: @escaping @Sendable () -> Void, lost: @escaping @Sendable (String) -> Void
  ) {
    let thread = Thread { [self] in run(periodic: periodic, lost: lost) }
    thread.name = "tessera-journal"
    thread.start()
  }

  /// Writes what is queued and stops the thread (waits at most `timeout` seconds).
  public func stop(timeout: Double = 5) {
    shared.withLock { $0.stopping = true }
    wake.signal()
    _ = stopped.wait(timeout: .now() + timeout)
  }

  private func run(
    periodic: @escaping @Sendable () -> Void, lost: @escaping @Sendable (String) -> Void
  ) {
    defer { stopped.signal() }
    let scans = DispatchQueue(label: "tessera.requests.takeover")
    let scanning = Atomic<Bool>(false)
    var broken: [String: RequestLog] = [:]
    let renewEvery = options.lease / 3
    var nextRenewal = clock.now() + renewEvery
    var nextScan = clock.now()
    var nextRewrite = clock.now()
    while true {
      let now = clock.now()
      let (units, leased, stopping) = shared.withLock { shared in
        defer { shared.units = [] }
        return (shared.units, shared.leased, shared.stopping)
      }
      if now >= nextScan, !stopping, !scanning.exchange(true, ordering: .acquiring) {
        scans.async {
          periodic()
          scanning.store(false, ordering: .releasing)
        }
        nextScan = now + options.lease
      }
      // Requests Redis did not take are written whole, at most once a second while it fails.
      let rewrite = !broken.isEmpty && now >= nextRewrite
      if rewrite { nextRewrite = now + 1 }
      if !units.isEmpty || rewrite {
        flush(units, broken: &broken, rewrite: rewrite, lost: lost)
      }
      if now >= nextRenewal {
        renew(leased, broken: &broken, lost: lost)
        nextRenewal = now + renewEvery
      }
      if stopping && units.isEmpty { return }
      _ = wake.wait(timeout: .now() + min(renewEvery, 1))
    }
  }

  /// Extends this router's leases; a lease that vanished (Redis restarted empty, or expired
  /// while this router stalled) is taken again and its request written whole; one another
  /// router holds now is given up.
  private func renew(
    _ leased: [String: RequestLog], broken: inout [String: RequestLog],
    lost: @Sendable (String) -> Void
  ) {
    guard !leased.isEmpty else { return }
    do {
      let checks = try store.checkLeases(Array(leased.keys))
      let retaken = checks.filter { $0.value == .retaken }.map(\.key)
      if !retaken.isEmpty {
        log.warning("\(retaken.count) request leases had vanished; writing those requests again")
        for id in retaken { broken[id] = leased[id] }
      }
      for (id, check) in checks where check == .lost { giveUp(id, broken: &broken, lost: lost) }
    } catch {
      failures.add(1, ordering: .relaxed)
    }
  }

  private func giveUp(
    _ id: String, broken: inout [String: RequestLog], lost: (String) -> Void
  ) {
    log.warning("request \(id): another router holds its lease now; stopping it here")
    shared.withLock { $0.leased[id] = nil }
    broken[id] = nil
    lost(id)
  }

  /// Writes one round of units, each a transaction. A request whose unit Redis did not take
  /// (Redis down, the transaction refused, or its state missing — Redis restarted empty) is
  /// written whole in a later round; its units wait for that (they are shown anyway).
  private func flush(
    _ units: [JournalUnit], broken: inout [String: RequestLog], rewrite: Bool,
    lost: (String) -> Void
  ) {
    var round: [JournalUnit] = []
    if rewrite {
      do {
        // Only requests still ours: another router may have taken one over meanwhile.
        let checks = try store.checkLeases(Array(broken.keys))
        for (id, requestLog) in broken {
          if checks[id] == .lost {
            giveUp(id, broken: &broken, lost: lost)
          } else {
            round.append(requestLog.wholeUnit())
          }
        }
      } catch {
        failures.add(1, ordering: .relaxed)
      }
    }
    let rewritten = Set(round.map(\.requestID))
    round += units.filter { broken[$0.requestID] == nil }
    if !round.isEmpty {
      do {
        let took = try store.write(round)
        for (unit, took) in zip(round, took) {
          if took {
            if rewritten.contains(unit.requestID) { broken[unit.requestID] = nil }
            written.add(1, ordering: .relaxed)
          } else {
            broken[unit.requestID] = unit.log
          }
        }
        if round.contains(where: { broken[$0.requestID] != nil }) {
          failures.add(1, ordering: .relaxed)
        }
      } catch {
        failures.add(1, ordering: .relaxed)
        for unit in round { broken[unit.requestID] = unit.log }
      }
    }
    // Shown either way: without Redis the cluster serves without persistence.
    for unit in units { unit.log.reveal(upTo: unit.visibleAfter) }
    for unit in round where rewritten.contains(unit.requestID) {
      unit.log.reveal(upTo: unit.visibleAfter)
    }
  }
}
