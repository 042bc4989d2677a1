import ArgumentParser
import CProcess
import ContextCache
import Core
import Foundation
import Hummingbird
import RedisClient
import Router
import Transport

/// The router's flags, shared by `tessera router` and `tessera up`.
struct RouterOptions: ParsableArguments {
  @Option(
    help: """
      A YAML file of these options, by their flags' names without the dashes \
      (workers-bind: tcp://0.0.0.0:5555); flags given here override it.
      """)
  var config: String?
  @Option(help: "Where the HTTP API listens, HOST:PORT (port 0: any free port).")
  var listen = "127.0.0.1:8080"
  @Option(
    help: """
      TLS for the HTTP API: a PEM certificate chain (with --tls-key); without it, plain HTTP.
      """)
  var tlsCert: String?
  @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
  @OptionGroup var model: ModelOption
  @Option(help: "The model's id in the API (default: the file name without .gguf).")
  var modelID: String?
  @OptionGroup var threads: ThreadsOption
  @OptionGroup var layout: LayoutOption
  @Option(
    help: """
      Where workers started elsewhere join, tcp://HOST:PORT: the router starts none and waits \
      for the T×P of --tp/--pp (tessera worker --router tcp://HOST:PORT). Needs \
      --curve-secret-key and --authorized-keys unless HOST is loopback or --insecure is given.
      """)
  var workersBind: String?
  @Option(
    help: """
      This router's Curve secret key (tessera keys generate --out PREFIX writes PREFIX.key): \
      the workers' socket is encrypted and only --authorized-keys may join.
      """)
  var curveSecretKey: String?
  @Option(help: "The workers' Curve public keys that may join, one per line (PREFIX.pub files).")
  var authorizedKeys: String?
  @Option(help: "Most sequences in the running batch.") var maxRunning = 16
  @Option(help: "Most requests waiting; more get 429.") var maxQueue = 256
  @Option(help: "Most tokens one engine step carries (decode plus prefill chunks).")
  var stepTokens = 256
  @Option(help: "KV cache capacity in tokens over all sequences.") var kvTokens = 16384
  @Option(help: "Most tokens a request may generate.") var maxTokens = 4096
  @Option(help: "Most prompt tokens a request may bring (default: the model's context).")
  var maxPromptTokens: Int?
  @Option(help: "Largest request body in bytes.") var maxBodyBytes = 1 << 20
  @Option(help: "Seconds a request may take.") var requestTimeout: Double = 600
  @Option(
    name: .customLong("api-key"),
    help: """
      A key clients must send as 'Authorization: Bearer KEY' (repeatable; also \
      TESSERA_API_KEYS, comma-separated).
      """)
  var apiKeys: [String] = []
  @Option(
    help: """
      Redis URL, redis://[user:pass@]host:port[/db] (the shared fragment cache and request \
      state); also TESSERA_REDIS_URL, which keeps a password out of ps.
      """)
  var redis: String?
  @Option(
    help: """
      Megabytes of prompt-prefix KV blocks kept in memory (the local tier of the context \
      fragment cache); 0 turns prefix reuse off.
      """)
  var prefixCacheMB = 512
  @Option(help: "Seconds a prefix block stored in Redis lives.") var fragmentTTL = 3_600
  @Option(
    help: """
      Seconds a finished request's state (status, text, events) stays in Redis for \
      GET /v1/requests/{id} and resumed streams.
      """)
  var requestTTL = 86_400
  @Option(
    help: """
      Seconds a streaming request whose client went away keeps running, waiting for the \
      client to resume it (with request state, i.e. --redis; without it, at once).
      """)
  var resumeGrace: Double = 30
  @Option(
    help: """
      Seconds a router's lease on a request lasts without renewal; another router takes the \
      request over after that.
      """)
  var requestLease: Double = 10
  @Option(
    help: """
      This router's name in request leases (default: the machine's name and --listen); a \
      router restarted under the same name takes its unfinished requests back at once.
      """)
  var routerName: String?
  @Option(
    help: """
      Seconds without a heartbeat after which a worker counts as lost (dead, stopped or cut \
      off); its requests pause, the model is placed again and they go on.
      """)
  var workerTimeout: Double = 1
  @Option(
    help: """
      Seconds requests wait for a worker plan after workers were lost (none left, say) \
      before they fail with a 503-style error.
      """)
  var recoveryTimeout: Double = 60
  @Option(
    help: """
      Spare workers besides the T×P of --tp/--pp; one takes the place of a lost worker at \
      once. Local workers: started too. With --workers-bind: how many spares /ready counts as \
      healthy (any extra worker that joins is a spare anyway).
      """)
  var standby = 0
  @Option(
    help: """
      What a standby holds: warm (every shard of the plan packed: it takes a slot at once) \
      or cold (nothing until it is assigned a slot).
      """)
  var standbyMode = "warm"

