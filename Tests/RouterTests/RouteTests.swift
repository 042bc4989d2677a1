import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Router

/// The HTTP routes through Hummingbird's in-process test client, over the fake engine: no
/// model, no processes, no sockets. (What needs the real model stays in IntegrationTests.)
@Suite struct RouteTests {
  static func application(apiKeys: Set<String> = [], engine: FakeEngine = FakeEngine())
    -> some ApplicationProtocol
  {
    RouterMetrics.bootstrap()
    var configuration = RouterConfiguration(
      intake: .init(modelID: "fake", maxOutputTokens: 64),
      limits: .init(
        maxRunning: 8, maxQueued: 16, stepTokens: engine.stepTokens, blockSize: engine.blockSize,
        totalBlocks: engine.blockCount))
    configuration.port = 0
    configuration.apiKeys = apiKeys
    let box = EngineBox(engine)
    return buildApplication(
      configuration, tokenizer: BPETokenizer(vocabulary: FakeEngine.vocabulary), formatter: nil,
      contextLength: engine.blockCount * engine.blockSize, engine: .custom { box.engine })
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

/// Hands the fake engine to the serving service's thread (the engine is the loop's alone
/// once the loop runs).
final class EngineBox: @unchecked Sendable {
  let engine: FakeEngine
  init(_ engine: FakeEngine) { self.engine = engine }
}
