import ArgumentParser
import CKernels
import Core
import Foundation
import Router

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Prompt and generation throughput, measured the way llama-bench does.",
    discussion: """
      With --tp/--pp the model runs on T×P local worker processes of --threads threads each.
      With --sequences N, generation also runs N sequences at once: one batched step per
      token on one process; on workers, split into one micro-batch per pipeline stage, kept
      in flight together (pipelining).
      """)

  @OptionGroup var model: ModelOption
  @OptionGroup var context: ContextOption
  @OptionGroup var threads: ThreadsOption
  @OptionGroup var layout: LayoutOption
  @Option(help: "Also measure generation with this many sequences in flight (0: off).")
  var sequences = 0
  @Option(help: "Prompt tokens, processed as one batch from an empty cache.") var promptTokens = 512
  @Option(help: "Generated tokens, single-token steps after --gen-context tokens.")
  var genTokens = 128
  @Option(
    help: """
      Tokens in the cache before generation starts (prefilled, not timed), as a prompt \
      precedes a reply; 0 generates from an empty cache as llama-bench does.
      """)
  var genContext = 0
  @Option(help: "Timed repetitions after one warm-up; the median is reported.") var repetitions = 3
  @Option(
    help: """
      Memory bandwidth in GB/s that decode's ceiling is computed from (decode streams every \
      weight once per token). Default: this core's streaming read bandwidth, measured first \
      (the fastest of scalar, AVX2 and AVX-512 read loops over 1 GiB).
      """)
  var memoryBandwidth: Double?
  @Option(
    help: """
      Runs no kernel set above this one: portable, avx2, avxvnni or avx512vnni (default: \
      TESSERA_KERNELS, else the best this CPU has).
      """)
  var kernels: String?
  @Flag(help: "Print one JSON object.") var json = false

  func validate() throws {
    if let memoryBandwidth, !(memoryBandwidth > 0) {
      throw ValidationError("--memory-bandwidth must be > 0")
    }
    if let kernels { _ = try KernelLevel.named(kernels, from: "--kernels") }
    guard promptTokens >= 1, genTokens >= 1, (1...100).contains(repetitions) else {
      throw ValidationError("--prompt-tokens and --gen-tokens must be ≥ 1, --repetitions 1...100")
    }
    guard (0...256).contains(sequences) else {
      throw ValidationError("--sequences must be 0...256")
    }
  }

  func run() throws {
    if let kernels { KernelLevel.cap(try KernelLevel.named(kernels, from: "--kernels")) }
    // Measured before the model is loaded, so that its buffer and the weights do not compete.
    let bandwidth =
      try memoryBandwidth.map { ReadBandwidth(gigabytesPerSecond: $0) }
      ?? ReadBandwidth.measure()
    let file = try model.open()
    let config = try ModelConfig(gguf: file)
    let context = try self.context.resolve(config)
    guard promptTokens <= context, genContext + genTokens <= context, genContext >= 0 else {
      throw ValidationError("token counts must fit the context (\(context))")
    }
    let kvTokens = max(
      promptTokens, genContext + genTokens * max(sequences, 1) + 64 * max(sequences, 1))
    // The context before generation goes in chunks of 512, as llama-bench's ubatches.
    let contextChunk = 512
    let maxBatch = max(promptTokens, min(genContext, contextChunk), sequences, 1)
    if layout.isDistributed { exitOnInterrupt() }
    let built = try EngineFactory.model(
      .init(
        modelPath: model.model, layout: layout.engineLayout, threads: threads.count,
        kvTokens: kvTokens, maxBatch: maxBatch, insecure: layout.insecure, contextLength: context)
    ).make()
    defer { built.stop() }
    let target: BenchTarget
    let weightBytes: Int
    if let process = built.process {
      target = .local(process)
      weightBytes = process.model.weightByteCount
    } else if let engine = built.clusterEngine {
      target = .cluster(engine)
      weightBytes = try ModelLoader.load(file).weightByteCount  // what the workers hold
    } else {
      return
    }
    var generator = SplitMix64(seed: 1234)
    let vocabulary = config.vocabularySize
    let prompt = (0..<promptTokens).map { _ in TokenID(generator.next() % UInt64(vocabulary)) }
    let steps = (0..<genTokens).map { _ in TokenID(generator.next() % UInt64(vocabulary)) }
    let genPrefix = (0..<genContext).map { _ in TokenID(generator.next() % UInt64(vocabulary)) }

    func timePrompt() throws -> Double {
      let start = SystemClock.now()
      try target.step([.init(sequence: 0, tokens: prompt, logitRows: [prompt.count - 1])])
      let elapsed = SystemClock.now() - start
      target.release(0)
      return elapsed
    }
    var kvBytes: Int?
    func timeGeneration() throws -> Double {
      for start in stride(from: 0, to: genPrefix.count, by: maxBatch) {
        let chunk = Array(genPrefix[start..<min(start + maxBatch, genPrefix.count)])
        try target.step([.init(sequence: 0, tokens: chunk, logitRows: [chunk.count - 1])])
      }
      let start = SystemClock.now()
      for token in steps {
        try target.step([.init(sequence: 0, tokens: [token], logitRows: [0])])
      }
      let elapsed = SystemClock.now() - start
      kvBytes = target.kvBytesInUse
      target.release(0)
      return elapsed
    }
    _ = try timePrompt()
    _ = try timeGeneration()
    var promptTimes: [Double] = []
    var genTimes: [Double] = []
    for _ in 0..<repetitions {
      promptTimes.append(try timePrompt())
      genTimes.append(try timeGeneration())
    }
    let promptRate = Double(promptTokens) / median(promptTimes)
    let genRate = Double(genTokens) / median(genTimes)
    var aggregateRate: Double?
    if sequences > 0 {
      aggregateRate = try target.aggregateDecodeRate(
        sequences: sequences, tokens: steps, microBatches: layout.pipelineParallel)
    }
    let ceiling = bandwidth.gigabytesPerSecond * 1e9 / Double(weightBytes)
    let result = BenchOutput(
      promptTokPerS: promptRate, genTokPerS: genRate, threads: threads.count,
      tensorParallel: layout.tensorParallel, pipelineParallel: layout.pipelineParallel,
      sequences: sequences, aggregateGenTokPerS: aggregateRate,
      promptTokens: promptTokens, genTokens: genTokens, genContext: genContext,
      repetitions: repetitions,
      weightBytes: weightBytes, decodeCeilingTokPerS: ceiling,
      bandwidthFraction: genRate / ceiling, memoryBandwidthGBps: bandwidth.gigabytesPerSecond,
      memoryBandwidthSource: bandwidth.source, kernels: KernelLevel.current.rawValue,
      kvCacheBytes: kvBytes)
    if json {
      try printJSON(result)
    } else {
      print("| test | threads | tok/s |")
      print("|---|---|---|")
      print(String(format: "| pp%d | %d | %.1f |", promptTokens, result.threads, promptRate))
      let depth = genContext > 0 ? " @ d\(genContext)" : ""
      print(String(format: "| tg%d%@ | %d | %.1f |", genTokens, depth, result.threads, genRate))
      if let aggregateRate {
        print(
          String(
            format: "| tg%d × %d sequences | %d | %.1f |", genTokens, sequences, result.threads,
            aggregateRate))
      }
      if layout.isDistributed {
        print("layout: TP=\(layout.tensorParallel) × PP=\(layout.pipelineParallel) local workers")
      }
      if let kvBytes {
        print(
          String(
            format: "KV cache after %d tokens: %.1f MiB", genContext + genTokens,
            Double(kvBytes) / 1_048_576))
      }
      print(
        String(
          format: "decode: %.0f%% of the %.0f tok/s bandwidth ceiling "
            + "(%.1f MB of weights at %.1f GB/s, %@); kernels: %@",
          100 * result.bandwidthFraction, ceiling, Double(weightBytes) / 1e6,
          bandwidth.gigabytesPerSecond, bandwidth.source, result.kernels))
    }
  }

  private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
  }
}

