import Core
import Foundation
import RedisClient
import Router
import TestSupport
import Testing

/// The HTTP API of a real `tessera router` process, over loopback.
@Suite(.serialized) struct RouterAPITests {
  static let model = "SmolLM2-135M-Instruct.Q4_1"
  /// A ~470-token prompt for the fragment cache's tests.
  static let document = (1...40).map { "Line \($0): the lighthouse keeper counted ships." }
    .joined(separator: "\n")
  /// A router of the test's own, stopped when the test ends (`defer`), whatever happens.
  func startRouter() throws -> RouterProcess {
    try RouterProcess(["--threads", "2", "--max-running", "8"])
  }

  func text(_ response: [String: Any], choice: Int = 0) -> String? {
    let choices = response["choices"] as? [[String: Any]]
    guard let entry = choices?.first(where: { $0["index"] as? Int == choice }) else { return nil }
    if let message = entry["message"] as? [String: Any] { return message["content"] as? String }
    return entry["text"] as? String
  }

  /// The `data:` of each event of an SSE body, `[DONE]` included.
  func events(_ data: Data) -> [String] { sseEvents(data).map(\.data) }

  /// Each event of an SSE body: its `id:` field (nil without one) and its `data:`.
  func sseEvents(_ data: Data) -> [(id: String?, data: String)] {
    String(decoding: data, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
      let lines = block.split(separator: "\n")
      guard let data = lines.first(where: { $0.hasPrefix("data: ") }) else { return nil }
      let id = lines.first { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
      return (id, String(data.dropFirst(6)))
    }
  }

  func streamedText(_ data: Data) -> String {
    events(data).dropLast().compactMap { event -> String? in
      guard
        let object = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any],
        let choices = object["choices"] as? [[String: Any]], let first = choices.first
      else { return nil }
      if let delta = first["delta"] as? [String: Any] { return delta["content"] as? String }
      return first["text"] as? String
    }.joined()
  }

