import ArgumentParser
import Core
import Foundation
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
  @OptionGroup var context: ContextOption
  @Option(
    help: """
      KV cache capacity in tokens over all sequences (default: 16384, or --context when that \
      is more; at least --context).
      """)
  var kvTokens: Int?
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
    guard maxRunning >= 1, maxQueue >= 0, stepTokens >= 1, (kvTokens ?? 16) >= 16, maxTokens >= 1,
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
  func engineSettings(
    workerRedis: String?, workerPrefixCacheMB: Int, kvTokens: Int, context: Int
  ) throws -> EngineFactory.Settings {
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
      insecure: layout.insecure, contextLength: context)
  }

  /// The KV pool for a request context of `context` tokens: --kv-tokens, or 16384 and at
  /// least the context. A pool smaller than the context is allowed (a small machine, a test
  /// of preemption) with a warning: a request that needs more than the pool is refused.
  func resolvedKVTokens(context: Int) -> Int {
    guard let kvTokens else { return max(16_384, context) }
    if kvTokens < context {
      FileHandle.standardError.write(
        Data(
          ("tessera: --kv-tokens \(kvTokens) is less than --context \(context): a request "
            + "needing more than \(kvTokens) tokens of cache is refused\n").utf8))
    }
    return kvTokens
  }

  var address: (host: String, port: Int)? {
    guard let colon = listen.lastIndex(of: ":"),
      let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
    else { return nil }
    return (String(listen[..<colon]), port)
  }
}
