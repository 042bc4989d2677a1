import Core
import Foundation
import Synchronization

/// How a request stands.
public enum RequestStatus: String, Sendable, Codable {
  case running, finished, cancelled, failed
}

/// A request's result so far: what `GET /v1/requests/{id}` reports and what a non-streaming
/// response is made of.
struct RequestResult: Sendable {
  var status = RequestStatus.running
  var texts: [String]
  var tokens: [[TokenID]]
  var logprobs: [[TokenLogprob]]
  var reasons: [FinishReason?]
  var usage: StoredUsage?
  var failure: APIError?

  init(choices: Int) {
    texts = Array(repeating: "", count: choices)
    tokens = Array(repeating: [], count: choices)
    logprobs = Array(repeating: [], count: choices)
    reasons = Array(repeating: nil, count: choices)
  }
}

/// Prompt and completion token counts, as the end of a request records them.
struct StoredUsage: Sendable, Codable, Equatable {
  var promptTokens: Int
  var completionTokens: Int
}

/// One request's events and result as every reader sees them. The serving loop sends its
/// events here; each is encoded once as an SSE payload and numbered 0, 1, 2, …; with request
/// state on, the events go to Redis in units that end at a checkpoint (a choice's state after
/// a token) or at the end, and readers see an event only once Redis took its unit — or failed
/// to (then the request is served without persistence and written whole when Redis is back).
/// Readers are the first response and any resumed stream.
final class RequestLog: GenerationSink {
  struct Batch: Sendable {
    /// The number of the first payload (greater than asked for when the earlier ones were
    /// written by another router: they are in Redis only).
    var first: Int
    var payloads: [[UInt8]]
    /// The last payload is the stream's last.
    var ended: Bool
  }

  let spec: RequestSpec
  let journal: RequestJournal
  private let state: Mutex<State>

  struct State {
    var encoder: EventEncoder
    /// Events numbered before this were written by an earlier owner (Redis has them).
    var firstEvent: Int
    var payloads: [[UInt8]] = []
    /// Events numbered below this may be read.
    var visible: Int
    /// Events numbered below this went to the journal.
    var recorded: Int
    var ended = false
    /// Ended here without an end: handed back at shutdown, or lost to another router.
    var handedBack = false
    var result: RequestResult
    /// Each choice's state at its last checkpoint: also how many of its tokens and text bytes
    /// the journal has (`generated`, `sent`).
    var progress: [ChoiceProgress?]
    var clock: TokenClock?
    var waiters: [CheckedContinuation<Void, Never>] = []
    var listeners = 0
    var departures = 0

    var total: Int { firstEvent + payloads.count }
  }

  /// A new request: its opening events are recorded with its spec.
  init(spec: RequestSpec, journal: RequestJournal, clock: TokenClock?) {
    self.spec = spec
    self.journal = journal
    let encoder = EventEncoder(spec: spec)
    let opening = encoder.opening(choices: spec.choices)
    state = Mutex(
      State(
        encoder: encoder, firstEvent: 0, payloads: opening,
        visible: 0, recorded: opening.count,
        result: RequestResult(choices: spec.choices),
        progress: Array(repeating: nil, count: spec.choices), clock: clock))
    journal.write(JournalUnit(log: self, firstEvent: 0, events: opening, kind: .create))
  }

  /// A request taken over from Redis: it carries on after the stored events.
  init(stored: StoredRequest, journal: RequestJournal) {
    spec = stored.spec
    self.journal = journal
    var encoder = EventEncoder(spec: stored.spec)
    encoder.logprobOffsets = stored.progress.map { $0?.logprobOffset ?? 0 }
    var result = RequestResult(choices: stored.spec.choices)
    result.texts = stored.texts
    result.tokens = stored.tokens
    result.reasons = stored.progress.map { $0?.finishReason }
    state = Mutex(
      State(
        encoder: encoder, firstEvent: stored.events, visible: stored.events,
        recorded: stored.events, result: result, progress: stored.progress, clock: nil))
  }

  // MARK: The serving loop's side

  func send(_ event: GenerationEvent) {
    let unit = state.withLock { state -> JournalUnit? in
      guard !state.handedBack else { return nil }
      let closes = state.absorb(event)
      state.encoder.append(event, to: &state.payloads)
      return closes.map { closingUnit($0, &state) }
    }
    if let unit { journal.write(unit) }
  }

