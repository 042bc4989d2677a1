public import Core
import Foundation

/// A whole cluster on this machine: a coordinator on loopback and T×P `tessera worker`
/// processes started from this executable. Stopping it (or dropping it) shuts every worker
/// down, and the workers exit on their own if this process dies (`--exit-with-parent`).
public final class LocalCluster {
  public let coordinator: Coordinator
  private var children: [Process] = []
  private let log = Log("local-cluster")

  /// - Parameters:
  ///   - threads: compute threads per worker.
  ///   - endpoint: where the coordinator listens (`tcp://127.0.0.1:*` or `ipc://PATH`).
  ///   - executable: the `tessera` binary to start workers from (default: this one).
  public init(
    modelPath: String, config: ModelConfig, fingerprint: [UInt8], tensorParallel: Int,
    pipelineParallel: Int, threads: Int, kvTokens: Int, maxBatch: Int = 256,
    endpoint: String = "tcp://127.0.0.1:*", dataBind: String = "tcp://127.0.0.1:*",
    startTimeout: Double = 120, executable: String? = nil
  ) throws {
    coordinator = try Coordinator(
      bind: endpoint, config: config, fingerprint: fingerprint, tensorParallel: tensorParallel,
      pipelineParallel: pipelineParallel, kvTokens: kvTokens, maxBatch: maxBatch)
    let executable = try executable ?? Self.ownExecutable()
    do {
      for index in 0..<coordinator.plan.workerCount {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
          "worker", "--router", coordinator.endpoint, "--model", modelPath, "--threads",
          String(threads), "--name", "local-\(index)", "--data-bind", dataBind,
          "--exit-with-parent",
        ]
        try process.run()
        children.append(process)
      }
      try coordinator.waitUntilReady(timeout: startTimeout)
    } catch {
      stop()
      throw error
    }
  }

  deinit { stop() }

  /// Process ids of the workers.
  public var workerPIDs: [Int32] { children.map(\.processIdentifier) }

  /// Shuts the workers down: asks, waits up to five seconds, then kills what is left.
  public func stop() {
    guard !children.isEmpty else { return }
    coordinator.shutdownWorkers()
    let deadline = Date().addingTimeInterval(5)
    while children.contains(where: \.isRunning), Date() < deadline {
      try? coordinator.pump(timeoutMilliseconds: 50)
    }
    for child in children where child.isRunning {
      log.warning("worker \(child.processIdentifier) did not exit; killing it")
      kill(child.processIdentifier, SIGKILL)
      child.waitUntilExit()
    }
    children = []
  }

  static func ownExecutable() throws -> String {
    try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
  }
}
