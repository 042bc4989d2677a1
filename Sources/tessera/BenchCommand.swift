import ArgumentParser
import CKernels
import Core
import Foundation

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Prompt and generation throughput, measured the way llama-bench does.")

  @OptionGroup var model: ModelOption
  @OptionGroup var threads: ThreadsOption
  @Option(help: "Prompt tokens, processed as one batch from an empty cache.") var promptTokens = 512
  @Option(help: "Generated tokens, single-token steps from an empty cache.") var genTokens = 128
  @Option(help: "Timed repetitions after one warm-up; the median is reported.") var repetitions = 3
  @Option(
    help: """
      Memory bandwidth in GB/s that decode's ceiling is computed from (decode streams every \
      weight once per token). Default: 43, one core of the project's reference machine.
      """)
  var memoryBandwidth: Double = 43
  @Flag(help: "Print one JSON object.") var json = false

  func validate() throws {
    guard memoryBandwidth > 0 else { throw ValidationError("--memory-bandwidth must be > 0") }
    guard promptTokens >= 1, genTokens >= 1, (1...100).contains(repetitions) else {
      throw ValidationError("--prompt-tokens and --gen-tokens must be ≥ 1, --repetitions 1...100")
    }
  }

  func run() throws {
    let file = try model.open()
    let loaded = try ModelLoader.load(file)
    let context = loaded.config.contextLength
    guard promptTokens <= context, genTokens <= context else {
      throw ValidationError("token counts must fit the context (\(context))")
    }
    let engine = InferenceEngine(
      model: loaded, threads: threads.count, maxBatch: max(promptTokens, 1),
      kvTokens: max(promptTokens, genTokens))
    var generator = SplitMix64(seed: 1234)
    let vocabulary = loaded.config.vocabularySize
    let prompt = (0..<promptTokens).map { _ in TokenID(generator.next() % UInt64(vocabulary)) }
    let steps = (0..<genTokens).map { _ in TokenID(generator.next() % UInt64(vocabulary)) }

    func timePrompt() throws -> Double {
      let start = Clock.now()
      _ = try engine.stepKeepingLogits([
        .init(sequence: 0, tokens: prompt, logitRows: [prompt.count - 1])
      ])
      let elapsed = Clock.now() - start
      engine.release(sequence: 0)
      return elapsed
    }
    func timeGeneration() throws -> Double {
      let start = Clock.now()
      for token in steps {
        _ = try engine.decode(sequence: 0, token: token)
      }
      let elapsed = Clock.now() - start
      engine.release(sequence: 0)
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
    let ceiling = memoryBandwidth * 1e9 / Double(loaded.weightByteCount)
    let result = BenchOutput(
      promptTokPerS: promptRate, genTokPerS: genRate, threads: engine.pool.threadCount,
      promptTokens: promptTokens, genTokens: genTokens, repetitions: repetitions,
      weightBytes: loaded.weightByteCount, decodeCeilingTokPerS: ceiling,
      bandwidthFraction: genRate / ceiling, kernels: String(cString: tk_kernel_name()))
    if json {
      try printJSON(result)
    } else {
      print("| test | threads | tok/s |")
      print("|---|---|---|")
      print(String(format: "| pp%d | %d | %.1f |", promptTokens, result.threads, promptRate))
      print(String(format: "| tg%d | %d | %.1f |", genTokens, result.threads, genRate))
      print(
        String(
          format: "decode: %.0f%% of the %.0f tok/s bandwidth ceiling "
            + "(%.1f MB of weights at %.0f GB/s); kernels: %@",
          100 * result.bandwidthFraction, ceiling, Double(loaded.weightByteCount) / 1e6,
          memoryBandwidth, result.kernels))
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
  let promptTokens: Int
  let genTokens: Int
  let repetitions: Int
  let weightBytes: Int
  let decodeCeilingTokPerS: Double
  let bandwidthFraction: Double
  let kernels: String

  enum CodingKeys: String, CodingKey {
    case promptTokPerS = "prompt_tok_per_s"
    case genTokPerS = "gen_tok_per_s"
    case threads
    case promptTokens = "prompt_tokens"
    case genTokens = "gen_tokens"
    case repetitions
    case weightBytes = "weight_bytes"
    case decodeCeilingTokPerS = "decode_ceiling_tok_per_s"
    case bandwidthFraction = "bandwidth_fraction"
    case kernels
  }
}
