import ArgumentParser
import CProcess
import Foundation
import RedisClient
import Router
import Transport
import Worker

#if canImport(Glibc)
  import Glibc
#endif

struct WorkerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "worker",
    abstract: "Join a router, load the shard it assigns, and serve forward steps.")

  @Option(
    help: """
      A YAML file of these options, by their flags' names without the dashes \
      (router: tcp://10.0.0.1:5555); flags given here override it.
      """)
  var config: String?
  @Option(help: "The router's workers endpoint, tcp://HOST:PORT (its --workers-bind).")
  var router: String
  @OptionGroup var model: ModelOption
  @OptionGroup var threads: ThreadsOption
  @Option(help: "This worker's name in logs and /v1/cluster (default: worker-PID).")
  var name: String?
  @Option(help: "Where peers reach this worker's data plane (port * = any free port).")
  var dataBind = "tcp://127.0.0.1:*"
  @Option(help: "The data address to announce, when it differs from --data-bind (NAT, 0.0.0.0).")
  var advertise: String?
  @Option(
    help: """
      Redis URL of the shared context-fragment cache, redis://[user:pass@]host:port[/db]; \
      also TESSERA_REDIS_URL, which keeps a password out of ps.
      """)
  var redis: String?
  @Option(
    help: """
      This worker's Curve secret key (tessera keys generate --out PREFIX writes PREFIX.key; \
      the router lists PREFIX.pub in its --authorized-keys).
      """)
  var curveSecretKey: String?
  @Option(help: "The router's Curve public key (its PREFIX.pub).") var routerPublicKey: String?
  @Flag(
    help: """
      Allow a plaintext data plane on an address other hosts reach (no keys): only on a \
      network you trust.
      """)
  var insecure = false
  @Option(help: "Megabytes of this worker's prefix-block parts kept in memory.")
  var prefixCacheMB = 256
  /// Set by a local launch: the launcher's pid; the worker exits when that process does.
  @Option(help: .hidden) var parentPID: Int32?

  func validate() throws {
    if let name, name.isEmpty || name.utf8.count > 64 {
      throw ValidationError("--name must be 1 to 64 bytes")
    }
    if let redis = redisURL {
      do { _ = try RedisURL(redis) } catch { throw ValidationError("Redis URL: \(error)") }
    }
    guard prefixCacheMB >= 0 else { throw ValidationError("--prefix-cache-mb must be ≥ 0") }
    guard (curveSecretKey == nil) == (routerPublicKey == nil) else {
      throw ValidationError("--curve-secret-key and --router-public-key go together")
    }
    do {
      try Endpoint.validate(router)
      try Endpoint.validate(dataBind)
    } catch {
      throw ValidationError("\(error)")
    }
    if curveSecretKey == nil, !insecure, !Endpoint.isLocal(dataBind) {
      throw ValidationError("\(TransportError.plaintextBind(dataBind))")
    }
  }

  /// --redis, else TESSERA_REDIS_URL.
  var redisURL: String? {
    redis
      ?? ProcessInfo.processInfo.environment["TESSERA_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
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
    var curve: WorkerOptions.Curve?
    if let curveSecretKey, let routerPublicKey {
      curve = WorkerOptions.Curve(
        keys: try CurveKeyPair.read(secretKeyFile: curveSecretKey),
        routerKey: try CurveKeyPair.read(publicKeyFile: routerPublicKey))
    }
    let worker = try WorkerProcess(
      options: WorkerOptions(
        router: router, modelPath: model.model, threads: threads.count,
        name: name ?? "worker-\(getpid())", dataBind: dataBind, advertise: advertise,
        redis: try redisURL.map { try RedisURL($0) }, prefixCacheBytes: prefixCacheMB << 20,
        curve: curve, insecure: insecure))
    try worker.run()
  }
}

/// `--tp T --pp P`: run on T×P local worker processes instead of in this one (or, on the
/// router with `--workers-bind`, wait for T×P remote ones).
struct LayoutOption: ParsableArguments {
  @Option(
    name: .customLong("tp"),
    help: """
      Tensor-parallel ranks per stage: local workers this process starts, or with \
      --workers-bind, remote workers to wait for.
      """)
  var tensorParallel = 1
  @Option(
    name: .customLong("pp"),
    help: """
      Pipeline stages: of local workers this process starts, or with --workers-bind, of \
      remote workers to wait for.
      """)
  var pipelineParallel = 1
  @Flag(
    help: """
      No CurveZMQ: local workers talk in plaintext (they use keys made for the run \
      otherwise), and --workers-bind may take an address other hosts reach without keys. Only \
      on a network you trust.
      """)
  var insecure = false

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
