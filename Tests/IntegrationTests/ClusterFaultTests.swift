import Core
import Foundation
import Router
import TestSupport
import Testing
import Transport

/// Workers as real processes against a coordinator in the test process: a worker that comes
/// late, and garbage on every socket.
@Suite(.serialized) struct ClusterFaultTests {
  static let prompt: [TokenID] = [504, 3575, 282, 4649, 314, 1167, 30, 378]

  func startWorker(router: String, name: String) throws -> Process {
    let process = Process()
    process.executableURL = TesseraProcess.executableURL
    process.arguments = [
      "worker", "--router", router, "--model", ModelFiles.smolLM2Path, "--threads", "1",
      "--name", name, "--parent-pid", String(getpid()),
    ]
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
  }

  func stop(_ processes: [Process]) {
    for process in processes where process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
  }

  func singleProcessLogits() throws -> [Float] {
    let engine = try Engines.smolLM2(threads: 1)
    return try engine.feed(sequence: 0, tokens: Self.prompt, logitsAt: [Self.prompt.count - 1])
  }

  @Test func theCoordinatorWaitsForAMissingWorkerThenPlans() throws {
    let file = try ModelFiles.smolLM2()
    let config = try ModelConfig(gguf: file)
    let coordinator = try Coordinator(
      bind: "tcp://127.0.0.1:*", config: config, fingerprint: ModelFingerprint.of(file),
      tensorParallel: 2, pipelineParallel: 1, kvTokens: 256)
    let first = try startWorker(router: coordinator.endpoint, name: "first")
    defer { stop([first]) }
    // One of two workers: no plan, and a clear error when waiting runs out.
    let waited = Result { try coordinator.waitUntilReady(timeout: 3) }
    let description = (waited.failure as? ClusterError)?.description ?? "no error"
    #expect(description == "1 of the 2 workers the plan needs joined within 3.0 s")
    #expect(!coordinator.isReady)
    let second = try startWorker(router: coordinator.endpoint, name: "second")
    defer { stop([second]) }
    try coordinator.waitUntilReady(timeout: 60)
    let engine = ClusterEngine(coordinator: coordinator)
    let logits = try engine.step([
      StepCommand.Entry(sequence: 1, tokens: Self.prompt, logitRows: [Self.prompt.count - 1])
    ])
    #expect(logits.map(\.bitPattern) == (try singleProcessLogits()).map(\.bitPattern))
    coordinator.shutdownWorkers()
  }

  @Test func workersRejoinARestartedRouterAtTheSameAddress() throws {
    let file = try ModelFiles.smolLM2()
    let config = try ModelConfig(gguf: file)
    func coordinator(at endpoint: String) throws -> Coordinator {
      try Coordinator(
        bind: endpoint, config: config, fingerprint: ModelFingerprint.of(file),
        tensorParallel: 1, pipelineParallel: 2, kvTokens: 256)
    }
    var first: Coordinator? = try coordinator(at: "tcp://127.0.0.1:*")
    let endpoint = try #require(first?.endpoint)
    let workers = try (0..<2).map { try startWorker(router: endpoint, name: "w\($0)") }
    defer { stop(workers) }
    try first?.waitUntilReady(timeout: 60)
    let firstPlan = first?.planID
    first = nil  // the router goes away
    let second = try coordinator(at: endpoint)
    try second.waitUntilReady(timeout: 60)
    #expect(second.planID != firstPlan)
    let logits = try ClusterEngine(coordinator: second).step([
      StepCommand.Entry(sequence: 0, tokens: Self.prompt, logitRows: [Self.prompt.count - 1])
    ])
    #expect(logits.map(\.bitPattern) == (try singleProcessLogits()).map(\.bitPattern))
    second.shutdownWorkers()
  }

