import Foundation

/// A thread that starts child processes and lives until `close()`. A child's parent-death
/// signal (`prctl(PR_SET_PDEATHSIG)`, which `--parent-pid` and `setpriv --pdeathsig` use)
/// fires when the *thread* that started it exits — and Swift's concurrency threads and
/// dispatch workers come and go. Starting children here ties them to this thread's life.
final class SpawnThread: @unchecked Sendable {
  private let condition = NSCondition()
  private var jobs: [() -> Void] = []
  private var closed = false

  init() {
    let thread = Thread { [self] in loop() }
    thread.name = "tessera-spawn"
    thread.start()
  }

  /// Runs `body` on the spawn thread and returns its result.
  func run<T>(_ body: @escaping () throws -> T) throws -> T {
    nonisolated(unsafe) var result: Result<T, any Error>?
    let done = DispatchSemaphore(value: 0)
    condition.lock()
    jobs.append {
      result = Result { try body() }
      done.signal()
    }
    condition.signal()
    condition.unlock()
    done.wait()
    guard let result else { throw CocoaError(.featureUnsupported) }
    return try result.get()
  }

  /// Lets the thread end (its children then get their parent-death signal).
  func close() {
    condition.lock()
    closed = true
    condition.signal()
    condition.unlock()
  }

  private func loop() {
    while true {
      condition.lock()
      while jobs.isEmpty && !closed { condition.wait() }
      if jobs.isEmpty && closed {
        condition.unlock()
        return
      }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }
}
