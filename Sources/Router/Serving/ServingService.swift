import ContextCache
import Core
import Foundation
public import ServiceLifecycle
import Synchronization

/// The serving loop as a swift-service-lifecycle `Service`: it builds the engine on the
/// loop's own thread (which then owns it), says when it is ready, runs the loop, and on
/// graceful shutdown stops it — unfinished requests are handed back — and then the engine
/// (workers write the prefix blocks they hold for Redis before they exit) and the local
/// fragment writes. Shutdown waits for that at most `stopTimeout` seconds (an engine still
/// loading, or workers that do not answer, must not hold the process).
public struct ServingService: Service, CustomStringConvertible {
  let loop: ServingLoop
  let factory: EngineFactory
  let vocabulary: Vocabulary
  let limits: Scheduler.Limits
  let fragments: FragmentCache?
  let ready: @Sendable (Bool) -> Void
  var stopTimeout: Double = 15

  /// What swift-service-lifecycle logs for it. (Its default, the reflected value, spells
  /// out the whole vocabulary: 1.4 s per router start.)
  public var description: String { "ServingService(the serving loop)" }

  public func run() async throws {
    let (ended, ending) = AsyncStream<Result<Void, any Error>>.makeStream()
    startThread { ending.yield($0) }
    try await withGracefulShutdownHandler {
      try await withTaskCancellationHandler {
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask {
            for await result in ended { return try result.get() }
          }
          group.addTask { [stopTimeout] in
            try await gracefulShutdown()
            try await Task.sleep(for: .seconds(stopTimeout))
            Log("router").warning("the engine did not stop within \(stopTimeout) s; leaving it")
          }
          try await group.next()
          group.cancelAll()
        }
      } onCancel: { [loop] in
        loop.stop()
      }
    } onGracefulShutdown: { [loop] in
      loop.stop()
    }
  }

  private func startThread(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
    let thread = Thread { [self] in
      let built: BuiltEngine
      do {
        built = try factory.make()
      } catch {
        Log("router").error("the engine could not start: \(error)")
        return done(.failure(error))
      }
      ready(true)
      loop.run(engine: built.batch, vocabulary: vocabulary, limits: limits, fragments: fragments)
      ready(false)
      built.stop()
      fragments?.flush()
      done(.success(()))
    }
    thread.name = "tessera-serving"
    thread.start()
  }
}
