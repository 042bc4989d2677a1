import Foundation
import Router
import TestSupport
import Testing

/// The router serves Gemma 3 as it does SmolLM2: completions work (BOS once, as the model
/// asks), and chat answers 400, since this base model has no chat template.
@Suite(.serialized) struct GemmaServingTests {
  @Test func completionsWorkAndChatIsRefusedWithoutATemplate() throws {
    let router = try RouterProcess([
      "--model", ModelFiles.gemma3Path, "--kv-tokens", "2048", "--context", "1024",
    ])
    defer { router.stop() }
    let model = "gemma-3-270m-q4_k_m"
    let (status, body) = try router.post(
      "/v1/completions",
      json: [
        "model": model, "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0,
      ])
    #expect(status == 200, "\(body)")
    let choice = (body["choices"] as? [[String: Any]])?.first
    // llama.cpp's greedy continuation (../shared/golden/gemma3.json, raw1).
    #expect(
      (choice?["text"] as? String)?.hasPrefix(" the capital of the country of France") == true)
    let usage = body["usage"] as? [String: Any]
    #expect(usage?["prompt_tokens"] as? Int == 6)  // BOS and five tokens

    // --context is the longest prompt plus output one request may reach.
    let (longStatus, long) = try router.post(
      "/v1/completions",
      json: ["model": model, "prompt": "The capital of France is", "max_tokens": 1_020])
    #expect(longStatus == 400, "\(long)")
    let reason = ((long["error"] as? [String: Any])?["message"] as? String) ?? ""
    #expect(reason.contains("1024"), "\(long)")

    let (chatStatus, chat) = try router.post(
      "/v1/chat/completions",
      json: ["model": model, "messages": [["role": "user", "content": "Hi"]]])
    #expect(chatStatus == 400)
    let message = ((chat["error"] as? [String: Any])?["message"] as? String) ?? ""
    #expect(message.contains("no chat template"), "\(chat)")
  }

  /// A prompt well past the sliding window (~1,400 tokens) is kept as its chunks are
  /// computed, before the window pool lets go of their local-layer blocks, and comes back
  /// from the cache with the same output: from memory in the same router, from Redis (local
  /// layers only for the window) in a fresh one.
  @Test func aPromptPastTheWindowIsCachedAndGivesTheSameOutput() throws {
    let golden = try #require(try Golden.gemma3().cases.first { $0.name == "long_gpl" })
    let redis = try RedisServer()
    defer { redis.stop() }
    let body: [String: Any] = [
      "model": "gemma-3-270m-q4_k_m", "prompt": golden.prompt + "\n\n" + golden.prompt,
      "max_tokens": 6, "temperature": 0, "logprobs": 1,
    ]
    let arguments = [
      "--model", ModelFiles.gemma3Path, "--kv-tokens", "4096", "--context", "4096", "--threads",
      "2",
      "--redis",
      "redis://127.0.0.1:\(redis.port)",
    ]
    let first = try RouterProcess(arguments)
    let cold = try first.completion(body)
    #expect(first.metric("prefix_cache_hit_tokens_total") == 0 && cold.logprobs.count == 6)
    let local = try first.completion(body)
    let localHits = first.metric("prefix_cache_hit_tokens_total")
    #expect(localHits > 1_300, "\(localHits) tokens from the cache")
    #expect(local.text == cold.text && local.logprobs == cold.logprobs)
    first.stop()

    let second = try RouterProcess(arguments)
    defer { second.stop() }
    let fromRedis = try second.completion(body)
    let redisHits = second.metric("prefix_cache_hit_tokens_total")
    #expect(redisHits > 1_300, "\(redisHits) tokens from Redis")
    // Local layers' parts came only for the window: well under half of what every part of
    // every block would be (a part: 16 tokens × 256 × K and V in f16, 16 KiB).
    let blocks = redisHits / 16
    let everyPart = blocks * 18 * 16_384
    let read = second.metric("prefix_cache_read_bytes_total")
    #expect(read > blocks * 3 * 16_384 && read < everyPart * 6 / 10, "\(read) of \(everyPart)")
    #expect(fromRedis.text == cold.text && fromRedis.logprobs == cold.logprobs)
  }

  /// `--context` is checked against the model before anything starts.
  @Test func aContextTheModelOrThePoolCannotHoldIsAnError() throws {
    let tooLong = try TesseraProcess.run([
      "router", "--model", ModelFiles.gemma3Path, "--context", "40000", "--listen",
      "127.0.0.1:0",
    ])
    #expect(tooLong.status != 0)
    #expect(
      tooLong.stderr.contains("exceeds the model's context_length 32768"), "\(tooLong.stderr)")
    let generate = try TesseraProcess.run([
      "generate", "--model", ModelFiles.gemma3Path, "--context", "4", "--prompt",
      "The capital of France is", "--max-tokens", "4",
    ])
    #expect(generate.status != 0)
    #expect(generate.stderr.contains("context"), "\(generate.stderr)")
    let score = try TesseraProcess.run([
      "score", "--model", ModelFiles.gemma3Path, "--context", "3", "--prompt-ids", "2,651,6037",
      "--continuation-ids", "529,7001",
    ])
    #expect(score.status != 0 && score.stderr.contains("exceed the context (3)"), "\(score.stderr)")
  }

  /// On two workers, a greedy request's last stage sends each token's argmax, not 1 MB of
  /// Gemma's 262,144 logits, and the text is llama.cpp's; a request with logprobs still gets
  /// whole rows (and pays for them).
  @Test func greedyStepsShipTheArgmaxNotTheLogits() throws {
    let router = try RouterProcess([
      "--model", ModelFiles.gemma3Path, "--tp", "2", "--kv-tokens", "2048", "--context", "1024",
      "--threads", "1",
    ])
    defer { router.stop() }
    func controlBytes() throws -> (bytes: Int, tokens: Int) {
      let (_, data) = try router.get("/v1/cluster")
      let body = try JSONSerialization.jsonObject(with: data) as? [String: Any]
      let cluster = body?["cluster"] as? [String: Any]
      return (cluster?["control_bytes"] as? Int ?? -1, cluster?["tokens_stepped"] as? Int ?? -1)
    }
    let request: [String: Any] = [
      "model": "gemma-3-270m-q4_k_m", "prompt": "The capital of France is", "max_tokens": 8,
      "temperature": 0,
    ]
    /// The figures once the cluster status (refreshed twice a second) counts `tokens` more.
    func settled(after previous: (bytes: Int, tokens: Int), tokens: Int) throws -> (
      bytes: Int, tokens: Int
    ) {
      var now = try controlBytes()
      #expect(
        eventually(10) {
          now = (try? controlBytes()) ?? now
          return now.tokens >= previous.tokens + tokens
        })
      return now
    }
    let before = try controlBytes()
    let greedy = try router.completion(request)
    // Six prompt tokens (BOS and five) and seven decode steps.
    let after = try settled(after: before, tokens: 13)
    #expect(greedy.text?.hasPrefix(" the capital of the country of France") == true)
    let greedyBytes = after.bytes - before.bytes
    // 8 logit rows of a 2 × 131,072-logit vocabulary would be 8 MB; the argmax is bytes.
    #expect(greedyBytes > 0 && greedyBytes < 200_000, "\(greedyBytes) bytes for 8 tokens")

    var withLogprobs = request
    withLogprobs["logprobs"] = 1
    let full = try router.completion(withLogprobs)
    let last = try settled(after: after, tokens: 13)
    #expect(full.text == greedy.text && full.logprobs.count == 8)
    #expect(last.bytes - after.bytes > 8 * 262_144 * 4, "whole rows for logprobs")
  }
}
