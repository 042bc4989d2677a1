import Foundation
import Router
import TestSupport
import Testing

/// Durable request state with real processes: a router, `redis-server`, and clients on plain
/// sockets that read a stream a few events at a time, drop it, and resume it.
@Suite(.serialized) struct RequestStateTests {
  typealias Event = EventStreamClient.Event

  /// A long sampled completion (temperature > 0: the seed decides every draw).
  nonisolated(unsafe) static let body: [String: Any] = [
    "model": RouterAPITests.model, "prompt": "Once upon a time, in a village by the sea,",
    "max_tokens": 120, "temperature": 0.9, "seed": 11, "stream": true,
  ]

  /// A request that runs far longer than any test waits: greedy counting, 3,000 tokens.
  nonisolated(unsafe) static let endless: [String: Any] = [
    "model": RouterAPITests.model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,",
    "max_tokens": 3_000, "temperature": 0, "stream": true,
  ]

  /// Chat, two choices, log-probabilities and a stop sequence: every piece of state a
  /// takeover must carry (role events, per-choice detokenizer and stop matcher, pending
  /// logprobs).
  nonisolated(unsafe) static let chatBody: [String: Any] = [
    "model": RouterAPITests.model,
    "messages": [["role": "user", "content": "Tell me a long story about a lighthouse."]],
    "max_tokens": 100, "temperature": 0.8, "seed": 3, "n": 2, "logprobs": true,
    "top_logprobs": 2, "stop": ["\n\n"], "stream": true,
  ]

  /// Choice 0's text (chat `delta.content` or completion `text`).
  func text(_ events: [Event]) -> String { choices(events)[0]?.text ?? "" }

  /// Per choice, its text and everything else its chunks said (logprobs, finish reason),
  /// concatenated in order.
  func choices(_ events: [Event]) -> [Int: (text: String, rest: String)] {
    StreamChoices(events).byIndex
  }

