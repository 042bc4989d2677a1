import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Router

/// The HTTP routes through Hummingbird's in-process test client, over the fake engine: no
/// model, no processes, no sockets. (What needs the real model stays in IntegrationTests.)
@Suite struct RouteTests {
  static func application(
    apiKeys: Set<String> = [], engine: FakeEngine = FakeEngine(), loop: ServingLoop? = nil,
    configure: (inout RouterConfiguration) -> Void = { _ in }
  ) -> some ApplicationProtocol {
    RouterMetrics.bootstrap()
    var configuration = RouterConfiguration(
      intake: .init(modelID: "fake", maxOutputTokens: 64),
      limits: .init(
        maxRunning: 8, maxQueued: 16, stepTokens: engine.stepTokens, blockSize: engine.blockSize,
        totalBlocks: engine.blockCount))
    configuration.port = 0
    configuration.apiKeys = apiKeys
    configure(&configuration)
    let box = EngineBox(engine)
    return buildApplication(
      configuration, tokenizer: BPETokenizer(vocabulary: FakeEngine.vocabulary), formatter: nil,
      contextLength: engine.blockCount * engine.blockSize, engine: .custom { box.engine },
      loop: loop)
  }

  /// Waits (bounded) until the serving service built its engine and `/ready` says so.
  static func ready(_ client: some TestClientProtocol) async throws {
    for _ in 0..<2000 {
      if try await client.execute(uri: "/ready", method: .get).status == .ok { return }
      try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("the router never became ready")
  }

  static func body(_ object: [String: Any]) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
  }

  static func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any]) ?? [:]
  }

  /// The completion of the mixed batch's greedy request, as the serving loop alone gives it.
  static let greedy = ServingLoopTests.mixedBatch[4]

  @Test func aCompletionGivesWhatTheLoopGives() async throws {
    let alone = LoopBench.run([Self.greedy], engine: FakeEngine())[Self.greedy.name] ?? []
    let expected = alone.compactMap { line -> String? in
      // `delta 0 "text" …`: the fake vocabulary has no quote or backslash to escape.
      guard line.hasPrefix("delta 0 \"") else { return nil }
      return line.split(separator: "\"", omittingEmptySubsequences: false)[1].description
    }.joined()
    try await Self.application().test(.router) { client in
      try await Self.ready(client)
      let response = try await client.execute(
        uri: "/v1/completions", method: .post, headers: [.contentType: "application/json"],
        body: try Self.body([
          "model": "fake", "prompt": Self.greedy.prompt.map(Int.init),
          "max_tokens": Self.greedy.maxTokens, "temperature": 0,
        ]))
      #expect(response.status == .ok)
      let object = Self.json(response.body)
      let choice = (object["choices"] as? [[String: Any]])?.first
      #expect(choice?["text"] as? String == expected)
      #expect(choice?["finish_reason"] as? String == "length")
      #expect((object["usage"] as? [String: Int])?["completion_tokens"] == 6)
    }
  }

  @Test func aStreamNumbersItsEventsAndEndsWithDone() async throws {
    try await Self.application().test(.router) { client in
      try await Self.ready(client)
      let response = try await client.execute(
        uri: "/v1/completions", method: .post, headers: [.contentType: "application/json"],
        body: try Self.body([
          "model": "fake", "prompt": [3, 4, 5], "max_tokens": 5, "stream": true, "seed": 9,
        ]))
      #expect(response.status == .ok)
      let events = String(buffer: response.body).components(separatedBy: "\n\n").filter {
        !$0.isEmpty
      }
      #expect(events.last?.hasSuffix("data: [DONE]") == true)
      let ids = events.compactMap { $0.split(separator: "\n").first { $0.hasPrefix("id: ") } }
      #expect(ids == (0..<events.count).map { "id: \($0)" })
    }
  }

  @Test func apiKeysGuardTheAPIButNotTheProbes() async throws {
    try await Self.application(apiKeys: ["secret"]).test(.router) { client in
      try await Self.ready(client)
      #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
      #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
      let refused = try await client.execute(uri: "/v1/models", method: .get)
      #expect(refused.status == .unauthorized)
      let error = Self.json(refused.body)["error"] as? [String: Any]
      #expect(error?["code"] as? String == "invalid_api_key")
      let wrong = try await client.execute(
        uri: "/v1/completions", method: .post, headers: [.authorization: "Bearer nope"],
        body: try Self.body(["model": "fake", "prompt": [1]]))
      #expect(wrong.status == .unauthorized)
      let models = try await client.execute(
        uri: "/v1/models", method: .get, headers: [.authorization: "Bearer secret"])
      #expect(models.status == .ok)
      #expect(String(buffer: models.body).contains("\"id\":\"fake\""))
    }
  }

  @Test func clientMistakesGetOpenAIErrorsAndAreCounted() async throws {
    try await Self.application().test(.router) { client in
      try await Self.ready(client)
      let malformed = try await client.execute(
        uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: "{not json"))
      #expect(malformed.status == .badRequest)
      #expect(
        (Self.json(malformed.body)["error"] as? [String: Any])?["type"] as? String
          == "invalid_request_error")
      let unknownModel = try await client.execute(
        uri: "/v1/completions", method: .post,
        body: try Self.body(["model": "other", "prompt": [1, 2]]))
      #expect(unknownModel.status == .notFound)
      let metrics = String(
        buffer: try await client.execute(uri: "/metrics", method: .get).body)
      #expect(
        metrics.contains(
          "tessera_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"}"))
    }
  }
}

