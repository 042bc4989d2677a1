public import Core
import Foundation
import Transport

/// A whole cluster on this machine: a coordinator on loopback and T×P `tessera worker`
/// processes (plus standbys) started from this executable. It supervises them as an
/// orchestrator would: a worker that exits is started again, with back-off. Stopping it (or
/// dropping it) shuts every worker down, and the workers exit on their own if this process
/// dies (`--parent-pid`).
///
/// Secure by default, on loopback too: every socket uses Curve with keys made for this run
/// (the router's pair and one per worker, the secrets in a private directory that goes when
/// the cluster does), unless `insecure`.
public final class LocalCluster: WorkerSupervisor {
  /// How the local processes reach each other: loopback TCP, or Unix domain sockets in a
  /// private directory (lower latency on one machine).
  public enum Transport: String, Sendable, CaseIterable {
    case tcp, ipc
  }

  /// One worker process and its restarts.
  struct Child {
    var process: Process
    var startedAt: Double
    var restarts = 0
    /// When it is due to start again, once it has exited.
    var restartAt: Double?
  }

  public let coordinator: Coordinator
  private var children: [Child] = []
  private var arguments: (Int) -> [String] = { _ in [] }
  private var executable = ""
  private let spawner = SpawnThread()
  private var socketDirectory: String?
  /// Where the run's Curve keys are (nil when insecure).
  private var keyDirectory: String?
  private var stopping = false
  private let log = Log("local-cluster")
  /// A worker that ran this long before it exited starts again at once.
  static let stableSeconds = 30.0
  static let firstBackOff = 0.1
  static let longestBackOff = 10.0

  /// - Parameters:
  ///   - threads: compute threads per worker.
  ///   - standbys: spare workers started besides the T×P of the plan.
  ///   - executable: the `tessera` binary to start workers from (default: this one).
  ///   - redis: the Redis URL of the shared fragment cache, passed on to the workers.
  ///   - prefixCacheMB: each worker's in-memory fragment tier.
  public init(
    modelPath: String, config: ModelConfig, fingerprint: [UInt8], tensorParallel: Int,
    pipelineParallel: Int, threads: Int, kvTokens: Int, maxBatch: Int = 256,
    transport: Transport = .tcp, startTimeout: Double = 120, executable: String? = nil,
    redis: String? = nil, prefixCacheMB: Int = 256, standbys: Int = 0,
    workerTimeout: Double = 1, standbyMode: Coordinator.StandbyMode = .warm,
    cost: ShardCost? = nil, insecure: Bool = false
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
    let workerCount =
      try PartitionPlan(
        config: config, tensorParallel: tensorParallel, pipelineParallel: pipelineParallel
      ).workerCount + max(standbys, 0)
    var security: Coordinator.Security?
    var keyArguments: (Int) -> [String] = { _ in ["--insecure"] }
    if !insecure {
      let keys = try EphemeralKeys(workers: workerCount)
      keyDirectory = keys.directory
      security = keys.security
      keyArguments = keys.arguments
    }
    coordinator = try Coordinator(
      bind: endpoint, config: config, fingerprint: fingerprint, tensorParallel: tensorParallel,
      pipelineParallel: pipelineParallel, kvTokens: kvTokens, maxBatch: maxBatch,
      workerTimeout: workerTimeout, standbyMode: standbyMode, cost: cost, security: security,
      wantedStandbys: standbys)
    self.executable = try executable ?? Self.ownExecutable()
    let router = coordinator.endpoint
    arguments = { index in
      [
        "worker", "--router", router, "--model", modelPath, "--threads", String(threads),
        "--name", "local-\(index)", "--data-bind", dataBind(index),
        "--parent-pid", String(getpid()), "--prefix-cache-mb", String(prefixCacheMB),
      ] + keyArguments(index) + (redis.map { ["--redis", $0] } ?? [])
    }
    do {
      for index in 0..<workerCount {
        children.append(Child(process: try start(index), startedAt: SystemClock.now()))
      }
      try coordinator.waitUntilReady(timeout: startTimeout)
    } catch {
      stop()
      throw error
    }
  }

  deinit { stop() }

  /// Process ids of the workers (standbys included), as started last.
  public var workerPIDs: [Int32] { children.map(\.process.processIdentifier) }

  /// Workers started again after they exited, in all.
  public var restarts: Int { children.reduce(0) { $0 + $1.restarts } }

  private func start(_ index: Int) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments(index)
    try spawner.run { try process.run() }
    return process
  }

  /// Starts again the workers that exited, each after its back-off: 0.1 s, doubling to 10 s
  /// for one that keeps exiting, back to 0.1 s once it has run for 30 s.
  public func superviseWorkers() {
    guard !stopping else { return }
    let now = SystemClock.now()
    for index in children.indices where !children[index].process.isRunning {
      var child = children[index]
      guard let due = child.restartAt else {
        if now - child.startedAt >= Self.stableSeconds { child.restarts = 0 }
        let backOff = min(
          Self.firstBackOff * pow(2, Double(min(child.restarts, 16))), Self.longestBackOff)
        child.restartAt = now + backOff
        log.warning(
          "worker local-\(index) (pid \(child.process.processIdentifier)) exited "
            + "(\(Self.describe(child.process))); starting it again in \(backOff) s")
        children[index] = child
        continue
      }
      guard now >= due else { continue }
      do {
        child.process = try start(index)
        child.startedAt = now
        child.restarts += 1
        child.restartAt = nil
      } catch {
        log.error("cannot start worker local-\(index) again: \(error)")
        child.restartAt = now + Self.longestBackOff
      }
      children[index] = child
    }
  }

  static func describe(_ process: Process) -> String {
    process.terminationReason == .uncaughtSignal
      ? "signal \(process.terminationStatus)" : "status \(process.terminationStatus)"
  }

  /// Shuts the workers down: asks, waits up to five seconds (taking their final reports),
  /// then kills what is left.
  public func stop() {
    stopping = true
    defer {
      for directory in [socketDirectory, keyDirectory].compactMap({ $0 }) {
        try? FileManager.default.removeItem(atPath: directory)
      }
      socketDirectory = nil
      keyDirectory = nil
      spawner.close()
    }
    guard !children.isEmpty else { return }
    coordinator.shutdownWorkers()
    let deadline = Date().addingTimeInterval(5)
    while children.contains(where: \.process.isRunning), Date() < deadline {
      _ = try? coordinator.pump(timeoutMilliseconds: 50)
    }
    while (try? coordinator.pump(timeoutMilliseconds: 0)) == true {}  // reports still queued
    for child in children where child.process.isRunning {
      log.warning("worker \(child.process.processIdentifier) did not exit; killing it")
      kill(child.process.processIdentifier, SIGKILL)
      child.process.waitUntilExit()
    }
    children = []
  }

  static func ownExecutable() throws -> String {
    try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
  }
}
