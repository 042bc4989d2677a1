import ArgumentParser
import CProcess
import Foundation
import RedisClient
import Router
import Worker

#if canImport(Glibc)
  import Glibc
#endif

struct WorkerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "worker",
    abstract: "Join a router, load the shard it assigns, and serve forward steps.")

  @Option(help: "The router's workers endpoint, tcp://HOST:PORT.") var router: String
  @OptionGroup var model: ModelOption
  @OptionGroup var threads: ThreadsOption
  @Option(help: "This worker's name in logs and /v1/cluster (default: worker-PID).")
  var name: String?
  @Option(help: "Where peers reach this worker's data plane (port * = any free port).")
  var dataBind = "tcp://127.0.0.1:*"
  @Option(help: "The data address to announce, when it differs from --data-bind (NAT, 0.0.0.0).")
  var advertise: String?
  @Option(
    help: "Redis URL of the shared context-fragment cache, redis://[user:pass@]host:port[/db].")
  var redis: String?
  @Option(help: "Megabytes of this worker's prefix-block parts kept in memory.")
  var prefixCacheMB = 256
  /// Set by a local launch: the launcher's pid; the worker exits when that process does.
  @Option(help: .hidden) var parentPID: Int32?

  func validate() throws {
    if let name, name.isEmpty || name.utf8.count > 64 {
      throw ValidationError("--name must be 1 to 64 bytes")
    }
    if let redis {
      do { _ = try RedisURL(redis) } catch { throw ValidationError("--redis: \(error)") }
    }
    guard prefixCacheMB >= 0 else { throw ValidationError("--prefix-cache-mb must be ≥ 0") }
  }

  func run() throws {
    // A launcher's thread may have blocked or ignored SIGTERM, and we inherited that: undo it,
    // so SIGTERM (and the parent-death signal below) stop a worker.
    tessera_reset_signals()
    if let parentPID {
      // Started by a local cluster: go when it goes, even if it is killed outright. If it
      // died before the request took effect, we are already someone else's child: go now.
      _ = tessera_exit_with_parent(SIGTERM)
      if getppid() != parentPID { return }
    }
    _ = try model.open()  // a clear error for a missing file
    let worker = try WorkerProcess(
      options: WorkerOptions(
        router: router, modelPath: model.model, threads: threads.count,
        name: name ?? "worker-\(getpid())", dataBind: dataBind, advertise: advertise,
        redis: try redis.map { try RedisURL($0) }, prefixCacheBytes: prefixCacheMB << 20))
    try worker.run()
  }
}

/// `--tp T --pp P`: run on T×P local worker processes instead of in this one.
struct LayoutOption: ParsableArguments {
  @Option(name: .customLong("tp"), help: "Tensor-parallel ranks per stage (local workers).")
  var tensorParallel = 1
  @Option(name: .customLong("pp"), help: "Pipeline stages (local workers).")
  var pipelineParallel = 1

  @Option(help: "How local workers talk: tcp (loopback) or ipc (Unix sockets).")
  var localTransport = "tcp"

  var transport: LocalCluster.Transport { LocalCluster.Transport(rawValue: localTransport) ?? .tcp }

  var isDistributed: Bool { tensorParallel * pipelineParallel > 1 }

  /// Where the engine runs: this process, or T×P local workers.
  var engineLayout: EngineFactory.Layout {
    isDistributed
      ? .localWorkers(
        tensorParallel: tensorParallel, pipelineParallel: pipelineParallel, transport: transport)
      : .singleProcess
  }

  func validate() throws {
    guard (1...64).contains(tensorParallel), (1...64).contains(pipelineParallel) else {
      throw ValidationError("--tp and --pp must be 1...64")
    }
    guard LocalCluster.Transport(rawValue: localTransport) != nil else {
      throw ValidationError("--local-transport must be tcp or ipc")
    }
  }
}

/// Makes SIGINT and SIGTERM end this process at once (exit status 128 + signal), even when
/// they were inherited as ignored: local workers, started with `--parent-pid`, follow.
func exitOnInterrupt() {
  for signalNumber in [SIGINT, SIGTERM] {
    signal(signalNumber) { received in _exit(128 + received) }
  }
}
