import Core

/// What the journal writes to Redis in one transaction: a request's events since its last
/// unit and the state they lead to. Each unit is written whole or not at all (MULTI/EXEC), so
/// the stored state always matches the stored events.
struct JournalUnit: Sendable {
  enum Kind: Sendable {
    /// A new request: its spec, status running, the owner's lease, membership of the active set.
    case create
    /// A choice after a token: its state, and its tokens and text since the last checkpoint
    /// (they end at the state's `generated` and `sent`, and are written at those offsets, so
    /// writing a unit twice changes nothing).
    case progress(ChoiceProgress, tokens: [TokenID], text: [UInt8])
    /// The end: status and usage; the request leaves the active set and its keys get the TTL.
    case end(status: RequestStatus, usage: StoredUsage?, error: String?)
    /// This router stops with the request unfinished: its lease goes, so that another router
    /// takes it over without waiting.
    case handBack
    /// Everything at once (after Redis failed to take some units).
    case whole(
      status: RequestStatus, progress: [ChoiceProgress?], tokens: [[TokenID]], texts: [String],
      usage: StoredUsage?, error: String?, ended: Bool, handedBack: Bool)
  }

  let log: RequestLog
  /// The number of the first event in `events`.
  let firstEvent: Int
  let events: [[UInt8]]
  let kind: Kind

  var requestID: String { log.spec.id }
  /// Readers may see the events below this once the unit was written (or failed).
  var visibleAfter: Int { firstEvent + events.count }

  /// Whether the transaction first checks that the request's state exists (a unit that adds
  /// to it; the state was lost if Redis restarted empty).
  var checksState: Bool {
    switch kind {
    case .create, .whole: false
    case .progress, .end, .handBack: true
    }
  }
}
