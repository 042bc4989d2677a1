import Core
import Foundation
public import ServiceLifecycle

/// The request journal as a `Service`: its thread writes request state, renews leases and,
/// every lease period, takes over requests a dead router left. It stops — writing what is
/// queued — after the serving loop, which is shut down before it.
public struct JournalService: Service, CustomStringConvertible {
  let journal: RequestJournal
  let takeover: RequestTakeover

  /// What swift-service-lifecycle logs for it. (Its default, the reflected value, spells
  /// out the whole vocabulary: 1.4 s per router start.)
  public var description: String { "JournalService(the request journal)" }

  public func run() async throws {
    journal.start(
      periodic: { [takeover] in takeover.takeOverOrphans() },
      lost: { [takeover] id in takeover.stopRunning(id) })
    try? await gracefulShutdown()  // returns on graceful shutdown or cancellation
    // Writing what is queued may wait on Redis: not on a Swift concurrency thread.
    await withCheckedContinuation { continuation in
      Thread { [journal] in
        journal.stop()
        continuation.resume()
      }.start()
    }
  }
}
