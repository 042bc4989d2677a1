import Core
import Foundation
import TestSupport
import Testing

/// The determinism contract across layouts, with real worker processes over tcp on 127.0.0.1:
/// `tessera generate --tp T --pp P --json` must give the same tokens and the same
/// `logits_sha256` as one process.
@Suite(.serialized) struct ClusterLayoutTests {
  struct Output: Decodable {
    struct Worker: Decodable {
      let name: String
      let stage: Int
      let rank: Int
      let weightBytes: Int
      enum CodingKeys: String, CodingKey {
        case name, stage, rank
        case weightBytes = "weight_bytes"
      }
    }
    struct WireBytes: Decodable {
      let dataPlane: Double
      let control: Double
      enum CodingKeys: String, CodingKey {
        case dataPlane = "data_plane"
        case control
      }
    }
    let tokens: [Int32]
    let text: String
    let logitsSHA256: String
    let workers: [Worker]
    let wireBytesPerToken: WireBytes?
    enum CodingKeys: String, CodingKey {
      case tokens, text, workers
      case logitsSHA256 = "logits_sha256"
      case wireBytesPerToken = "wire_bytes_per_token"
    }
  }

  static let prompt = "The quick brown fox jumps over the lazy dog. Then the fox"

  func generate(
    tp: Int, pp: Int, threads: Int, maxTokens: Int = 8, sampling: [String] = [],
    model: String = ModelFiles.smolLM2Path
  ) throws -> Output {
    let result = try TesseraProcess.run(
      [
        "generate", "--json", "--prompt", Self.prompt, "--max-tokens", String(maxTokens),
        "--threads", String(threads), "--tp", String(tp), "--pp", String(pp), "--model", model,
      ] + sampling)
    #expect(result.status == 0, "TP\(tp)×PP\(pp): \(result.stderr)")
    return try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
  }

  /// Gemma 3 on every layout gives one process's bits: its one KV head is read (and
  /// computed) by every rank, its 4 query heads split as attention units — TP2 is 2+2, TP3
  /// 2+1+1 — and TP5 is refused with a clear error.
  @Test func gemmaOnEveryLayoutGivesTheSameTokensAndLogits() throws {
    _ = try ModelFiles.gemma3()
    let reference = try generate(tp: 1, pp: 1, threads: 1, model: ModelFiles.gemma3Path)
    for (tp, pp) in [(1, 2), (2, 1), (3, 1), (2, 2)] {
      let output = try generate(tp: tp, pp: pp, threads: 1, model: ModelFiles.gemma3Path)
      #expect(output.tokens == reference.tokens, "TP\(tp)×PP\(pp)")
      #expect(output.logitsSHA256 == reference.logitsSHA256, "TP\(tp)×PP\(pp)")
      #expect(output.workers.count == tp * pp)
    }
    let refused = try TesseraProcess.run(
      ["generate", "--model", ModelFiles.gemma3Path, "--prompt", "Hi", "--tp", "5"])
    #expect(refused.status != 0)
    #expect(refused.stderr.contains("query heads"), "\(refused.stderr)")
  }

