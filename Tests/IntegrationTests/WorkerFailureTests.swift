import Foundation
import Router
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Workers that die or hang under load, with real processes: a router with local workers
/// (`--worker-timeout 1`), real `redis-server`, clients streaming seeded samples (temperature
/// > 0, log-probabilities, a chat with n = 2 and a stop sequence) on plain sockets. Every
/// fault is checked to have happened (the process is gone or stopped, and the router counted
/// it), every stream must end without an error, and its text and log-probabilities must equal
/// those of a fault-free run on the same router.
@Suite(.serialized) struct WorkerFailureTests {
  typealias Event = EventStreamClient.Event

  nonisolated(unsafe) static let bodies: [[String: Any]] = [
    [
      "model": RouterAPITests.model, "prompt": "Once upon a time, in a village by the sea,",
      "max_tokens": 90, "temperature": 0.9, "seed": 11, "stream": true, "logprobs": 2,
    ],
    [
      "model": RouterAPITests.model,
      "messages": [["role": "user", "content": "Tell me a long story about a lighthouse."]],
      "max_tokens": 70, "temperature": 0.8, "seed": 3, "n": 2, "logprobs": true,
      "top_logprobs": 2, "stop": ["\n\n"], "stream": true,
    ],
    [
      "model": RouterAPITests.model, "prompt": "The history of bread begins",
      "max_tokens": 80, "temperature": 0.7, "seed": 5, "stream": true,
    ],
  ]

  /// A prompt of about 1,500 tokens: its prefill takes several steps.
  nonisolated(unsafe) static let longPrompt: [String: Any] = [
    "model": RouterAPITests.model,
    "prompt": String(
      repeating: "The lighthouse keeper climbed the stairs and lit the lamp again. ", count: 110),
    "max_tokens": 24, "temperature": 0.7, "seed": 1, "stream": true, "logprobs": 1,
  ]

  // MARK: Scenarios

  @Test func tensorParallelWorkersKilledWithoutAStandby() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let router = try RouterProcess(
      ["--tp", "2", "--threads", "1", "--redis", redis.url, "--worker-timeout", "1"])
    defer { router.stop() }
    let references = try Self.bodies.map { try stream(router, $0).rest() }

    // A TP rank killed mid-stream: the other one carries on alone, then the restarted one
    // joins and the cluster grows back to TP2.
    try expectSurvives(router, references: references, after: 8) {
      try killWorker(router, rank: 1)
    }
    #expect(eventually { cluster(router)["current"] as? String == "TP=2×PP=1" })

    // Killed during the prefill of a long prompt (admitted, no token generated yet). It runs
    // first: the fault-free run after it finds the prompt in the fragment cache.
    let generated = router.metric("generated_tokens_total")
    let admitted = router.metric("prompt_tokens_total")
    let client = try stream(router, Self.longPrompt)
    #expect(eventually { router.metric("prompt_tokens_total") > admitted })
    #expect(router.metric("generated_tokens_total") == generated, "still in the prefill")
    let replayedBefore = replayed(router)
    try killWorker(router, rank: 0)
    let events = try client.rest()
    #expect(replayed(router) > replayedBefore, "the prefill was computed again")
    expectSame(events, try stream(router, Self.longPrompt).rest(), "the long prompt")