struct BenchOutput: Encodable {
  let promptTokPerS: Double
  let genTokPerS: Double
  let threads: Int
  let tensorParallel: Int
  let pipelineParallel: Int
  let sequences: Int
  let aggregateGenTokPerS: Double?
  let promptTokens: Int
  let genTokens: Int
  let genContext: Int
  let repetitions: Int
  let weightBytes: Int
  let decodeCeilingTokPerS: Double
  let bandwidthFraction: Double
  let memoryBandwidthGBps: Double
  /// Where the bandwidth comes from: "given" (--memory-bandwidth) or the read loop measured.
  let memoryBandwidthSource: String
  let kernels: String
  /// K and V bytes the cache held at the end of a generation run (this process only).
  let kvCacheBytes: Int?

  enum CodingKeys: String, CodingKey {
    case kvCacheBytes = "kv_cache_bytes"
    case promptTokPerS = "prompt_tok_per_s"
    case genTokPerS = "gen_tok_per_s"
    case threads
    case tensorParallel = "tp"
    case pipelineParallel = "pp"
    case sequences
    case aggregateGenTokPerS = "aggregate_gen_tok_per_s"
    case promptTokens = "prompt_tokens"
    case genTokens = "gen_tokens"
    case genContext = "gen_context"
    case repetitions
    case weightBytes = "weight_bytes"
    case decodeCeilingTokPerS = "decode_ceiling_tok_per_s"
    case bandwidthFraction = "bandwidth_fraction"
    case memoryBandwidthGBps = "memory_bandwidth_gbps"
    case memoryBandwidthSource = "memory_bandwidth_source"
    case kernels
  }
}