  @Test func everyLayoutGivesTheSameTokensAndLogits() throws {
    _ = try ModelFiles.smolLM2()  // a clear failure when the model is missing
    let reference = try generate(tp: 1, pp: 1, threads: 1)
    #expect(reference.tokens.count == 8 && reference.workers.isEmpty)
    let layouts = [(1, 1, 2), (2, 1, 1), (3, 1, 1), (1, 2, 1), (1, 3, 1), (2, 2, 1), (3, 2, 1)]
    for (tp, pp, threads) in layouts {
      let output = try generate(tp: tp, pp: pp, threads: threads)
      #expect(output.tokens == reference.tokens, "TP\(tp)×PP\(pp), \(threads) threads")
      #expect(
        output.logitsSHA256 == reference.logitsSHA256, "TP\(tp)×PP\(pp), \(threads) threads")
      #expect(output.workers.count == (tp * pp > 1 ? tp * pp : 0))
      if tp * pp > 1 {
        // Reported, not bounded: bytes on the wire per token (prompt and generated).
        let bytes = try #require(output.wireBytesPerToken)
        print(
          "TP\(tp)×PP\(pp): \(Int(bytes.dataPlane)) B/token worker to worker, "
            + "\(Int(bytes.control)) B/token router to and from workers")
        #expect(bytes.dataPlane > 0 && bytes.control > 0)
      }
    }
  }

  @Test func samplingGivesTheSameTokensOnTwoThreadsAndAcrossLayouts() throws {
    let sampling = ["--temperature", "0.9", "--top-p", "0.95", "--seed", "7"]
    let reference = try generate(tp: 1, pp: 1, threads: 1, maxTokens: 16, sampling: sampling)
    for (tp, pp) in [(2, 2), (3, 1)] {
      let output = try generate(tp: tp, pp: pp, threads: 2, maxTokens: 16, sampling: sampling)
      #expect(output.tokens == reference.tokens, "TP\(tp)×PP\(pp)")
      #expect(output.logitsSHA256 == reference.logitsSHA256, "TP\(tp)×PP\(pp)")
    }
  }

  /// Each worker holds only its shard: the shard's share of the layers' weights, plus the
  /// token embedding on the first stage and a vocabulary slice of the output on the last.
  @Test func eachWorkerHoldsOnlyItsShard() throws {
    let file = try ModelFiles.smolLM2()
    let whole = try ModelLoader.load(file)
    let config = whole.config
    let embedding = try #require(file.tensor(named: "token_embd.weight"))
    let embeddingBytes = embedding.rowByteCount * config.vocabularySize
    let layerBytes = whole.weightByteCount - embeddingBytes
    for (tp, pp) in [(3, 2), (2, 2), (1, 3)] {
      let output = try generate(tp: tp, pp: pp, threads: 1, maxTokens: 2)
      let plan = try PartitionPlan(config: config, tensorParallel: tp, pipelineParallel: pp)
      #expect(output.workers.count == tp * pp)
      var layerTotal = 0
      for worker in output.workers {
        let shard = plan.shard(Slot(stage: worker.stage, rank: worker.rank))
        let vocabularyBytes =
          (shard.holdsEmbedding ? embeddingBytes : 0)
          + (shard.holdsEmbedding ? 0 : (shard.vocabulary?.count ?? 0) * embedding.rowByteCount)
        let own = worker.weightBytes - vocabularyBytes
        layerTotal += own
        // Its layers' share, by the larger of its KV-group and FFN-unit fractions.
        let fraction = max(
          Double(shard.kvGroups.count) / Double(config.headCountKV),
          Double(shard.ffnUnits.count) / 6)
        let share = Double(layerBytes) * Double(shard.layers.count) / Double(config.layerCount)
        #expect(own > 0 && Double(own) <= share * fraction * 1.02, "\(worker.name): \(own)")
      }
      // Together they hold every layer once (norm vectors are repeated per rank).
      #expect(abs(Double(layerTotal - layerBytes)) <= Double(layerBytes) * 0.01, "TP\(tp)×PP\(pp)")
    }
  }

  @Test func impossiblePlansAreClearErrors() throws {
    let result = try TesseraProcess.run(
      ["generate", "--prompt", "hi", "--max-tokens", "1", "--tp", "4"])
    #expect(result.status != 0)
    #expect(result.stderr.contains("TP=4 needs at least 4 KV heads; the model has 3"))
    let stages = try TesseraProcess.run(
      ["generate", "--prompt", "hi", "--max-tokens", "1", "--pp", "31"])
    #expect(stages.status != 0)
    #expect(stages.stderr.contains("PP=31 needs at least 31 layers; the model has 30"))
  }
}
