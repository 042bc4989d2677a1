import Core
import Synchronization

/// Request state in this process: the second backend, for tests and for serving without
/// Redis (`isDurable` false: a stream whose client left is cancelled at once, and stopping
/// fails what runs, as without request state). Units apply as the Redis driver's
/// transactions do — idempotent, offsets and event numbers explicit — so the journal and
/// the request routes work the same over both. Ended requests beyond `keptEnded`, or
/// beyond `keptEndedBytes` of events, tokens and text, are forgotten, oldest first (memory
/// is bounded; Redis has its TTL and maxmemory).
final class MemoryRequestStore: RequestStore {
  struct Record {
    var spec: RequestSpec
    var status = RequestStatus.running
    var events: [[UInt8]] = []
    var progress: [ChoiceProgress?]
    var tokens: [[TokenID]]
    var texts: [[UInt8]]
    var usage: StoredUsage?
    var error: String?
    var lease: (owner: String, expires: Double)?

    /// What the record holds, roughly: its events, tokens and text.
    var byteCount: Int {
      events.reduce(0) { $0 + $1.count } + tokens.reduce(0) { $0 + 4 * $1.count }
        + texts.reduce(0) { $0 + $1.count }
    }

    init(spec: RequestSpec) {
      self.spec = spec
      progress = Array(repeating: nil, count: spec.choices)
      tokens = Array(repeating: [], count: spec.choices)
      texts = Array(repeating: [], count: spec.choices)
    }
  }

  private struct State {
    var records: [String: Record] = [:]
    var active: Set<String> = []
    /// Ended requests, oldest first, with their size when they ended.
    var ended: [(id: String, bytes: Int)] = []
    var endedBytes = 0
  }

  let owner: String
  let leaseSeconds: Double
  let keptEnded: Int
  let keptEndedBytes: Int
  let clock: any TimeSource
  private let state = Mutex(State())

  init(
    owner: String = "this-process", leaseSeconds: Double = 10, keptEnded: Int = 1024,
    keptEndedBytes: Int = 64 << 20, clock: any TimeSource = SystemClock()
  ) {
    self.owner = owner
    self.leaseSeconds = leaseSeconds
    self.keptEnded = keptEnded
    self.keptEndedBytes = keptEndedBytes
    self.clock = clock
  }

  var isDurable: Bool { false }

  func write(_ units: [JournalUnit]) throws(RequestStateError) -> [Bool] {
    let now = clock.now()
    return state.withLock { state in units.map { apply($0, to: &state, now: now) } }
  }

  private func apply(_ unit: JournalUnit, to state: inout State, now: Double) -> Bool {
    let id = unit.requestID
    if unit.checksState, state.records[id] == nil { return false }
    // Out of the dictionary while it changes, so that its arrays are extended in place, not
    // copied for every unit (a unit per token).
    var record = state.records.removeValue(forKey: id) ?? Record(spec: unit.log.spec)
    defer { state.records[id] = record }
    for (offset, payload) in unit.events.enumerated()
    where unit.firstEvent + offset == record.events.count {
      record.events.append(payload)
    }
    switch unit.kind {
    case .create:
      record.lease = (owner, now + leaseSeconds)
      state.active.insert(id)
    case .progress(let progress, let tokens, let text):
      let choice = progress.index
      Self.place(tokens, at: progress.generated - tokens.count, in: &record.tokens[choice])
      Self.place(text, at: progress.sent - text.count, in: &record.texts[choice])
      record.progress[choice] = progress
    case .end(let status, let usage, let error):
      record.status = status
      record.usage = usage ?? record.usage
      record.error = error ?? record.error
      end(id, &record, in: &state)
    case .handBack:
      record.lease = nil
    case .whole(
      let status, let progress, let tokens, let texts, let usage, let error, let ended,
      let handedBack):
      record.status = status
      record.progress = progress
      record.tokens = tokens
      record.texts = texts.map { Array($0.utf8) }
      record.usage = usage
      record.error = error
      if ended {
        end(id, &record, in: &state)
      } else {
        state.active.insert(id)
        record.lease = handedBack ? nil : (owner, now + leaseSeconds)
      }
    }
    return true
  }