/// Limits and deadlines, with the engine held at a known step: no sleeps, no model.
@Suite struct RouteLimitTests {
  static func completion(_ tokens: Int, prompt: [Int] = [1, 2, 3]) throws -> ByteBuffer {
    try RouteTests.body(["model": "fake", "prompt": prompt, "max_tokens": tokens, "temperature": 0])
  }

  /// The value of a gauge on `/metrics`.
  static func gauge(_ name: String, _ client: some TestClientProtocol) async throws -> Int? {
    let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
    let line = text.split(separator: "\n").first { $0.hasPrefix("tessera_\(name) ") }
    return line.flatMap { Int($0.split(separator: " ").last ?? "") }
  }

  /// Waits (bounded) until a gauge shows `value`.
  static func waitFor(_ name: String, _ value: Int, _ client: some TestClientProtocol)
    async throws -> Bool
  {
    for _ in 0..<2000 {
      if try await gauge(name, client) == value { return true }
      try await Task.sleep(for: .milliseconds(5))
    }
    return false
  }

  /// Waits, off the cooperative threads, until the engine holds its step.
  static func untilHolding(_ engine: FakeEngine) async {
    await withCheckedContinuation { continuation in
      Thread {
        engine.holding.wait()
        continuation.resume()
      }.start()
    }
  }

  /// Waits (bounded) until the loop's inbox holds `count` submissions.
  static func untilWaiting(_ count: Int, _ loop: ServingLoop?) async throws -> Bool {
    for _ in 0..<2000 {
      if loop?.waitingSubmissionCount == count { return true }
      try await Task.sleep(for: .milliseconds(5))
    }
    return false
  }

  /// One running slot and one queue place: with the first request running (its engine step
  /// held), the second and third arrive together; the second waits, the third gets 429, and
  /// both others are served.
  @Test func aFullQueueGets429AndTheRestAreServed() async throws {
    let engine = FakeEngine()
    engine.holdAfterStep = 1
    let loop = ServingLoop()
    let app = RouteTests.application(engine: engine, loop: loop) {
      $0.limits.maxRunning = 1
      $0.limits.maxQueued = 1
    }
    try await app.test(.router) { client in
      try await RouteTests.ready(client)
      async let first = client.execute(
        uri: "/v1/completions", method: .post, body: try Self.completion(8))
      await Self.untilHolding(engine)
      async let second = client.execute(
        uri: "/v1/completions", method: .post, body: try Self.completion(4))
      async let third = client.execute(
        uri: "/v1/completions", method: .post, body: try Self.completion(4))
      #expect(try await Self.untilWaiting(2, loop))
      engine.resume()
      let statuses = try await [first.status, second.status, third.status]
      #expect(statuses.filter { $0 == .ok }.count == 2 && statuses[0] == .ok)
      #expect(statuses.filter { $0 == .tooManyRequests }.count == 1)
    }
  }

  @Test func aRequestPastItsDeadlineGets504AndLeavesTheBatch() async throws {
    let engine = FakeEngine()
    engine.holdAfterStep = 2
    let clock = ManualClock()
    let app = RouteTests.application(engine: engine) {
      $0.intake.requestTimeout = 30
      $0.clock = clock
    }
    try await app.test(.router) { client in
      try await RouteTests.ready(client)
      async let late = client.execute(
        uri: "/v1/completions", method: .post, body: try Self.completion(60))
      await Self.untilHolding(engine)
      clock.advance(by: 31)
      engine.resume()
      let response = try await late
      #expect(response.status == .gatewayTimeout)
      #expect(String(buffer: response.body).contains("\"code\":\"timeout\""))
      #expect(try await Self.waitFor("running_sequences", 0, client))
      #expect(try await Self.gauge("kv_blocks_used", client) == 0)
    }
  }

  @Test func promptsOverTheLimitAreRefused() async throws {
    let app = RouteTests.application { $0.intake.maxPromptTokens = 8 }
    try await app.test(.router) { client in
      try await RouteTests.ready(client)
      let long = try await client.execute(
        uri: "/v1/completions", method: .post,
        body: try RouteTests.body(["model": "fake", "prompt": "abcdefghij"]))
      #expect(long.status == .badRequest)
      #expect(String(buffer: long.body).contains("\"code\":\"prompt_too_long\""))
      let short = try await client.execute(
        uri: "/v1/completions", method: .post,
        body: try RouteTests.body(["model": "fake", "prompt": "abc", "max_tokens": 1]))
      #expect(short.status == .ok)
    }
  }
}

/// Hands the fake engine to the serving service's thread (the engine is the loop's alone
/// once the loop runs).
final class EngineBox: @unchecked Sendable {
  let engine: FakeEngine
  init(_ engine: FakeEngine) { self.engine = engine }
}
