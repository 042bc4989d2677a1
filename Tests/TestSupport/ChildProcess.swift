public import Foundation
import Synchronization

/// A `tessera` process in the background (a worker, say) whose standard error is collected,
/// for tests that check what it logged; stopped (SIGTERM, then waited for) on `stop()` or
/// when dropped.
public final class ChildProcess: @unchecked Sendable {
  public let process = Process()
  /// Shared with the pipe's reader.
  final class Collected: Sendable {
    let text = Mutex("")
  }
  private let errors = Collected()

  public init(_ arguments: [String]) throws {
    process.executableURL = TesseraProcess.executableURL
    process.arguments = arguments
    process.currentDirectoryURL = FixturePaths.packageRoot
    let pipe = Pipe()
    process.standardError = pipe
    process.standardOutput = FileHandle.nullDevice
    let errors = self.errors
    pipe.fileHandleForReading.readabilityHandler = { handle in
      let chunk = handle.availableData
      guard !chunk.isEmpty else {
        handle.readabilityHandler = nil
        return
      }
      errors.text.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
    }
    try process.run()
  }

  deinit { stop() }

  /// What it wrote to standard error so far.
  public var standardError: String { errors.text.withLock { $0 } }

  public func stop() {
    guard process.isRunning else { return }
    process.terminate()
    process.waitUntilExit()
  }
}