  func validate() throws {
    guard maxRunning >= 1, maxQueue >= 0, stepTokens >= 1, kvTokens >= 16, maxTokens >= 1,
      maxBodyBytes >= 1024, requestTimeout > 0, (maxPromptTokens ?? 1) >= 1,
      prefixCacheMB >= 0, fragmentTTL >= 1, requestTTL >= 1, resumeGrace >= 0,
      requestLease >= 0.3
    else { throw ValidationError("limits must be positive") }
    guard address != nil else { throw ValidationError("--listen must be HOST:PORT") }
    guard (0.1...3600).contains(workerTimeout) else {
      throw ValidationError("--worker-timeout must be 0.1 to 3600 seconds")
    }
    guard recoveryTimeout > 0 else { throw ValidationError("--recovery-timeout must be positive") }
    guard (0...64).contains(standby) else { throw ValidationError("--standby must be 0 to 64") }
    guard standby == 0 || usesWorkers else {
      throw ValidationError("--standby needs workers: give --tp or --pp above 1, or --workers-bind")
    }
    try validateSecurity()
    guard Coordinator.StandbyMode(rawValue: standbyMode) != nil else {
      throw ValidationError("--standby-mode must be cold or warm")
    }
    if let redis = redisURL {
      do { _ = try RedisURL(redis) } catch { throw ValidationError("Redis URL: \(error)") }
    }
  }

  /// Keys go with --workers-bind, both or neither; a bind other hosts reach needs them
  /// (secure by default); TLS needs its certificate and key.
  private func validateSecurity() throws {
    guard (curveSecretKey == nil) == (authorizedKeys == nil) else {
      throw ValidationError("--curve-secret-key and --authorized-keys go together")
    }
    guard (tlsCert == nil) == (tlsKey == nil) else {
      throw ValidationError("--tls-cert and --tls-key go together")
    }
    guard let workersBind else {
      guard curveSecretKey == nil else {
        throw ValidationError(
          "--curve-secret-key and --authorized-keys are for --workers-bind (local workers get "
            + "keys made for the run)")
      }
      return
    }
    do { try Endpoint.validate(workersBind) } catch {
      throw ValidationError("--workers-bind: \(error)")
    }
    if curveSecretKey == nil, !layout.insecure, !Endpoint.isLocal(workersBind) {
      throw ValidationError("\(TransportError.plaintextBind(workersBind))")
    }
  }

  /// Whether workers hold the model (local ones, or remote ones at --workers-bind).
  var usesWorkers: Bool { layout.isDistributed || workersBind != nil }

  /// --redis, else TESSERA_REDIS_URL.
  var redisURL: String? {
    redis
      ?? ProcessInfo.processInfo.environment["TESSERA_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
  }

  /// The engine these flags ask for (the Curve key files are read here).
  func engineSettings(workerRedis: String?, workerPrefixCacheMB: Int) throws
    -> EngineFactory.Settings
  {
    var engineLayout = layout.engineLayout
    var security: Coordinator.Security?
    if let workersBind {
      engineLayout = .remoteWorkers(
        tensorParallel: layout.tensorParallel, pipelineParallel: layout.pipelineParallel,
        bind: workersBind)
      if let curveSecretKey, let authorizedKeys {
        let keys = try CurveKeyPair.read(secretKeyFile: curveSecretKey)
        let allowed = try CurveKeyPair.read(publicKeysFile: authorizedKeys)
        guard !allowed.isEmpty else {
          throw ValidationError(
            "--authorized-keys \(authorizedKeys) holds no key: no worker could join")
        }
        security = Coordinator.Security(keys: keys, authorizedKeys: allowed)
      }
    }
    return EngineFactory.Settings(
      modelPath: model.model, layout: engineLayout, threads: threads.count,
      kvTokens: kvTokens, maxBatch: stepTokens, workerRedis: workerRedis,
      workerPrefixCacheMB: workerPrefixCacheMB, standbys: standby,
      workerTimeout: workerTimeout,
      standbyMode: Coordinator.StandbyMode(rawValue: standbyMode) ?? .warm, security: security,
      insecure: layout.insecure)
  }

  var address: (host: String, port: Int)? {
    guard let colon = listen.lastIndex(of: ":"),
      let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
    else { return nil }
    return (String(listen[..<colon]), port)
  }
}

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
        totalBlocks: (options.kvTokens + blockSize - 1) / blockSize))
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
        fragments: KVFragments(shard: .whole(config), headDimension: config.headDimension),
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
        1, options.prefixCacheMB / (layout.tensorParallel * layout.pipelineParallel)))
    let scheme = options.tlsCert == nil ? "http" : "https"
    let app = buildApplication(
      configuration, tokenizer: vocabulary.tokenizer,
      formatter: try? ChatFormatter(gguf: file, vocabulary: vocabulary),
      contextLength: config.contextLength, engine: .model(settings)
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
