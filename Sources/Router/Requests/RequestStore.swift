import Core

/// Where request state lives: each request's spec, status, events, per-choice progress,
/// tokens and text, and the lease of the router that runs it. `RedisRequestStore` is the
/// real one — state that outlives the process, so another router takes requests over and
/// clients resume after a restart; `MemoryRequestStore` keeps it in this process (for tests,
/// and for serving without Redis). The journal writes through it; the request routes and
/// takeover read it.
protocol RequestStore: Sendable {
  /// Whether the state outlives this process (a client's stream may wait for a resume; a
  /// router that stops hands its requests back instead of failing them).
  var isDurable: Bool { get }
  /// Writes each unit whole or not at all; says for each whether the store took it (a unit
  /// that adds to state the store lost is refused). Throws when the store did not answer.
  func write(_ units: [JournalUnit]) throws(RequestStateError) -> [Bool]
  /// Extends this router's leases on `ids`, taking back any that vanished; never touches a
  /// lease another router holds.
  func checkLeases(_ ids: [String]) throws(RequestStateError) -> [String: LeaseCheck]
  /// Takes the unfinished requests (other than `except`) whose lease expired, or that an
  /// earlier run of this router held; returns their ids.
  func claimOrphans(except: Set<String>) throws(RequestStateError) -> [String]
  /// Lets go of a request claimed but not run (it had ended meanwhile).
  func release(_ id: String) throws(RequestStateError)
  /// Ends a request whose state cannot be used: failed, with the reason.
  func markFailed(_ id: String, reason: String) throws(RequestStateError)
  /// Cancels a request nobody runs (no lease): true if it was one.
  func cancelOrphan(_ id: String) throws(RequestStateError) -> Bool
  func load(_ id: String) throws(RequestStateError) -> StoredRequest
  /// The request's status alone (nil: no such request).
  func status(_ id: String) throws(RequestStateError) -> RequestStatus?
  /// The stored events numbered `from` and after, below `to` when given.
  func events(_ id: String, from: Int, to: Int?) throws(RequestStateError) -> [(
    number: Int, payload: [UInt8]
  )]
}

extension RequestStore {
  func events(_ id: String, from: Int) throws(RequestStateError) -> [(
    number: Int, payload: [UInt8]
  )] {
    try events(id, from: from, to: nil)
  }
}

/// What renewing a lease found.
enum LeaseCheck: Equatable {
  /// Still this router's; extended.
  case held
  /// It had vanished (expired, or the store restarted empty); this router's again.
  case retaken
  /// Another router holds it.
  case lost
}

/// Bounds on what a stored record may say (a spec allows at most 8 choices, and no count
/// comes near 2^31); anything outside is damage, never arithmetic that could overflow.
enum StoredLimits {
  static let maxChoices = 64
  static let maxCount = Int(Int32.max)
}
