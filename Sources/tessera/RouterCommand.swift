import ArgumentParser
import CProcess
import Core
import Foundation
import Hummingbird
import Router

struct RouterCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "router",
    abstract: "Serve the OpenAI-compatible HTTP API (one process, or local workers with --tp/--pp)."
  )

  @Option(help: "Where the HTTP API listens, HOST:PORT (port 0: any free port).")
  var listen = "127.0.0.1:8080"
  @OptionGroup var model: ModelOption
  @Option(help: "The model's id in the API (default: the file name without .gguf).")
  var modelID: String?
  @OptionGroup var threads: ThreadsOption
  @OptionGroup var layout: LayoutOption
  @Option(help: "Most sequences in the running batch.") var maxRunning = 16
  @Option(help: "Most requests waiting; more get 429.") var maxQueue = 256
  @Option(help: "Most tokens one engine step carries (decode plus prefill chunks).")
  var stepTokens = 256
  @Option(help: "KV cache capacity in tokens over all sequences.") var kvTokens = 16384
  @Option(help: "Most tokens a request may generate.") var maxTokens = 4096
  @Option(help: "Largest request body in bytes.") var maxBodyBytes = 1 << 20
  @Option(help: "Seconds a request may take.") var requestTimeout: Double = 600
  @Option(
    name: .customLong("api-key"),
    help:
      "A key clients must send as 'Authorization: Bearer KEY' (repeatable; also TESSERA_API_KEYS, comma-separated)."
  )
  var apiKeys: [String] = []
  /// Set by tests and launchers: exit when that process does.
  @Option(help: .hidden) var parentPID: Int32?

  func validate() throws {
    guard maxRunning >= 1, maxQueue >= 0, stepTokens >= 1, kvTokens >= 16, maxTokens >= 1,
      maxBodyBytes >= 1024, requestTimeout > 0
    else { throw ValidationError("limits must be positive") }
    guard address != nil else { throw ValidationError("--listen must be HOST:PORT") }
  }

  var address: (host: String, port: Int)? {
    guard let colon = listen.lastIndex(of: ":"),
      let port = Int(listen[listen.index(after: colon)...]),
      (0...65535).contains(port)
    else { return nil }
    return (String(listen[..<colon]), port)
  }

  func run() async throws {
    if let parentPID {
      _ = tessera_exit_with_parent(SIGTERM)
      if getppid() != parentPID { return }
    }
    let file = try model.open()
    let vocabulary = try Vocabulary(gguf: file)
    let config = try ModelConfig(gguf: file)
    let keys = Set(
      apiKeys
        + (ProcessInfo.processInfo.environment["TESSERA_API_KEYS"] ?? "").split(separator: ",")
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    let id =
      modelID ?? URL(fileURLWithPath: model.model).deletingPathExtension().lastPathComponent
    let loop = ServingLoop()
    let serving = ServingContext(
      options: .init(
        modelID: id, maxOutputTokens: maxTokens, maxBodyBytes: maxBodyBytes,
        requestTimeout: requestTimeout, apiKeys: keys),
      tokenizer: BPETokenizer(vocabulary: vocabulary),
      formatter: try? ChatFormatter(gguf: file, vocabulary: vocabulary),
      contextLength: config.contextLength, loop: loop,
      cluster: ClusterInfo(
        plan: layout.isDistributed
          ? try PartitionPlan(
            config: config, tensorParallel: layout.tensorParallel,
            pipelineParallel: layout.pipelineParallel) : nil))
    startEngine(file: file, config: config, vocabulary: vocabulary, serving: serving)
    guard let (host, port) = address else { return }
    let app = Application(
      router: RouterServer.makeRouter(serving),
      configuration: .init(address: .hostname(host, port: port), serverName: "tessera"),
      onServerRunning: { channel in
        let bound = channel.localAddress?.port ?? port
        // One unbuffered write: scripts and tests wait for this line.
        FileHandle.standardOutput.write(
          Data("tessera router: serving \(id) at http://\(host):\(bound)/v1\n".utf8))
      })
    try await app.runService()
    loop.stop()
  }

  /// Starts the thread that owns the engine and runs the serving loop on it.
  func startEngine(
    file: GGUFFile, config: ModelConfig, vocabulary: Vocabulary, serving: ServingContext
  ) {
    let modelPath = model.model
    let threadCount = threads.count
    let tp = layout.tensorParallel
    let pp = layout.pipelineParallel
    let transport = layout.transport
    let kvTokens = kvTokens
    let limits = Scheduler.Limits(
      maxRunning: maxRunning, maxQueued: maxQueue, stepTokens: stepTokens,
      blockSize: PagedKVCache.defaultBlockSize,
      totalBlocks: (kvTokens + PagedKVCache.defaultBlockSize - 1) / PagedKVCache.defaultBlockSize)
    let stepTokens = stepTokens
    let thread = Thread {
      let log = Log("router")
      do {
        if tp * pp > 1 {
          let cluster = try LocalCluster(
            modelPath: modelPath, config: config, fingerprint: ModelFingerprint.of(file),
            tensorParallel: tp, pipelineParallel: pp, threads: threadCount, kvTokens: kvTokens,
            maxBatch: stepTokens, transport: transport)
          serving.markReady(true)
          serving.loop.run(
            engine: ClusterEngine(coordinator: cluster.coordinator), vocabulary: vocabulary,
            limits: limits)
          cluster.stop()
        } else {
          let engine = InferenceEngine(
            model: try ModelLoader.load(file), threads: threadCount, maxBatch: stepTokens,
            kvTokens: kvTokens)
          serving.markReady(true)
          serving.loop.run(engine: engine, vocabulary: vocabulary, limits: limits)
        }
      } catch {
        log.error("the engine could not start: \(error)")
        Foundation.exit(1)
      }
    }
    thread.name = "tessera-serving"
    thread.start()
  }
}