  @Test func greedyCompletionEqualsTheCLI() throws {
    let router = try startRouter()
    defer { router.stop() }
    let prompt = "The capital of France is"
    let cli = try TesseraProcess.run([
      "generate", "--json", "--prompt", prompt, "--max-tokens", "12", "--threads", "1",
    ])
    let expected = try #require(
      try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])
    let (status, response) = try router.post(
      "/v1/completions",
      json: ["model": Self.model, "prompt": prompt, "max_tokens": 12, "temperature": 0])
    #expect(status == 200)
    #expect(text(response) == expected["text"] as? String)
    let usage = try #require(response["usage"] as? [String: Int])
    #expect(usage["prompt_tokens"] == 5 && usage["completion_tokens"] == 12)
    #expect(
      (response["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "length")
  }

  @Test func streamingGivesTheSameTextAsOneResponse() throws {
    let router = try startRouter()
    defer { router.stop() }
    let request: [String: Any] = [
      "model": Self.model, "messages": [["role": "user", "content": "Name three colors."]],
      "max_tokens": 24, "temperature": 0.7, "seed": 42,
    ]
    let (status, whole) = try router.post("/v1/chat/completions", json: request)
    #expect(status == 200)
    var streaming = request
    streaming["stream"] = true
    streaming["stream_options"] = ["include_usage": true]
    let (streamStatus, body) = try router.request(
      "POST", "/v1/chat/completions", body: try JSONSerialization.data(withJSONObject: streaming))
    #expect(streamStatus == 200)
    let all = events(body)
    #expect(all.last == "[DONE]")
    #expect(streamedText(body) == text(whole))
    #expect(all.dropLast().last?.contains("\"usage\"") == true)
    // Every event is numbered, 0, 1, 2, … in order.
    #expect(sseEvents(body).map(\.id) == (0..<all.count).map { String($0) })
  }

  @Test func seedsReproduceAndChoicesDiffer() throws {
    let router = try startRouter()
    defer { router.stop() }
    let request: [String: Any] = [
      "model": Self.model, "prompt": "Once upon a time", "max_tokens": 16, "temperature": 1.0,
      "seed": 7, "n": 2,
    ]
    let (_, first) = try router.post("/v1/completions", json: request)
    let (_, second) = try router.post("/v1/completions", json: request)
    #expect(text(first, choice: 0) != nil && text(first, choice: 0) == text(second, choice: 0))
    #expect(text(first, choice: 1) == text(second, choice: 1))
    #expect(text(first, choice: 0) != text(first, choice: 1))  // each choice draws its own
  }

  @Test func stopSequencesEndTheTextAndAreNotEmitted() throws {
    let router = try startRouter()
    defer { router.stop() }
    let (_, plain) = try router.post(
      "/v1/completions",
      json: [
        "model": Self.model, "prompt": "The capital of France is", "max_tokens": 12,
        "temperature": 0,
      ])
    let full = try #require(text(plain))
    let stop = "United"
    try #require(full.contains(stop))
    let (_, stopped) = try router.post(
      "/v1/completions",
      json: [
        "model": Self.model, "prompt": "The capital of France is", "max_tokens": 12,
        "temperature": 0, "stop": [stop],
      ])
    #expect(text(stopped) == String(full[..<full.range(of: stop)!.lowerBound]))
    #expect(
      (stopped["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
  }

  /// A repeated prompt prefix is loaded from the context-fragment cache, not computed, and the
  /// output does not change: from memory in the same router, from Redis in a fresh one.
  @Test func aCachedPrefixGivesTheSameOutputFromMemoryAndFromRedis() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let document = Self.document
    let body: [String: Any] = [
      "model": Self.model, "prompt": document + "\nSummary:", "max_tokens": 8, "temperature": 0,
      "logprobs": 2,
    ]
    func run(_ router: RouterProcess) throws -> (text: String?, logprobs: [Double], hits: Int) {
      let (text, logprobs) = try router.completion(body)
      return (text, logprobs, router.metric("prefix_cache_hit_tokens_total"))
    }
    let arguments = ["--threads", "2", "--redis", "redis://127.0.0.1:\(redis.port)"]
    let first = try RouterProcess(arguments)
    let cold = try run(first)
    #expect(cold.hits == 0 && cold.logprobs.count == 8)
    let local = try run(first)
    #expect(local.hits > 400)  // most of a ~500-token prompt
    #expect(local.text == cold.text && local.logprobs == cold.logprobs)
    first.stop()  // drains: blocks on their way to Redis are written first
    // A new router has nothing in memory: the blocks come from Redis.
    let second = try RouterProcess(arguments)
    defer { second.stop() }
    let fromRedis = try run(second)
    #expect(fromRedis.hits > 400)
    #expect(fromRedis.text == cold.text && fromRedis.logprobs == cold.logprobs)
  }

  /// Fragments written by one layout are read by any other: a PP2 cluster writes, a TP3
  /// cluster and one process read, and the output stays the same. With one part deleted, the
  /// TP3 workers disagree on how far they can load; all of them start from the first missing
  /// block, and the output still stays the same.
  @Test func fragmentsWrittenByOneLayoutAreReadByAnother() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let document = Self.document
    let body: [String: Any] = [
      "model": Self.model, "prompt": document + "\nSummary:", "max_tokens": 6, "temperature": 0,
      "logprobs": 1,
    ]
    func run(_ layout: [String]) throws -> (
      text: String?, logprobs: [Double], hits: Int, partial: Int
    ) {
      let router = try RouterProcess(
        layout + ["--threads", "1", "--redis", "redis://127.0.0.1:\(redis.port)"])
      defer { router.stop() }  // drains; workers write their parts before they exit
      let (text, logprobs) = try router.completion(body)
      return (
        text, logprobs, router.metric("prefix_cache_hit_tokens_total"),
        router.metric("prefix_cache_partial_misses_total")
      )
    }
    let written = try run(["--pp", "2"])
    #expect(written.hits == 0 && written.logprobs.count == 6)
    let tensorParallel = try run(["--tp", "3"])
    #expect(tensorParallel.hits > 400)
    #expect(tensorParallel.text == written.text && tensorParallel.logprobs == written.logprobs)
    // Delete one part of block 5 (layer 10, KV head 2: only TP rank 2 holds it).
    let client = RedisClient(url: RedisURL(host: "127.0.0.1", port: redis.port))
    let keys = try client.command(["KEYS", "tessera:frag:v1:*:10:2"])
    guard case .array(let names) = keys, !names.isEmpty else {
      Issue.record("no parts stored for layer 10, KV head 2: \(keys)")
      return
    }
    let file = try ModelFiles.smolLM2()
    let tokens = BPETokenizer(vocabulary: try Vocabulary(gguf: file))
      .encode(document + "\nSummary:")
    let ids = FragmentID.chain(
      tokens: Array(tokens.dropLast()), blockSize: 16, fingerprint: ModelFingerprint.of(file))
    _ = try client.command(["DEL", "tessera:frag:v1:\(ids[5]):10:2"])
    let partial = try run(["--tp", "3"])
    #expect(partial.hits == 5 * 16 && partial.partial == 1)
    #expect(partial.text == written.text && partial.logprobs == written.logprobs)
    let single = try run([])
    #expect(single.hits > 400)
    #expect(single.text == written.text && single.logprobs == written.logprobs)
  }

  /// A cached prompt admitted in the step that frees the blocks it needs (the KV cache was
  /// full with another request) loads into that room: the release comes first.
  @Test func aCachedPrefixLoadsIntoBlocksFreedInTheSameStep() throws {
    let router = try RouterProcess(["--threads", "2", "--kv-tokens", "544"])  // 34 blocks
    defer { router.stop() }
    @Sendable func cached() -> [String: Any] {
      ["model": Self.model, "prompt": Self.document, "max_tokens": 2, "temperature": 0]
    }
    let first = try router.completion(cached())  // computes and keeps ~29 blocks
    let hitsBefore = router.metric("prefix_cache_hit_tokens_total")
    let texts = UnsafeMutableBufferPointer<String?>.allocate(capacity: 2)
    defer { texts.deallocate() }
    texts.initialize(repeating: nil)
    nonisolated(unsafe) let results = texts
    concurrently(2) { index in
      if index == 0 {  // fills the cache: ~33 of 34 blocks while it runs
        results[0] = try? router.completion([
          "model": Self.model, "prompt": "Another log.\n" + Self.document, "max_tokens": 40,
          "temperature": 0,
        ]).text
      } else {  // waits for that one to run, then asks for the cached prompt
        let deadline = Date().addingTimeInterval(60)
        while router.metric("running_sequences") < 1, Date() < deadline { usleep(20_000) }
        results[1] = try? router.completion(cached()).text
      }
    }
    #expect(texts[0] != nil)
    #expect(texts[1] == first.text)
    #expect(router.metric("prefix_cache_hit_tokens_total") - hitsBefore >= 29 * 16)
  }

  /// A Redis too small for the fragments keeps taking them by evicting older ones — only
  /// cache entries, never a key without a TTL — and every request is served.
  @Test func aSmallRedisEvictsOnlyFragmentsAndServingGoesOn() throws {
    let redis = try RedisServer(maxMemory: "4mb")
    defer { redis.stop() }
    let client = RedisClient(url: RedisURL(host: "127.0.0.1", port: redis.port))
    try client.command(["SET", "tessera:request:1", "state without a TTL"]).ok()
    let router = try RouterProcess(
      ["--threads", "2", "--redis", "redis://127.0.0.1:\(redis.port)"])
    // Six different ~470-token prompts: ~11 MB of fragments each into 4 MB.
    for variant in 0..<6 {
      let (text, _) = try router.completion([
        "model": Self.model, "prompt": "Variant \(variant).\n" + Self.document, "max_tokens": 2,
        "temperature": 0,
      ])
      #expect(text != nil)
    }
    router.stop()  // drains: the last fragments are written
    #expect(
      try client.command(["GET", "tessera:request:1"]).bytes() == Array("state without a TTL".utf8))
    #expect(
      try client.command(["INFO", "stats"]).bytes().map { String(decoding: $0, as: UTF8.self) }?
        .contains("evicted_keys:0") == false)
  }

  /// Redis killed and restarted while requests with a shared prefix run: every request
  /// succeeds with the output it has with Redis up (a Redis that is down is a cache miss).
  /// Redis SIGKILLed while requests run, requests served while it is down, then restarted:
  /// every request succeeds with the output of a router that never had Redis. New prompts
  /// each round, so the fragment cache must ask Redis (its local tier cannot answer for
  /// their last blocks), and request state writes every token — both while Redis is down.
  @Test func redisKilledAndRestartedUnderLoadLosesNoRequest() throws {
    let redis = try RedisServer()
    let port = redis.port
    let router = try RouterProcess(
      ["--threads", "2", "--max-running", "8", "--redis", "redis://127.0.0.1:\(port)"])
    defer { router.stop() }
    let reference = try RouterProcess(["--threads", "1"])  // no Redis at all
    defer { reference.stop() }
    let shared = (1...20).map { "Note \($0): the tide rose and the keeper wrote it down." }
      .joined(separator: "\n")
    @Sendable func request(_ index: Int) -> [String: Any] {
      [
        "model": Self.model, "prompt": shared + "\nQuestion \(index): what did the keeper see?",
        "max_tokens": 6, "temperature": 0,
      ]
    }
    let expected = concurrentTexts(reference, count: 12, request)
    #expect(expected.allSatisfy { $0 != nil })
    _ = concurrentTexts(router, count: 1) { _ in request(100) }  // the shared blocks, cached
    // Round 1: Redis killed while 4 requests run.
    let texts = UnsafeMutableBufferPointer<String?>.allocate(capacity: 12)
    defer { texts.deallocate() }
    texts.initialize(repeating: nil)
    nonisolated(unsafe) let results = texts
    nonisolated(unsafe) let original = redis
    // Held from the crash to the restart, so that no other test's Redis takes the port.
    nonisolated(unsafe) var held: ReservedPort?
    concurrently(5) { index in
      if index == 4 {
        original.crash()
        held = try? ReservedPort(port: port)
        return
      }
      results[index] = (try? router.post("/v1/completions", json: request(index)))
        .flatMap { RouterAPITests().text($0.1) }
    }
    // Round 2: served while it is down — and the router did call it.
    let failuresBefore = router.metric("request_state_failures_total")
    for (offset, text) in concurrentTexts(router, count: 4, { request(4 + $0) }).enumerated() {
      results[4 + offset] = text
    }
    #expect(router.metric("request_state_failures_total") > max(0, failuresBefore))
    #expect(router.metric("prefix_cache_redis_errors_total") > 0)
    // Round 3: Redis back (empty).
    #expect(held != nil, "port \(port) held while Redis was down")
    held?.release()
    let restarted = try RedisServer(port: port)
    defer { restarted.stop() }
    for (offset, text) in concurrentTexts(router, count: 4, { request(8 + $0) }).enumerated() {
      results[8 + offset] = text
    }
    #expect(Array(texts) == expected)
  }

  /// Redis is not essential: without it the router still serves, and /ready says degraded
  /// (200) with the reason, until Redis is back.
  @Test func readySaysDegradedWhileRedisIsDown() throws {
    let redis = try RedisServer()
    let port = redis.port
    let router = try RouterProcess(["--threads", "1", "--redis", "redis://127.0.0.1:\(port)"])
    defer { router.stop() }
    func ready() throws -> (status: Int, degraded: Bool?, reasons: [String]) {
      let (status, body) = try router.get("/ready")
      let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
      return (status, object?["degraded"] as? Bool, object?["reasons"] as? [String] ?? [])
    }
    #expect(try ready().status == 200 && ready().degraded == false)
    #expect(router.metric("degraded") == 0 && router.metric("redis_up") == 1)
    redis.stop()
    let held = try ReservedPort(port: port)  // no other test's Redis may take it meanwhile
    let down = try ready()
    #expect(down.status == 200 && down.degraded == true)
    #expect(down.reasons.first?.contains("redis") == true, "\(down.reasons)")
    #expect(router.metric("degraded") == 1 && router.metric("redis_up") == 0)
    let (served, _) = try router.post(
      "/v1/completions", json: ["model": Self.model, "prompt": "Hi", "max_tokens": 2])
    #expect(served == 200)
    held.release()
    let again = try RedisServer(port: port)
    defer { again.stop() }
    // The client retries after its back-off (at most 2 s).
    let deadline = Date().addingTimeInterval(20)
    while try ready().degraded != false, Date() < deadline { usleep(100_000) }
    #expect(try ready().degraded == false)
    #expect(router.metric("degraded") == 0 && router.metric("redis_up") == 1)
  }

  /// Log-probabilities cover the tokens whose text was returned: not those of a stop sequence.
  @Test func logprobsLeaveOutTheTokensOfAStopSequence() throws {
    let router = try startRouter()
    defer { router.stop() }
    func completion(stop: [String]) throws -> (text: String, tokens: [String]) {
      let (_, body) = try router.post(
        "/v1/completions",
        json: [
          "model": Self.model, "prompt": "The capital of France is", "max_tokens": 12,
          "temperature": 0, "logprobs": 0, "stop": stop,
        ])
      let choice = (body["choices"] as? [[String: Any]])?.first
      let logprobs = choice?["logprobs"] as? [String: Any]
      return (try #require(choice?["text"] as? String), logprobs?["tokens"] as? [String] ?? [])
    }
    let full = try completion(stop: [])
    try #require(full.tokens.count == 12 && full.tokens.joined() == full.text)
    // A stop sequence made of two whole tokens in the middle, found nowhere earlier.
    let k = try #require(
      (2..<10).first { k in
        let stop = full.tokens[k] + full.tokens[k + 1]
        return full.tokens[k].count > 1 && full.tokens[k + 1].count > 1
          && full.text.range(of: stop)?.lowerBound.utf16Offset(in: full.text)
            == full.tokens[..<k].joined().utf16.count
      })
    let stopped = try completion(stop: [full.tokens[k] + full.tokens[k + 1]])
    #expect(stopped.text == full.tokens[..<k].joined())
    #expect(stopped.tokens == Array(full.tokens[..<k]))
  }

  @Test func logprobsComeInEachEndpointsShape() throws {
    let router = try startRouter()
    defer { router.stop() }
    let (_, chat) = try router.post(
      "/v1/chat/completions",
      json: [
        "model": Self.model, "messages": [["role": "user", "content": "Hi"]],
        "max_tokens": 3, "temperature": 0, "logprobs": true, "top_logprobs": 2,
      ])
    let content =
      (((chat["choices"] as? [[String: Any]])?.first?["logprobs"]
        as? [String: Any])?["content"] as? [[String: Any]]) ?? []
    #expect(content.count == 3)
    #expect((content.first?["top_logprobs"] as? [[String: Any]])?.count == 2)
    let (_, completion) = try router.post(
      "/v1/completions",
      json: [
        "model": Self.model, "prompt": "Hello", "max_tokens": 3, "temperature": 0,
        "logprobs": 2,
      ])
    let logprobs = (completion["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any]
    #expect((logprobs?["tokens"] as? [String])?.count == 3)
    #expect((logprobs?["token_logprobs"] as? [Double])?.count == 3)
    #expect((logprobs?["text_offset"] as? [Int])?.first == 0)
  }

  @Test func eightConcurrentRequestsGetTheSameOutputAsAlone() throws {
    @Sendable func request(_ index: Int) -> [String: Any] {
      [
        "model": Self.model, "prompt": "List \(index + 2) animals:", "max_tokens": 16,
        "temperature": 0.8, "seed": index,
      ]
    }
    let router = try RouterProcess(["--threads", "2", "--max-running", "8"])  // fresh metrics
    defer { router.stop() }
    let alone = try (0..<8).map { try text(router.post("/v1/completions", json: request($0)).1) }
    #expect(concurrentTexts(router, count: 8, request) == alone)
    #expect(router.metric("batch_sequences_max") > 1)
    let metrics = String(decoding: try router.get("/metrics").1, as: UTF8.self)
    // Requests by endpoint and status, and latency histograms, as Prometheus text.
    #expect(
      metrics.contains(#"tessera_requests_total{endpoint="/v1/completions",status="200"} 16"#))
    #expect(metrics.contains("tessera_time_to_first_token_seconds_count 16"))
    #expect(metrics.contains("tessera_inter_token_latency_seconds_bucket"))
  }

  @Test func clientMistakesGetOpenAIErrorsNeverFiveHundreds() throws {
    let router = try startRouter()
    defer { router.stop() }
    func error(_ body: Data, path: String = "/v1/chat/completions") throws -> (
      Int, String?, String?
    ) {
      let (status, data) = try router.request("POST", path, body: body)
      let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
      let detail = object?["error"] as? [String: Any]
      return (status, detail?["param"] as? String, detail?["code"] as? String)
    }
    func json(_ object: [String: Any]) throws -> Data {
      try JSONSerialization.data(withJSONObject: object)
    }
    let message = [["role": "user", "content": "hi"]]
    #expect(try error(Data("{not json".utf8)).0 == 400)
    #expect(try error(Data("[1,2]".utf8)).0 == 400)
    #expect(try error(json(["model": Self.model])) == (400, "messages", nil))
    #expect(try error(json(["model": Self.model, "messages": "hi"])).0 == 400)
    #expect(
      try error(json(["model": "gpt-4", "messages": message])) == (404, "model", "model_not_found"))
    #expect(
      try error(json(["model": Self.model, "messages": message, "tools": [["type": "function"]]]))
        == (400, "tools", "unsupported_parameter"))
    #expect(
      try error(json(["model": Self.model, "messages": message, "max_tokens": 0])).1 == "max_tokens"
    )
    #expect(
      try error(json(["model": Self.model, "messages": message, "temperature": 5])).1
        == "temperature")
    #expect(try error(json(["model": Self.model, "messages": message, "n": 9])).1 == "n")
    let long = String(repeating: "word ", count: 9000)
    #expect(
      try error(json(["model": Self.model, "prompt": long]), path: "/v1/completions").2
        == "context_length_exceeded")
    let huge = Data(repeating: UInt8(ascii: " "), count: 2 << 20)
    #expect(try error(huge).0 == 413)
    // And the server still serves.
    let (status, _) = try router.post(
      "/v1/chat/completions", json: ["model": Self.model, "messages": message, "max_tokens": 2])
    #expect(status == 200)
  }

  /// A KV cache too small for every running sequence: decoding preempts (recomputes) some,
  /// and every output is still the one a roomy server gives.
  @Test func preemptionByRecomputationChangesNoOutput() throws {
    @Sendable func request(_ index: Int) -> [String: Any] {
      [
        "model": Self.model, "prompt": "Story \(index): Once upon a time, in a land far away,",
        "max_tokens": 48, "temperature": 0.8, "seed": index,
      ]
    }
    let roomy = try RouterProcess(["--threads", "2"])
    let expected = try (0..<4).map { try text(roomy.post("/v1/completions", json: request($0)).1) }
    roomy.stop()
    let tight = try RouterProcess(["--threads", "2", "--kv-tokens", "160", "--max-running", "4"])
    defer { tight.stop() }
    #expect(concurrentTexts(tight, count: 4, request) == expected)
    #expect(tight.metric("preemptions_total") > 0, "no preemption happened")
  }

  @Test func sigtermDrainsRunningRequestsThenExits() throws {
    let router = try RouterProcess(["--threads", "2"])
    defer { router.stop() }
    let body = try JSONSerialization.data(withJSONObject: [
      "model": Self.model, "prompt": "1, 2, 3, 4,", "max_tokens": 60, "temperature": 0,
      "stream": true,
    ])
    let streamed = UnsafeMutablePointer<Data>.allocate(capacity: 1)
    streamed.initialize(to: Data())
    defer { streamed.deallocate() }
    nonisolated(unsafe) let result = streamed
    let group = DispatchGroup()
    group.enter()
    Thread {
      result.pointee = (try? router.request("POST", "/v1/completions", body: body).1) ?? Data()
      group.leave()
    }.start()
    // Wait until it runs, then ask the router to stop.
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
      let metrics = (try? router.get("/metrics")).map { String(decoding: $0.1, as: UTF8.self) }
      if metrics?.contains("tessera_running_sequences 1") == true { break }
      usleep(10_000)
    }
    kill(router.process.processIdentifier, SIGTERM)
    group.wait()
    router.process.waitUntilExit()
    // The running request finished whole; the router then exited.
    let all = events(streamed.pointee)
    #expect(all.last == "[DONE]")
    #expect(all.filter { $0.contains("\"finish_reason\":\"length\"") }.count == 1)
    #expect(!router.process.isRunning)
  }

  @Test func apiKeysAreRequiredWhenConfigured() throws {
    let router = try RouterProcess(["--threads", "1", "--api-key", "secret"])
    defer { router.stop() }
    let body: [String: Any] = ["model": Self.model, "prompt": "Hi", "max_tokens": 1]
    #expect(try router.post("/v1/completions", json: body).0 == 401)
    #expect(
      try router.post("/v1/completions", json: body, headers: ["Authorization": "Bearer wrong"]).0
        == 401)
    #expect(
      try router.post("/v1/completions", json: body, headers: ["Authorization": "Bearer secret"]).0
        == 200)
    #expect(try router.get("/health").0 == 200)  // stays open
  }
}

