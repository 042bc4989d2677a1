import Core
import Foundation
public import ServiceLifecycle

/// The request journal as a `Service`: its thread writes request state, renews leases and,
/// every lease period, takes over requests a dead router left. It stops — writing what is
/// queued — after the serving loop, which is shut down before it.
public struct JournalService: Service {
  let journal: RequestJournal
  let takeover: RequestTakeover

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