/// The single-core read bandwidth decode's ceiling is computed from.
struct ReadBandwidth {
  let gigabytesPerSecond: Double
  let source: String

  init(gigabytesPerSecond: Double, source: String = "given") {
    self.gigabytesPerSecond = gigabytesPerSecond
    self.source = source
  }

  /// Each read loop streams a 256 MiB buffer (beyond any cache here) four times: 1 GiB.
  static func measure() throws -> ReadBandwidth {
    var fastest: Int32 = 0
    let rate = tk_read_bandwidth(256 << 20, 4, &fastest)
    guard rate > 0 else {
      throw ValidationError(
        "could not allocate 256 MiB to measure bandwidth; pass --memory-bandwidth")
    }
    let loops = ["scalar", "avx2", "avx512"]
    return ReadBandwidth(
      gigabytesPerSecond: rate / 1e9, source: "measured, \(loops[Int(fastest)]) read loop")
  }
}

/// What the benchmark runs on: this process, or local workers.
enum BenchTarget {
  case local(InferenceEngine)
  case cluster(ClusterEngine)

  func step(_ entries: [StepCommand.Entry]) throws {
    switch self {
    case .local(let engine):
      _ = try engine.stepKeepingLogits(entries)
    case .cluster(let engine): _ = try engine.step(entries)
    }
  }

  /// The KV bytes this process's cache holds (nil on workers).
  var kvBytesInUse: Int? {
    switch self {
    case .local(let engine): engine.cache.bytesInUse
    case .cluster: nil
    }
  }

  func release(_ sequence: Int) {
    switch self {
    case .local(let engine): engine.release(sequence: sequence)
    case .cluster(let engine): engine.release(sequence: sequence)
    }
  }

  /// Decode tok/s over all sequences with `sequences` in flight: each gets a 16-token prompt,
  /// then every sequence takes one token per round. On workers the sequences are split into
  /// `microBatches` groups; a group's next step goes out as soon as its last one returns, so
  /// each pipeline stage works on a different group.
  func aggregateDecodeRate(sequences: Int, tokens: [TokenID], microBatches: Int) throws -> Double {
    let ids = (1...sequences).map { $0 }
    for id in ids {
      try step([.init(sequence: id, tokens: Array(repeating: 1, count: 16), logitRows: [15])])
    }
    func entries(_ group: ArraySlice<Int>, _ token: TokenID) -> [StepCommand.Entry] {
      group.map { .init(sequence: $0, tokens: [token], logitRows: [0]) }
    }
    let start = SystemClock.now()
    switch self {
    case .local:
      for token in tokens { try step(entries(ids[...], token)) }
    case .cluster(let engine):
      let count = max(1, min(microBatches, sequences))
      let groups = (0..<count).map { index in
        ids[(index * sequences / count)..<((index + 1) * sequences / count)]
      }
      let coordinator = engine.coordinator
      var logits: [Float] = []
      var inFlight = try groups.map { try coordinator.submit(entries($0, tokens[0])) }
      for token in tokens.dropFirst() {
        for (index, group) in groups.enumerated() {
          try coordinator.collect(inFlight[index], into: &logits)
          inFlight[index] = try coordinator.submit(entries(group, token))
        }
      }
      for id in inFlight { try coordinator.collect(id, into: &logits) }
    }
    let elapsed = SystemClock.now() - start
    for id in ids { release(id) }
    return Double(sequences * tokens.count) / elapsed
  }
}
