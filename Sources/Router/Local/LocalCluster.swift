public import Core
import Foundation

/// A whole cluster on this machine: a coordinator on loopback and T×P `tessera worker`
/// processes started from this executable. Stopping it (or dropping it) shuts every worker
/// down, and the workers exit on their own if this process dies (`--parent-pid`).
public final class LocalCluster {
  /// How the local processes reach each other: loopback TCP, or Unix domain sockets in a
  /// private directory (lower latency on one machine).
  public enum Transport: String, Sendable, CaseIterable {
    case tcp, ipc
  }

  public let coordinator: Coordinator
  private var children: [Process] = []
  private let spawner = SpawnThread()
  private var socketDirectory: String?
  private let log = Log("local-cluster")

  /// - Parameters:
  ///   - threads: compute threads per worker.
  ///   - executable: the `tessera` binary to start workers from (default: this one).
  ///   - redis: the Redis URL of the shared fragment cache, passed on to the workers.
  ///   - prefixCacheMB: each worker's in-memory fragment tier.
  public init(
    modelPath: String, config: ModelConfig, fingerprint: [UInt8], tensorParallel: Int,
    pipelineParallel: Int, threads: Int, kvTokens: Int, maxBatch: Int = 256,
    transport: Transport = .tcp, startTimeout: Double = 120, executable: String? = nil,
    redis: String? = nil, prefixCacheMB: Int = 256
  ) throws {
    var endpoint = "tcp://127.0.0.1:*"
    var dataBind: (Int) -> String = { _ in "tcp://127.0.0.1:*" }
    if transport == .ipc {
      let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tessera-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: false,
        attributes: [.posixPermissions: 0o700])
      socketDirectory = directory
      endpoint = "ipc://\(directory)/router"
      dataBind = { "ipc://\(directory)/worker-\($0)" }
    }
    coordinator = try Coordinator(
      bind: endpoint, config: config, fingerprint: fingerprint, tensorParallel: tensorParallel,
      pipelineParallel: pipelineParallel, kvTokens: kvTokens, maxBatch: maxBatch)
    let executable = try executable ?? Self.ownExecutable()
    do {
      for index in 0..<coordinator.plan.workerCount {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
          [
            "worker", "--router", coordinator.endpoint, "--model", modelPath, "--threads",
            String(threads), "--name", "local-\(index)", "--data-bind", dataBind(index),
            "--parent-pid", String(getpid()), "--prefix-cache-mb", String(prefixCacheMB),
          ] + (redis.map { ["--redis", $0] } ?? [])
        try spawner.run { try process.run() }
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

  /// Shuts the workers down: asks, waits up to five seconds (taking their final reports),
  /// then kills what is left.
  public func stop() {
    defer {
      if let socketDirectory { try? FileManager.default.removeItem(atPath: socketDirectory) }
      socketDirectory = nil
      spawner.close()
    }
    guard !children.isEmpty else { return }
    coordinator.shutdownWorkers()
    let deadline = Date().addingTimeInterval(5)
    while children.contains(where: \.isRunning), Date() < deadline {
      _ = try? coordinator.pump(timeoutMilliseconds: 50)
    }
    while (try? coordinator.pump(timeoutMilliseconds: 0)) == true {}  // reports still queued
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
