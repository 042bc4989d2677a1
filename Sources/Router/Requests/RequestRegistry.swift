import Core
import Foundation
import Synchronization

/// The requests this router knows, by id: those it runs and the latest that ended. Also the
/// grace period: a request whose every reader went away is cancelled only if nobody resumes
/// it within `grace` seconds (at once without request state: nobody could resume it).
public final class RequestRegistry: Sendable {
  /// Where request state goes (Redis, or this process).
  public let journal: RequestJournal
  public let grace: Double
  /// Ended requests kept in memory (older ones are read from Redis).
  static let keptEnded = 128

  private let logs = Mutex<(byID: [String: RequestLog], order: [String])>(([:], []))
  private let log = Log("requests")

  public init(journal: RequestJournal, grace: Double = 30) {
    self.journal = journal
    self.grace = grace
  }

  func register(_ request: RequestLog) {
    logs.withLock { logs in
      logs.byID[request.spec.id] = request
      logs.order.append(request.spec.id)
      guard logs.order.count > 2 * Self.keptEnded else { return }
      // Forget the oldest ended requests; running ones stay.
      var ended = logs.order.filter { logs.byID[$0]?.isEnded ?? true }
      ended.removeLast(min(ended.count, Self.keptEnded))
      let forget = Set(ended)
      for id in forget { logs.byID[id] = nil }
      logs.order.removeAll { forget.contains($0) }
    }
  }

  func find(_ id: String) -> RequestLog? { logs.withLock { $0.byID[id] } }

  /// Ids of requests this router runs or has run recently.
  var knownIDs: Set<String> { logs.withLock { Set($0.byID.keys) } }

  /// A reader of `request` went away; `cancel` ends the request once the grace period has
  /// passed with no reader (at once without request state).
  func readerLeft(_ request: RequestLog, cancel: @escaping @Sendable () -> Void) {
    guard let departure = request.detach() else { return }
    guard journal.isDurable, grace > 0 else { return cancel() }
    let id = request.spec.id
    DispatchQueue.global().asyncAfter(deadline: .now() + grace) { [log] in
      guard request.stillAbandoned(since: departure) else { return }
      log.info("request \(id): no reader came back within \(self.grace) s; cancelled")
      cancel()
    }
  }
}