  /// Pipelining: with several steps in flight, stage 0 runs step k+1 while stage 1 finishes
  /// step k; each step's logits are those of the same step run alone.
  @Test func stepsInFlightGiveTheSameBitsAsOneAtATime() throws {
    let file = try ModelFiles.smolLM2()
    let cluster = try LocalCluster(
      modelPath: ModelFiles.smolLM2Path, config: try ModelConfig(gguf: file),
      fingerprint: ModelFingerprint.of(file), tensorParallel: 1, pipelineParallel: 3,
      threads: 1, kvTokens: 1024, executable: TesseraProcess.executableURL.path)
    defer { cluster.stop() }
    let coordinator = cluster.coordinator
    let prompts: [[TokenID]] = (0..<4).map { index in Self.prompt.map { $0 + TokenID(index) } }
    func entry(_ sequence: Int, _ tokens: [TokenID]) -> StepCommand.Entry {
      StepCommand.Entry(sequence: sequence, tokens: tokens, logitRows: [tokens.count - 1])
    }
    // One at a time: sequences 0..<4.
    var alone: [[Float]] = []
    for (index, prompt) in prompts.enumerated() {
      var logits: [Float] = []
      try coordinator.collect(try coordinator.submit([entry(index, prompt)]), into: &logits)
      alone.append(logits)
    }
    // All four in flight at once: sequences 10..<14, then a decode step for each, in flight.
    let ids = try prompts.enumerated().map { try coordinator.submit([entry(10 + $0, $1)]) }
    for (index, id) in ids.enumerated() {
      var logits: [Float] = []
      try coordinator.collect(id, into: &logits)
      #expect(logits.map(\.bitPattern) == alone[index].map(\.bitPattern), "sequence \(index)")
    }
    let decodes = try (0..<4).map { try coordinator.submit([entry(10 + $0, [42])]) }
    let decodedAlone = try (0..<4).map { try coordinator.submit([entry($0, [42])]) }
    for (pipelined, single) in zip(decodes, decodedAlone) {
      var first: [Float] = []
      var second: [Float] = []
      try coordinator.collect(pipelined, into: &first)
      try coordinator.collect(single, into: &second)
      #expect(first.map(\.bitPattern) == second.map(\.bitPattern))
    }
  }

  @Test func garbageOnEverySocketIsDroppedAndServiceContinues() throws {
    let file = try ModelFiles.smolLM2()
    let cluster = try LocalCluster(
      modelPath: ModelFiles.smolLM2Path, config: try ModelConfig(gguf: file),
      fingerprint: ModelFingerprint.of(file), tensorParallel: 2, pipelineParallel: 2,
      threads: 1, kvTokens: 512, executable: TesseraProcess.executableURL.path,
      insecure: true)  // plaintext, so the garbage reaches the wire decoders (with Curve it
    // never gets past the handshake: CurveTests, RemoteWorkersTests)
    defer { cluster.stop() }
    let engine = ClusterEngine(coordinator: cluster.coordinator)
    func run(_ sequence: Int) throws -> [Float] {
      try engine.step([
        StepCommand.Entry(
          sequence: sequence, tokens: Self.prompt, logitRows: [Self.prompt.count - 1])
      ])
    }
    let before = try run(1)
    #expect(before.map(\.bitPattern) == (try singleProcessLogits()).map(\.bitPattern))

    let context = try ZMQContext()
    var targets = [cluster.coordinator.endpoint]
    targets += cluster.coordinator.membership.members.map(\.hello.dataAddress)
    let valid = WireMessage.hidden(
      HiddenStates(planID: 1, stepID: 99, rows: 1, width: 2, values: [1, 2])
    ).encoded()
    var generator = SplitMix64(seed: 3)
    let garbage: [[[UInt8]]] = [
      [Array("GET / HTTP/1.1\r\n\r\n".utf8)],
      [[0x54, 0x53, 1]],  // a header cut short
      [[0x54, 0x53, 2, 6, 0xFF]],  // hidden states cut inside the plan id
      [Array(valid.dropLast(3))],  // truncated payload
      [valid + [0]],  // trailing byte
      [valid],  // well-formed, but of no plan
      [[0x54, 0x53, 9, 1]],  // a future version
      (0..<3).map { _ in (0..<64).map { _ in UInt8(truncatingIfNeeded: generator.next()) } },
      Array(repeating: [1], count: 20),  // too many parts
    ]
    let droppedBefore = cluster.coordinator.droppedMessages
    for target in targets {
      let socket = try ZMQSocket(context, .dealer)
      try socket.connect(target)
      for message in garbage { try socket.send(message) }
      // An oversized part: libzmq drops the connection that sent it.
      let hostile = try ZMQSocket(context, .dealer)
      try hostile.connect(target)
      try hostile.send([[UInt8](repeating: 0x54, count: (64 << 20) + 1)])
    }
    // The workers and the coordinator keep serving, with the same bits.
    for sequence in 2...3 {
      #expect(try run(sequence).map(\.bitPattern) == before.map(\.bitPattern))
    }
    #expect(cluster.coordinator.droppedMessages >= droppedBefore + garbage.count)
    #expect(cluster.workerPIDs.allSatisfy { kill($0, 0) == 0 })
    #expect(cluster.coordinator.isReady)
  }
}

extension Result {
  var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
