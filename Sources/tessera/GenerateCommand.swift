import ArgumentParser
import Core
import Foundation
import Router

struct GenerateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Generate text from a prompt, on this process or on local workers (--tp/--pp).")

  @OptionGroup var model: ModelOption
  @Option(help: "The prompt text (special tokens such as <|im_start|> are parsed).")
  var prompt: String
  @Flag(help: "Treat the prompt as one user message and apply the model's chat template.")
  var chat = false
  @Option(help: "Most tokens to generate.") var maxTokens = 128
  @OptionGroup var sampling: SamplingOptions
  @OptionGroup var context: ContextOption
  @OptionGroup var threads: ThreadsOption
  @OptionGroup var layout: LayoutOption
  @Flag(
    help: """
      Print one JSON object: prompt_tokens, tokens, text, finish_reason, timings, \
      logits_sha256 (over every generated step's raw f32 logits), and per-worker weight bytes.
      """)
  var json = false

  func validate() throws {
    guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be at least 0") }
  }

  func run() throws {
    let file = try model.open()
    let vocabulary = try Vocabulary(gguf: file)
    let text =
      chat
      ? try ChatFormatter(gguf: file, vocabulary: vocabulary).render([
        ChatMessage(role: "user", content: prompt)
      ]) : prompt
    let promptTokens = vocabulary.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
    let parameters = try sampling.parameters()
    let config = try ModelConfig(gguf: file)
    let context = try self.context.resolve(config)
    let kvTokens = min(promptTokens.count + maxTokens + 1, context)
    if layout.isDistributed { exitOnInterrupt() }
    let built = try EngineFactory.model(
      .init(
        modelPath: model.model, layout: layout.engineLayout, threads: threads.count,
        kvTokens: kvTokens, insecure: layout.insecure, contextLength: context)
    ).make()
    defer { built.stop() }
    let cluster = built.cluster
    guard let engine = built.tokens else { return }
    var detokenizer = StreamingDetokenizer(vocabulary: vocabulary)
    var output = ""
    var logitsHash = SHA256()
    let result = try Generator(engine: engine, vocabulary: vocabulary).generate(
      prompt: promptTokens, maxTokens: maxTokens, sampling: parameters
    ) { token, logits in
      logitsHash.update(floats: logits)
      guard !vocabulary.endOfGenerationIDs.contains(token) else { return }
      let piece = detokenizer.append(token)
      output += piece
      if !json {
        FileHandle.standardOutput.write(Data(piece.utf8))
      }
    }
    let tail = detokenizer.finish()
    output += tail
    built.stop()  // the workers' final reports (wire bytes) arrive as they exit
    if json {
      try printJSON(
        GenerateOutput(
          promptTokens: result.promptTokens, tokens: result.tokens, text: output,
          finishReason: result.finishReason.rawValue,
          timings: .init(
            promptMs: result.promptMilliseconds, generateMs: result.generateMilliseconds),
          logitsSHA256: SHA256.hex(logitsHash.finalize()),
          workers: cluster.map(Self.workerReport) ?? [],
          wireBytesPerToken: cluster.map {
            let bytes = $0.coordinator.wireBytesPerToken
            return WireBytes(dataPlane: bytes.dataPlane, control: bytes.control)
          }))
    } else {
      print(tail)
      let rate = Double(result.tokens.count) / max(result.generateMilliseconds / 1000, 1e-9)
      FileHandle.standardError.write(
        Data(
          String(
            format:
              "\n[%d prompt tokens in %.1f ms, %d generated in %.1f ms (%.1f tok/s), %@, "
              + "peak RSS %.1f MB]\n",
            result.promptTokens.count, result.promptMilliseconds, result.tokens.count,
            result.generateMilliseconds, rate, result.finishReason.rawValue,
            Double(ProcessStats.peakResidentBytes) / 1e6
          ).utf8))
    }
  }
}

extension GenerateCommand {
  static func workerReport(_ cluster: LocalCluster) -> [WorkerReport] {
    cluster.coordinator.membership.assigned.compactMap { member in
      member.slot.map {
        WorkerReport(
          name: member.hello.name, stage: $0.stage, rank: $0.rank,
          weightBytes: member.weightBytes)
      }
    }
  }
}

/// One worker of a local cluster, as `--json` reports it.
struct WorkerReport: Encodable {
  let name: String
  let stage: Int
  let rank: Int
  let weightBytes: Int

  enum CodingKeys: String, CodingKey {
    case name, stage, rank
    case weightBytes = "weight_bytes"
  }
}

/// Bytes on the wire per token of a local cluster run.
struct WireBytes: Encodable {
  let dataPlane: Double
  let control: Double

  enum CodingKeys: String, CodingKey {
    case dataPlane = "data_plane"
    case control
  }
}

struct GenerateOutput: Encodable {
  struct Timings: Encodable {
    let promptMs: Double
    let generateMs: Double
    enum CodingKeys: String, CodingKey {
      case promptMs = "prompt_ms"
      case generateMs = "generate_ms"
    }
  }
  let promptTokens: [TokenID]
  let tokens: [TokenID]
  let text: String
  let finishReason: String
  let timings: Timings
  let logitsSHA256: String
  /// Empty for a one-process run.
  let workers: [WorkerReport]
  let wireBytesPerToken: WireBytes?

  enum CodingKeys: String, CodingKey {
    case promptTokens = "prompt_tokens"
    case tokens, text
    case finishReason = "finish_reason"
    case timings
    case logitsSHA256 = "logits_sha256"
    case workers
    case wireBytesPerToken = "wire_bytes_per_token"
  }
}

/// `--threads N`, defaulting to the machine's cores.
struct ThreadsOption: ParsableArguments {
  @Option(name: .customLong("threads"), help: "Compute threads (default: all cores).")
  var count: Int = ProcessInfo.processInfo.activeProcessorCount

  func validate() throws {
    guard (1...256).contains(count) else { throw ValidationError("--threads must be 1...256") }
  }
}

/// The sampling flags shared by `generate` (and later the router's defaults).
struct SamplingOptions: ParsableArguments {
  @Option(help: "0 is greedy.") var temperature: Float = 0
  @Option(help: "Keep the k most likely tokens (0 = off).") var topK = 0
  @Option(help: "Nucleus sampling mass (1 = off).") var topP: Float = 1
  @Option(help: "Drop tokens below min-p × the top probability (0 = off).") var minP: Float = 0
  @Option(help: "llama.cpp-style repetition penalty (1 = off).") var repeatPenalty: Float = 1
  @Option(help: "OpenAI presence penalty.") var presencePenalty: Float = 0
  @Option(help: "OpenAI frequency penalty.") var frequencyPenalty: Float = 0
  @Option(help: "RNG seed (default: random, printed to stderr when sampling).") var seed: UInt64?

  func parameters() throws -> SamplingParameters {
    let chosenSeed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
    if seed == nil && temperature > 0 {
      FileHandle.standardError.write(Data("[seed \(chosenSeed)]\n".utf8))
    }
    do {
      return try SamplingParameters(
        temperature: temperature, topK: topK, topP: topP, minP: minP,
        repetitionPenalty: repeatPenalty, presencePenalty: presencePenalty,
        frequencyPenalty: frequencyPenalty, seed: chosenSeed
      ).validated()
    } catch {
      throw ValidationError("\(error)")
    }
  }
}