  /// Writes `part` at `offset` of `whole` (as SETRANGE does: zero-filled if past the end).
  private static func place<T: BinaryInteger>(_ part: [T], at offset: Int, in whole: inout [T]) {
    guard offset >= 0 else { return }
    if whole.count < offset + part.count {
      whole.append(contentsOf: repeatElement(0, count: offset + part.count - whole.count))
    }
    whole.replaceSubrange(offset..<(offset + part.count), with: part)
  }

  private func end(_ id: String, _ record: inout Record, in state: inout State) {
    record.lease = nil
    guard state.active.remove(id) != nil else { return }
    state.ended.append((id, record.byteCount))
    state.endedBytes += record.byteCount
    while let oldest = state.ended.first, oldest.id != id,
      state.ended.count > keptEnded || state.endedBytes > keptEndedBytes
    {
      state.ended.removeFirst()
      state.endedBytes -= oldest.bytes
      state.records[oldest.id] = nil
    }
  }

  func checkLeases(_ ids: [String]) throws(RequestStateError) -> [String: LeaseCheck] {
    let now = clock.now()
    return state.withLock { state in
      var checks: [String: LeaseCheck] = [:]
      for id in ids {
        let lease = state.records[id]?.lease.flatMap { $0.expires > now ? $0 : nil }
        checks[id] = lease.map { $0.owner == owner ? .held : .lost } ?? .retaken
        if checks[id] != .lost { state.records[id]?.lease = (owner, now + leaseSeconds) }
      }
      return checks
    }
  }

  func claimOrphans(except: Set<String>) throws(RequestStateError) -> [String] {
    let now = clock.now()
    return state.withLock { state in
      state.active.subtracting(except).sorted().filter { id in
        let lease = state.records[id]?.lease
        // A lapsed lease, or this router's own from before: taken (and extended).
        guard state.records[id] != nil,
          lease.map({ $0.expires <= now || $0.owner == owner }) ?? true
        else { return false }
        state.records[id]?.lease = (owner, now + leaseSeconds)
        return true
      }
    }
  }

  func release(_ id: String) throws(RequestStateError) {
    state.withLock { state in
      state.active.remove(id)
      state.records[id]?.lease = nil
    }
  }

  func markFailed(_ id: String, reason: String) throws(RequestStateError) {
    state.withLock { state in
      guard var record = state.records[id] else { return }
      record.status = .failed
      record.error = reason
      end(id, &record, in: &state)
      state.records[id] = record
    }
  }

  func cancelOrphan(_ id: String) throws(RequestStateError) -> Bool {
    let now = clock.now()
    return state.withLock { state in
      guard var record = state.records[id], record.lease.map({ $0.expires <= now }) ?? true
      else { return false }
      record.status = .cancelled
      end(id, &record, in: &state)
      state.records[id] = record
      return true
    }
  }

  func load(_ id: String) throws(RequestStateError) -> StoredRequest {
    guard let record = state.withLock({ $0.records[id] }) else { throw .notFound(id) }
    return StoredRequest(
      spec: record.spec, status: record.status, events: record.events.count,
      progress: record.progress,
      tokens: zip(record.tokens, record.progress).map { Array($0.prefix($1?.generated ?? 0)) },
      texts: zip(record.texts, record.progress).map {
        String(decoding: $0.prefix($1?.sent ?? 0), as: UTF8.self)
      }, usage: record.usage, error: record.error)
  }

  func status(_ id: String) throws(RequestStateError) -> RequestStatus? {
    state.withLock { $0.records[id]?.status }
  }

  func events(_ id: String, from: Int, to: Int?) throws(RequestStateError) -> [(
    number: Int, payload: [UInt8]
  )] {
    guard let events = state.withLock({ $0.records[id]?.events }) else { return [] }
    let end = min(to ?? events.count, events.count)
    guard from < end else { return [] }
    return (max(from, 0)..<end).map { ($0, events[$0]) }
  }
}
