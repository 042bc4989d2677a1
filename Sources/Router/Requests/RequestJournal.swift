import Core
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
  let store: RequestStore
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

  public init(redis: RedisClient, options: Options) {
    self.options = options
    store = RequestStore(
      redis: redis, prefix: options.prefix, owner: options.owner, ttl: options.ttl,
      leaseMilliseconds: Int(options.lease * 1000))
  }

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

  /// Starts the thread; `periodic` runs on it every lease period (taking over requests).
  public func start(periodic: @escaping @Sendable () -> Void) {
    let thread = Thread { [self] in run(periodic: periodic) }
    thread.name = "tessera-journal"
    thread.start()
  }

  /// Writes what is queued and stops the thread (waits at most `timeout` seconds).
  public func stop(timeout: Double = 5) {
    shared.withLock { $0.stopping = true }
    wake.signal()
    _ = stopped.wait(timeout: .now() + timeout)
  }

  private func run(periodic: @Sendable () -> Void) {
    defer { stopped.signal() }
    var broken: [String: RequestLog] = [:]
    let renewEvery = options.lease / 3
    var nextRenewal = Clock.now() + renewEvery
    var nextScan = Clock.now()
    while true {
      let now = Clock.now()
      if now >= nextScan {
        periodic()
        nextScan = now + options.lease
      }
      let (units, leased, stopping) = shared.withLock { shared in
        defer { shared.units = [] }
        return (shared.units, shared.leased, shared.stopping)
      }
      if !units.isEmpty || !broken.isEmpty { flush(units, broken: &broken) }
      if now >= nextRenewal {
        do {
          let lost = try store.renewLeases(Array(leased.keys))
          if !lost.isEmpty {
            // Redis lost them (restarted empty?) or this router stalled: write those whole.
            log.warning("\(lost.count) request leases had lapsed; writing those requests again")
            for id in lost { broken[id] = leased[id] }
          }
        } catch {
          failures.add(1, ordering: .relaxed)
        }
        nextRenewal = now + renewEvery
      }
      if stopping && units.isEmpty { return }
      _ = wake.wait(timeout: .now() + min(renewEvery, 1))
    }
  }

  /// Writes one round of units. Requests whose units Redis did not take are written whole in
  /// a later round, instead of the units they have then.
  private func flush(_ units: [JournalUnit], broken: inout [String: RequestLog]) {
    var round: [JournalUnit] = []
    var rewritten: Set<String> = []
    if !broken.isEmpty {
      for (id, requestLog) in broken {
        round.append(requestLog.wholeUnit())
        rewritten.insert(id)
      }
    }
    round += units.filter { !rewritten.contains($0.requestID) }
    do {
      let replies = try store.redis.pipeline(round.flatMap(store.transaction))
      if let refused = replies.first(where: { $0 == .null }) {
        log.warning("a request-state transaction was refused: \(refused)")
      }
      broken = [:]
      written.add(round.count, ordering: .relaxed)
    } catch {
      failures.add(1, ordering: .relaxed)
      for unit in round { broken[unit.requestID] = unit.log }
    }
    // Shown either way: without Redis the cluster serves without persistence.
    for unit in units { unit.log.reveal(upTo: unit.visibleAfter) }
    for unit in round where rewritten.contains(unit.requestID) {
      unit.log.reveal(upTo: unit.visibleAfter)
    }
  }
}