/// Runs `body(0..<count)` on `count` threads at once (not bounded by the core count, as
/// `concurrentPerform` is) and waits for all.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
  let group = DispatchGroup()
  for index in 0..<count {
    group.enter()
    Thread {
      body(index)
      group.leave()
    }.start()
  }
  group.wait()
}

/// Posts `count` completions at once (request `index` built by `request`) and returns each
/// one's text, in index order (nil for a request that failed).
func concurrentTexts(
  _ router: RouterProcess, count: Int, _ request: @escaping @Sendable (Int) -> [String: Any]
) -> [String?] {
  let texts = UnsafeMutableBufferPointer<String?>.allocate(capacity: count)
  defer { texts.deallocate() }
  texts.initialize(repeating: nil)
  nonisolated(unsafe) let results = texts
  concurrently(count) { index in
    let response = try? router.post("/v1/completions", json: request(index))
    results[index] = response.flatMap { RouterAPITests().text($0.1) }
  }
  return Array(texts)
}

extension RouterProcess {
  /// A plain metric's value from `/metrics` (`tessera_NAME VALUE`); -1 if it is not there.
  func metric(_ name: String) -> Int {
    let text = (try? get("/metrics")).map { String(decoding: $0.1, as: UTF8.self) } ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("tessera_\(name) ") }
    return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? -1
  }

  /// A completion's text and token logprobs.
  func completion(_ body: [String: Any]) throws -> (text: String?, logprobs: [Double]) {
    let (status, response) = try post("/v1/completions", json: body)
    #expect(status == 200)
    let choice = (response["choices"] as? [[String: Any]])?.first
    let logprobs = (choice?["logprobs"] as? [String: Any])?["token_logprobs"] as? [Double]
    return (choice?["text"] as? String, logprobs ?? [])
  }
}