  func requestID(_ events: [Event]) -> String? {
    for event in events {
      if let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8))
        as? [String: Any], let id = object["id"] as? String
      {
        return id
      }
    }
    return nil
  }

  func stream(_ router: RouterProcess, _ body: [String: Any] = Self.body) throws
    -> EventStreamClient
  {
    let path = body["messages"] == nil ? "/v1/completions" : "/v1/chat/completions"
    return try EventStreamClient(port: router.port, path: path, json: body)
  }

  /// Reads `count` events, then everything already on its way when the stream broke (if it
  /// did): what the client holds.
  func firstEvents(_ client: EventStreamClient, count: Int) throws -> [Event] {
    var events: [Event] = []
    while events.count < count, let event = try client.next() { events.append(event) }
    return events
  }

  func resume(_ router: RouterProcess, id: String, after last: Int?) throws -> [Event] {
    let headers = last.map { ["Last-Event-ID": String($0)] } ?? [:]
    let client = try EventStreamClient(
      port: router.port, method: "GET", path: "/v1/requests/\(id)/stream", headers: headers)
    let events = try client.rest()
    #expect(client.status == 200)
    return events
  }

  func state(_ router: RouterProcess, _ id: String) -> [String: Any] {
    guard let (status, data) = try? router.get("/v1/requests/\(id)"), status == 200 else {
      return [:]
    }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
  }

  /// The whole stream of an uninterrupted run: what every interrupted one must add up to.
  func reference(_ router: RouterProcess, _ body: [String: Any] = Self.body) throws -> [Event] {
    let events = try stream(router, body).rest()
    #expect(events.last?.data == "[DONE]")
    #expect(events.count > 40, "the reference run should be long enough to interrupt")
    return events
  }

  /// The ids 0, 1, 2, … with no gap and no repeat, and the text an uninterrupted run gives.
  func expectWhole(_ events: [Event], like reference: [Event]) {
    #expect(events.map(\.id) == Array(0..<events.count).map { Optional($0) })
    #expect(events.last?.data == "[DONE]")
    let got = choices(events)
    let expected = choices(reference)
    #expect(got.keys.sorted() == expected.keys.sorted())
    for (index, choice) in expected {
      #expect(got[index]?.text == choice.text, "choice \(index)'s text")
      #expect(got[index]?.rest == choice.rest, "choice \(index)'s logprobs and finish reason")
    }
  }

  /// What the killed router ran: a completion in one process, a chat with n=2, logprobs and
  /// a stop sequence in one process, and a completion on two tensor-parallel workers (which
  /// die with the router, and are started afresh by the restarted one).
  enum KilledRun: String, CaseIterable, Sendable {
    case completion, chat, completionOnWorkers
  }

  @Test(arguments: KilledRun.allCases)
  func aRouterKilledMidStreamRestartsAndTheResumedStreamEndsAsAnUninterruptedRun(
    run: KilledRun
  ) throws {
    let body = run == .chat ? Self.chatBody : Self.body
    let redis = try RedisServer()
    defer { redis.stop() }
    let layout =
      run == .completionOnWorkers ? ["--tp", "2", "--threads", "1"] : ["--threads", "2"]
    let arguments = layout + ["--redis", redis.url, "--router-name", "router-a"]
    let first = try RouterProcess(arguments)
    defer { first.stop() }
    let whole = try reference(first, body)
    let client = try stream(first, body)
    var seen = try firstEvents(client, count: 8)
    first.kill()
    seen += try client.rest()  // whatever was already on its way
    let id = try #require(requestID(seen))
    let last = try #require(seen.last?.id)
    #expect(last >= 7 && last < whole.count / 2, "killed after k > 0 events, far from done")
    // Restarted under the same name, it takes the request back at once and finishes it.
    let restarted = try RouterProcess(arguments)
    defer { restarted.stop() }
    let rest = try resume(restarted, id: id, after: last)
    #expect(rest.first?.id == last + 1)
    expectWhole(seen + rest, like: whole)
    let stored = state(restarted, id)
    #expect(stored["status"] as? String == "finished")
    #expect(stored["text"] as? String == text(whole))
    #expect(restarted.metric("request_state_takeovers_total") == 1)
  }

  @Test func anotherRouterTakesOverWhenTheDeadRoutersLeaseExpires() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let common = ["--threads", "2", "--redis", redis.url, "--request-lease", "1"]
    let first = try RouterProcess(common + ["--router-name", "first"])
    defer { first.stop() }
    let whole = try reference(first)
    let client = try stream(first)
    var seen = try firstEvents(client, count: 5)
    first.kill()
    seen += try client.rest()
    let id = try #require(requestID(seen))
    let other = try RouterProcess(common + ["--router-name", "second"])
    defer { other.stop() }
    // Resumed at once: the stream waits on Redis until the lease lapses and `second` runs it.
    let rest = try resume(other, id: id, after: seen.last?.id)
    expectWhole(seen + rest, like: whole)
  }

  @Test func aClientThatDropsAndResumesWithinTheGracePeriodLosesNothing() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let router = try RouterProcess(["--threads", "2", "--redis", redis.url])
    defer { router.stop() }
    let whole = try reference(router)
    let client = try stream(router)
    let seen = try firstEvents(client, count: 6)
    client.close()
    let id = try #require(requestID(seen))
    // It runs on with nobody reading: more tokens than the client saw.
    #expect(eventually { (state(router, id)["tokens"] as? [Int])?.count ?? 0 >= 30 })
    let rest = try resume(router, id: id, after: seen.last?.id)
    expectWhole(seen + rest, like: whole)
    // A second resume from the start gives the whole stream again.
    expectWhole(try resume(router, id: id, after: nil), like: whole)
  }

  @Test func aClientThatNeverReturnsIsCancelledAndItsBlocksFreed() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let router = try RouterProcess(["--threads", "2", "--redis", redis.url, "--resume-grace", "1"])
    defer { router.stop() }
    let client = try stream(router, Self.endless)
    let seen = try firstEvents(client, count: 4)
    client.close()
    let id = try #require(requestID(seen))
    #expect(eventually { state(router, id)["status"] as? String == "cancelled" })
    #expect(eventually { router.metric("kv_blocks_used") == 0 })
    #expect(((state(router, id)["tokens"] as? [Int])?.count ?? 3_000) < 3_000)
    // Its stream now ends where the cancellation left it.
    #expect(try resume(router, id: id, after: nil).last?.data == "[DONE]")
  }

  @Test func cancelEndsARunningRequestAndUnknownIDsAre404() throws {
    let router = try RouterProcess(["--threads", "2"])  // request state off: memory only
    defer { router.stop() }
    let client = try stream(router, Self.endless)
    let seen = try firstEvents(client, count: 3)
    let id = try #require(requestID(seen))
    let (status, cancelled) = try router.post("/v1/requests/\(id)/cancel", json: [:])
    #expect(status == 200)
    #expect(cancelled["status"] as? String == "cancelled")
    #expect(try client.rest().last?.data == "[DONE]")
    #expect(eventually { router.metric("kv_blocks_used") == 0 })
    #expect(try router.get("/v1/requests/cmpl-0000000000000000").0 == 404)
    #expect(try router.request("POST", "/v1/requests/nope/cancel").0 == 404)
    let bad = try EventStreamClient(
      port: router.port, method: "GET", path: "/v1/requests/\(id)/stream",
      headers: ["Last-Event-ID": "seven"])
    _ = try bad.rest()
    #expect(bad.status == 400)
    for huge in ["9223372036854775807", "99999999999999999999999"] {
      let tooFar = try EventStreamClient(
        port: router.port, method: "GET", path: "/v1/requests/\(id)/stream",
        headers: ["Last-Event-ID": huge])
      _ = try tooFar.rest()
      #expect(tooFar.status == 400)
    }
    #expect(try router.get("/health").0 == 200)  // and it is still serving
  }

  @Test func withoutRequestStateAClientThatLeavesCancelsAtOnce() throws {
    let router = try RouterProcess(["--threads", "2"])
    defer { router.stop() }
    let client = try stream(router, Self.endless)
    let seen = try firstEvents(client, count: 3)
    client.close()
    let id = try #require(requestID(seen))
    #expect(eventually { state(router, id)["status"] as? String == "cancelled" })
    #expect(eventually { router.metric("kv_blocks_used") == 0 })
  }

  @Test func redisRestartedEmptyMidStreamGetsTheRequestWrittenWholeAgain() throws {
    let redis = try RedisServer()
    let port = redis.port
    let router = try RouterProcess(
      ["--threads", "2", "--redis", redis.url, "--request-lease", "1"])
    defer { router.stop() }
    let client = try stream(router)
    var events = try firstEvents(client, count: 4)
    redis.crash()
    let restarted = try RedisServer(port: port)
    defer { restarted.stop() }
    events += try client.rest()
    #expect(events.last?.data == "[DONE]", "the stream went on without Redis")
    #expect(events.map(\.id) == Array(0..<events.count).map { Optional($0) })
    let id = try #require(requestID(events))
    // A router that never saw the request reads it from the new Redis: written whole.
    let reader = try RouterProcess(["--threads", "1", "--redis", restarted.url])
    defer { reader.stop() }
    #expect(eventually { state(reader, id)["status"] as? String == "finished" })
    #expect(state(reader, id)["text"] as? String == text(events))
    let replayed = try resume(reader, id: id, after: nil)
    #expect(replayed == events)
  }
}
