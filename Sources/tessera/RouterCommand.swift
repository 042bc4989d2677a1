import ArgumentParser
import CProcess
import ContextCache
import Core
import Foundation
import Hummingbird
import RedisClient
import Router
import Transport

struct RouterCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "router",
    abstract: "Serve the OpenAI-compatible HTTP API (one process, or local workers with --tp/--pp)."
  )

  @OptionGroup var options: RouterOptions
  /// Set by tests and launchers: exit when that process does.
  @Option(help: .hidden) var parentPID: Int32?

  func run() async throws {
    if let parentPID {
      _ = tessera_exit_with_parent(SIGTERM)
      if getppid() != parentPID { return }
    }
    try await RouterRunner.run(options)
  }
}

struct UpCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "up",
    abstract: "Run a whole local cluster: a Redis of its own, the router and its workers.",
    discussion: """
      Takes the router's flags. Without --redis it starts redis-server (Debian's package) on a
      free port in a temporary directory, with maxmemory and volatile-lru. Ctrl-C or SIGTERM
      stops everything; so does a child that fails at start.
      """)

  @OptionGroup var options: RouterOptions

  func run() async throws {
    var options = options
    guard options.workersBind == nil else {
      throw ValidationError(
        "tessera up starts its own workers; for workers on other machines run tessera router "
          + "--workers-bind")
    }
    var redis: RedisServer?
    defer { redis?.stop() }
    if options.redisURL == nil {
      let server = try RedisServer()
      redis = server
      options.redis = server.url
      Log("up").info("redis-server at \(server.url)")
    }
    try await RouterRunner.run(options)
  }
}

/// The router from its flags: the library's `buildApplication` over the engine the flags
/// ask for, run until SIGTERM or SIGINT.
enum RouterRunner {
  static func run(_ options: RouterOptions) async throws {
    RouterMetrics.bootstrap()
    let file = try options.model.open()
    let vocabulary = try Vocabulary(gguf: file)
    let config = try ModelConfig(gguf: file)
    let context = try options.context.resolve(config)
    let kvTokens = options.resolvedKVTokens(context: context)
    let keys = Set(
      options.apiKeys
        + (ProcessInfo.processInfo.environment["TESSERA_API_KEYS"] ?? "").split(separator: ",")
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    let id =
      options.modelID
      ?? URL(fileURLWithPath: options.model.model).deletingPathExtension().lastPathComponent
    let layout = options.layout
    let redisURL = options.redisURL
    let redis = try redisURL.map { RedisClient(url: try RedisURL($0)) }
    let blockSize = PagedKVCache.defaultBlockSize
    var configuration = RouterConfiguration(
      intake: .init(
        modelID: id, maxPromptTokens: options.maxPromptTokens, maxOutputTokens: options.maxTokens,
        requestTimeout: options.requestTimeout),
      limits: Scheduler.Limits(
        maxRunning: options.maxRunning, maxQueued: options.maxQueue,
        stepTokens: options.stepTokens, blockSize: blockSize,
        totalBlocks: (kvTokens + blockSize - 1) / blockSize))
    guard let (host, port) = options.address else { return }
    configuration.host = host
    configuration.port = port
    configuration.maxBodyBytes = options.maxBodyBytes
    if let certificate = options.tlsCert, let key = options.tlsKey {
      configuration.server = try HTTPSServer.builder(certificate: certificate, key: key)
    }
    configuration.workersAreRemote = options.workersBind != nil
    configuration.apiKeys = keys
    configuration.resumeGrace = options.resumeGrace
    configuration.recoveryTimeout = options.recoveryTimeout
    configuration.redis = redis
    configuration.journal = RequestJournal.Options(
      owner: options.routerName ?? defaultRouterName(listen: options.address),
      ttl: options.requestTTL, lease: options.requestLease)
    // One process looks up, loads and keeps fragments itself; with workers the router only
    // finds how far Redis has a prompt, and each worker loads and keeps its own parts.
    configuration.fragments =
      options.prefixCacheMB == 0
      ? nil
      : FragmentCache(
        fingerprint: ModelFingerprint.of(file), blockSize: blockSize,
        fragments: KVFragments(shard: .whole(config), config: config),
        local: LocalFragmentTier(capacityBytes: options.prefixCacheMB << 20),
        store: redis.map { FragmentStore(redis: $0, ttl: options.fragmentTTL) })
    if options.usesWorkers {
      configuration.plan = try PartitionPlan(
        config: config, tensorParallel: layout.tensorParallel,
        pipelineParallel: layout.pipelineParallel)
    }
    let settings = try options.engineSettings(
      workerRedis: options.prefixCacheMB > 0 ? redisURL : nil,
      workerPrefixCacheMB: max(
        1, options.prefixCacheMB / (layout.tensorParallel * layout.pipelineParallel)),
      kvTokens: kvTokens, context: context)
    let scheme = options.tlsCert == nil ? "http" : "https"
    let app = buildApplication(
      configuration, tokenizer: vocabulary.tokenizer,
      formatter: try? ChatFormatter(gguf: file, vocabulary: vocabulary),
      contextLength: context, engine: .model(settings)
    ) { bound in
      // One unbuffered write: scripts and tests wait for this line.
      FileHandle.standardOutput.write(
        Data("tessera router: serving \(id) at \(scheme)://\(host):\(bound)/v1\n".utf8))
    }
    try await app.runService()
  }

  /// The machine's name and the --listen address (`host@127.0.0.1:8080`); with port 0 (any
  /// free port) a random part instead of the port, so two such routers never take each
  /// other's requests for their own.
  static func defaultRouterName(listen: (host: String, port: Int)?) -> String {
    let machine = ProcessInfo.processInfo.hostName
    let host = listen?.host ?? "?"
    let port = listen?.port ?? 0
    return port == 0
      ? "\(machine)@\(host):any-\(UInt32.random(in: 0...UInt32.max))" : "\(machine)@\(host):\(port)"
  }
}
