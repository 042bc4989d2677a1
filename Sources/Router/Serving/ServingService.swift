import ContextCache
import Core
import Foundation
public import ServiceLifecycle

/// The serving loop as a swift-service-lifecycle `Service`: it builds the engine on the
/// loop's own thread (which then owns it), says when it is ready, runs the loop, and on
/// graceful shutdown stops it — unfinished requests are handed back — and then the engine
/// (workers write the prefix blocks they hold for Redis before they exit) and the local
/// fragment writes.
public struct ServingService: Service {
  let loop: ServingLoop
  let factory: EngineFactory
  let vocabulary: Vocabulary
  let limits: Scheduler.Limits
  let fragments: FragmentCache?
  let ready: @Sendable (Bool) -> Void

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await withTaskCancellationHandler {
        try await runOnThread()
      } onCancel: { [loop] in
        loop.stop()
      }
    } onGracefulShutdown: { [loop] in
      loop.stop()
    }
  }

  private func runOnThread() async throws {
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Void, any Error>) in
      let thread = Thread { [self] in
        let built: BuiltEngine
        do {
          built = try factory.make()
        } catch {
          Log("router").error("the engine could not start: \(error)")
          return continuation.resume(throwing: error)
        }
        ready(true)
        loop.run(engine: built.batch, vocabulary: vocabulary, limits: limits, fragments: fragments)
        ready(false)
        built.stop()
        fragments?.flush()
        continuation.resume()
      }
      thread.name = "tessera-serving"
      thread.start()
    }
  }
}