    // /metrics counts what happened: two workers lost, re-plans, their recovery times.
    let metrics = (try? router.get("/metrics")).map { String(decoding: $0.1, as: UTF8.self) }
    let lines = metrics?.split(separator: "\n").map(String.init) ?? []
    func value(_ prefix: String) -> Double {
      lines.first { $0.hasPrefix(prefix + " ") }.flatMap { $0.split(separator: " ").last }
        .flatMap { Double($0) } ?? -1
    }
    let lost = ["silent", "disconnected"].map {
      value("tessera_worker_failures_total{reason=\"\($0)\"}")
    }
    #expect(lost.reduce(0, +) >= 2, "\(lost)")
    #expect(value("tessera_replans_total") >= 2)
    #expect(
      lines.contains { $0.hasPrefix("tessera_recovery_seconds_count") && !$0.hasSuffix(" 0") })
  }

  @Test func pipelineStagesKilledAndStoppedWithAStandby() throws {
    let redis = try RedisServer()
    defer { redis.stop() }
    let router = try RouterProcess(
      [
        "--pp", "2", "--threads", "1", "--redis", redis.url, "--worker-timeout", "1",
        "--standby", "1",
      ])
    defer { router.stop() }
    #expect(eventually { (cluster(router)["standbys"] as? [String])?.count == 1 })
    let references = try Self.bodies.map { try stream(router, $0).rest() }

    // A stage killed: the standby takes its slot, the layout stays PP2.
    try expectSurvives(router, references: references, after: 8) {
      try killWorker(router, stage: 1)
    }
    #expect(cluster(router)["current"] as? String == "TP=1×PP=2")

    // Two workers killed one after the other.
    try expectSurvives(router, references: references, after: 6) {
      try killWorker(router, stage: 0)
      #expect(eventually { cluster(router)["running"] as? Bool == true })
      try killWorker(router, stage: 1)
    }

    // A worker stopped for longer than the timeout: fenced, and back as a standby when it
    // wakes up (the restarted standby took its slot meanwhile).
    #expect(eventually { (cluster(router)["standbys"] as? [String])?.count == 1 })
    nonisolated(unsafe) var stopped: Int32 = 0
    try expectSurvives(router, references: references, after: 8) {
      stopped = try stopWorker(router, stage: 0)
    }
    kill(stopped, SIGCONT)
    #expect(
      eventually { workers(router).contains { $0.pid == stopped && $0.role == "standby" } },
      "the stopped worker rejoins as a standby")
  }

  // MARK: Faults, each verified

  /// Kills the worker at a slot with SIGKILL; checks it is gone and that the router counted
  /// the loss.
  func killWorker(_ router: RouterProcess, stage: Int = 0, rank: Int = 0) throws {
    let before = failures(router)
    let pid = try #require(
      workers(router).first { $0.stage == stage && $0.rank == rank && $0.role == "plan" }?.pid)
    #expect(kill(pid, SIGKILL) == 0)
    #expect(eventually { kill(pid, 0) != 0 }, "worker \(pid) is gone")
    #expect(eventually { failures(router) > before }, "the router counted the lost worker")
  }

  /// Stops the worker at a slot with SIGSTOP until the router counted it lost; returns its
  /// pid (the caller sends SIGCONT).
  func stopWorker(_ router: RouterProcess, stage: Int = 0, rank: Int = 0) throws -> Int32 {
    let before = failures(router)
    let pid = try #require(
      workers(router).first { $0.stage == stage && $0.rank == rank && $0.role == "plan" }?.pid)
    #expect(kill(pid, SIGSTOP) == 0)
    #expect(eventually { processState(pid) == "T" }, "worker \(pid) is stopped")
    #expect(eventually { failures(router) > before }, "the router counted the stopped worker")
    return pid
  }

  // MARK: Streams

  /// Streams every body at once; runs `fault` once `count` events have arrived in all; then
  /// every stream must end as its reference did.
  func expectSurvives(
    _ router: RouterProcess, references: [[Event]], after count: Int, fault: () throws -> Void
  ) throws {
    let received = Atomic<Int>(0)
    let results = Mutex<[Int: [Event]]>([:])
    let group = DispatchGroup()
    for (index, body) in Self.bodies.enumerated() {
      nonisolated(unsafe) let client = try stream(router, body)
      group.enter()
      Thread {
        var events: [Event] = []
        while let event = try? client.next() {
          events.append(event)
          received.add(1, ordering: .relaxed)
        }
        results.withLock { [events] in $0[index] = events }
        group.leave()
      }.start()
    }
    #expect(eventually { received.load(ordering: .relaxed) >= count })
    let streamedBefore = received.load(ordering: .relaxed)
    try fault()
    #expect(group.wait(timeout: .now() + 180) == .success, "every stream ends")
    let total = results.withLock { $0.values.reduce(0) { $0 + $1.count } }
    #expect(total > streamedBefore, "the streams went on after the fault")
    for (index, reference) in references.enumerated() {
      expectSame(results.withLock { $0[index] } ?? [], reference, "request \(index)")
    }
  }

  /// The same choices, text and everything else (logprobs, finish reasons), and no error.
  func expectSame(_ events: [Event], _ reference: [Event], _ what: String) {
    #expect(events.last?.data == "[DONE]", "\(what) ends")
    #expect(!events.contains { $0.data.contains("\"error\"") }, "\(what) has no error event")
    let got = StreamChoices(events)
    let expected = StreamChoices(reference)
    #expect(!expected.byIndex.isEmpty)
    #expect(got.byIndex.keys.sorted() == expected.byIndex.keys.sorted(), "\(what): choices")
    for (index, choice) in expected.byIndex {
      #expect(got.byIndex[index]?.text == choice.text, "\(what): choice \(index)'s text")
      #expect(got.byIndex[index]?.rest == choice.rest, "\(what): choice \(index)'s logprobs")
    }
  }

  func stream(_ router: RouterProcess, _ body: [String: Any]) throws -> EventStreamClient {
    let path = body["messages"] == nil ? "/v1/completions" : "/v1/chat/completions"
    return try EventStreamClient(port: router.port, path: path, json: body)
  }

  // MARK: What the router says

  struct Worker {
    let pid: Int32
    let stage: Int?
    let rank: Int?
    let role: String
  }

  func clusterReport(_ router: RouterProcess) -> [String: Any] {
    guard let (status, data) = try? router.get("/v1/cluster"), status == 200 else { return [:] }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
  }

  func cluster(_ router: RouterProcess) -> [String: Any] {
    clusterReport(router)["cluster"] as? [String: Any] ?? [:]
  }

  func workers(_ router: RouterProcess) -> [Worker] {
    (clusterReport(router)["workers"] as? [[String: Any]] ?? []).map {
      Worker(
        pid: Int32($0["pid"] as? Int ?? 0), stage: $0["stage"] as? Int, rank: $0["rank"] as? Int,
        role: $0["role"] as? String ?? "")
    }
  }

  func failures(_ router: RouterProcess) -> Int {
    (cluster(router)["failures"] as? [String: Int] ?? [:]).values.reduce(0, +)
  }

  func replayed(_ router: RouterProcess) -> Int { router.metric("replayed_sequences_total") }

  /// The state letter of /proc/PID/stat (R, S, T, Z…).
  func processState(_ pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
  }

}

/// A stream's choices: per index, its text and everything else its chunks said (logprobs,
/// finish reason), concatenated in order.
struct StreamChoices {
  var byIndex: [Int: (text: String, rest: String)] = [:]

  init(_ events: [EventStreamClient.Event]) {
    for event in events {
      guard
        let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8))
          as? [String: Any],
        let choices = object["choices"] as? [[String: Any]]
      else { continue }
      for choice in choices {
        guard let index = choice["index"] as? Int else { continue }
        let delta = choice["delta"] as? [String: Any]
        let piece = (delta?["content"] as? String) ?? (choice["text"] as? String) ?? ""
        var other = choice
        other["delta"] = nil
        other["text"] = nil
        let rest =
          (try? JSONSerialization.data(withJSONObject: other, options: .sortedKeys))
          .map { String(decoding: $0, as: UTF8.self) } ?? ""
        let previous = byIndex[index] ?? ("", "")
        byIndex[index] = (previous.text + piece, previous.rest + rest)
      }
    }
  }
}