  /// The loop let the request go without an end event: it was cancelled.
  func end() {
    let unit = state.withLock { state -> JournalUnit? in
      guard !state.ended else { return nil }
      state.ended = true
      state.result.status = .cancelled
      state.payloads.append(EventEncoder.done)
      return closingUnit(state.endKind, &state)
    }
    if let unit { journal.write(unit) }
  }

  /// The router stops: readers' streams end here without `[DONE]` (a client resumes from
  /// another router, or this one restarted); in Redis the request stays unfinished and
  /// loses its lease. Without request state it fails.
  func handBack() {
    guard journal.isDurable else {
      send(.failed(.shuttingDown))
      return end()
    }
    let unit = state.withLock { state -> JournalUnit? in
      guard !state.ended else { return nil }
      state.ended = true
      state.handedBack = true
      return closingUnit(.handBack, &state)
    }
    if let unit { journal.write(unit) }
  }

  /// Another router took the request over (this one stalled past its lease): nothing more is
  /// written from here, and readers' streams end without `[DONE]` (they resume there).
  func disown() {
    let waiters = state.withLock { state in
      state.ended = true
      state.handedBack = true
      return state.takeWaiters()
    }
    for waiter in waiters { waiter.resume() }
  }

  /// The events since the last unit, closed by a unit of `kind`.
  private func closingUnit(_ kind: JournalUnit.Kind, _ state: inout State) -> JournalUnit {
    let first = state.recorded
    state.recorded = state.total
    return JournalUnit(
      log: self, firstEvent: first, events: Array(state.payloads[(first - state.firstEvent)...]),
      kind: kind)
  }

  /// The journal wrote (or failed to write) the events below `count`: readers may see them.
  func reveal(upTo count: Int) {
    let waiters = state.withLock { state in
      state.visible = max(state.visible, count)
      return state.takeWaiters()
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Everything recorded so far as one unit (events, tokens and text up to each choice's last
  /// checkpoint): after Redis failed to take some units, to write the request whole when
  /// Redis answers again.
  func wholeUnit() -> JournalUnit {
    state.withLock { state in
      let texts = state.result.texts.enumerated().map { choice, text in
        String(decoding: text.utf8.prefix(state.progress[choice]?.sent ?? 0), as: UTF8.self)
      }
      let tokens = state.result.tokens.enumerated().map { choice, tokens in
        Array(tokens.prefix(state.progress[choice]?.generated ?? 0))
      }
      return JournalUnit(
        log: self, firstEvent: state.firstEvent,
        events: Array(state.payloads.prefix(state.recorded - state.firstEvent)),
        kind: .whole(
          status: state.ended ? state.result.status : .running, progress: state.progress,
          tokens: tokens, texts: texts, usage: state.result.usage,
          error: state.result.failure?.message,
          ended: state.ended && !state.handedBack && state.recorded == state.total,
          handedBack: state.handedBack))
    }
  }

  typealias Waiter = CheckedContinuation<Void, Never>

  // MARK: Readers

  /// The events after number `after` (-1: from the first), waiting until there is at least
  /// one or the stream has ended.
  func read(after: Int) async -> Batch {
    while true {
      if let batch = state.withLock({ $0.batch(after: after) }) { return batch }
      await withCheckedContinuation { continuation in
        let ready = state.withLock { state in
          if state.batch(after: after) != nil { return true }
          state.waiters.append(continuation)
          return false
        }
        if ready { continuation.resume() }
      }
    }
  }

  /// The result once the request has ended.
  func outcome() async -> RequestResult {
    while true {
      let batch = await read(after: Int.max - 1)
      if batch.ended { return snapshot }
    }
  }

  var snapshot: RequestResult { state.withLock { $0.result } }
  var isEnded: Bool { state.withLock { $0.ended } }

  // MARK: Listeners (the grace period)

  func attach() { state.withLock { $0.listeners += 1 } }

  /// A reader went away; returns the departure's number when no reader is left (the grace
  /// period ends the request unless someone attached since — `stillAbandoned`).
  func detach() -> Int? {
    state.withLock { state in
      guard state.listeners > 0 else { return nil }
      state.listeners -= 1
      guard state.listeners == 0, !state.ended else { return nil }
      state.departures += 1
      return state.departures
    }
  }

  func stillAbandoned(since departure: Int) -> Bool {
    state.withLock { $0.listeners == 0 && $0.departures == departure && !$0.ended }
  }
}
