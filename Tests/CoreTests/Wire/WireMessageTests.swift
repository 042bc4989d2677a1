import Core
import Testing

@Suite struct WireMessageTests {
  static let samples: [WireMessage] = [
    .hello(
      WorkerHello(
        name: "w0", threads: 2, fingerprint: Array(0..<32), dataAddress: "tcp://10.0.0.2:5601",
        processID: 4242, memoryBytes: 8 << 30)),
    .assign(
      Assignment(
        planID: 42, slot: Slot(stage: 1, rank: 0), tensorParallel: 2, pipelineParallel: 2,
        shard: ShardSpec(
          layers: 15..<30, queryHeads: 0..<5, kvGroups: 0..<2, ffnUnits: 0..<3,
          vocabulary: 0..<24576,
          holdsEmbedding: false),
        stagePeers: ["tcp://a:1", "tcp://b:2"], nextStage: nil, kvTokens: 4096, maxBatch: 256)),
    .assign(
      Assignment(
        planID: 7, slot: Slot(stage: 0, rank: 0), tensorParallel: 1, pipelineParallel: 2,
        shard: ShardSpec(
          layers: 0..<15, queryHeads: 0..<9, kvGroups: 0..<3, ffnUnits: 0..<6, vocabulary: nil,
          holdsEmbedding: true),
        stagePeers: ["ipc:///tmp/x"], nextStage: "tcp://c:3", kvTokens: 1, maxBatch: 1,
        workerTimeout: 0.25, stagePeerKeys: [String(repeating: "k", count: 40)],
        nextStageKey: String(repeating: "n", count: 40),
        dataClientKeys: [String(repeating: "p", count: 40), String(repeating: "q", count: 40)])),
    .standby(
      StandbyOrder(
        planID: 7, warm: true,
        shards: [
          ShardSpec(
            layers: 0..<15, queryHeads: 0..<9, kvGroups: 0..<3, ffnUnits: 0..<6, vocabulary: nil,
            holdsEmbedding: true),
          ShardSpec(
            layers: 15..<30, queryHeads: 0..<9, kvGroups: 0..<3, ffnUnits: 0..<6,
            vocabulary: 0..<49152,
            holdsEmbedding: false),
        ], workerTimeout: 1)),
    .standby(StandbyOrder(planID: 1, warm: false, shards: [], workerTimeout: 2.5)),
    .ready(WorkerReady(planID: 42, slot: Slot(stage: 0, rank: 1), weightBytes: 48_000_000)),
    .step(
      StepCommand(
        planID: 42, stepID: 9, releases: [3],
        entries: [
          .init(sequence: 1, tokens: [1, 2, 3], logitRows: [2]),
          .init(sequence: 2, tokens: [5], logitRows: [0], argmaxOnly: true),
        ])),
    .logits(
      LogitsReply(
        planID: 42, stepID: 9, slot: Slot(stage: 1, rank: 1), vocabulary: 16..<20, rows: 2,
        values: [1, -2, .infinity, 0, -0.0, 3.5, 1e-30, 7])),
    .logits(
      LogitsReply(
        planID: 42, stepID: 9, slot: Slot(stage: 1, rank: 1), vocabulary: 16..<20, rows: 1,
        values: [1, -2, .infinity, 0],
        best: [.init(id: 19, value: 2.5), .init(id: 16, value: -.infinity)])),
    .hidden(HiddenStates(planID: 1, stepID: 2, rows: 1, width: 3, values: [0.1, 0.2, 0.3])),
    .partials(
      UnitPartials(
        planID: 1, stepID: 2, layer: 29, reduction: .ffn, units: 3..<5, rows: 1, width: 2,
        values: [1, 2, 3, 4])),
    .heartbeat(Heartbeat(planID: 0, sequence: 12)),
    .heartbeat(
      Heartbeat(planID: 3, sequence: 1, dataBytesSent: 99, preparedShards: 4, refusedClients: 2)),
    .failure(StepFailure(planID: 1, stepID: 2, message: "the KV cache has no free blocks")),
    .shutdown,
    .prefixLoad(
      PrefixLoad(
        planID: 4, releases: [3, 7], sequence: 9,
        ids: FragmentID.chain(tokens: Array(0..<40), blockSize: 16, fingerprint: [1]))),
    .prefixLoaded(PrefixLoaded(planID: 4, slot: Slot(stage: 1, rank: 2), sequence: 9, blocks: 2)),
    .prefixKeep(
      PrefixKeep(
        planID: 4, sequence: 9, firstBlock: 1,
        ids: FragmentID.chain(tokens: Array(0..<32), blockSize: 16, fingerprint: [2]))),
  ]

  @Test func everyMessageRoundTrips() throws {
    for message in Self.samples {
      #expect(try WireMessage(decoding: message.encoded()) == message)
    }
  }

  @Test func floatsCrossBitForBit() throws {
    let values: [Float] = [.nan, -.nan, .leastNonzeroMagnitude, -0.0, .greatestFiniteMagnitude]
    let message = WireMessage.hidden(
      HiddenStates(planID: 1, stepID: 1, rows: 1, width: 5, values: values))
    guard case .hidden(let decoded) = try WireMessage(decoding: message.encoded()) else {
      Issue.record("wrong message")
      return
    }
    #expect(decoded.values.map(\.bitPattern) == values.map(\.bitPattern))
  }

  @Test func everyTruncationIsATypedError() {
    for message in Self.samples {
      let bytes = message.encoded()
      for length in 0..<bytes.count {
        #expect(throws: WireError.self) { _ = try WireMessage(decoding: Array(bytes[..<length])) }
      }
      #expect(throws: WireError.trailingBytes(1)) { _ = try WireMessage(decoding: bytes + [0]) }
    }
  }

  @Test func headersAreChecked() {
    #expect(throws: WireError.badMagic) { _ = try WireMessage(decoding: [0x47, 0x45, 0x54, 0x20]) }
    #expect(throws: WireError.unsupportedVersion(1)) {
      _ = try WireMessage(decoding: [0x54, 0x53, 1, 1])
    }
    #expect(throws: WireError.unknownCommand(200)) {
      _ = try WireMessage(decoding: [0x54, 0x53, WireMessage.version, 200])
    }
  }

  @Test func hostileCountsAndMismatchedShapesAreRefused() throws {
    // A hidden-states message claiming 2^32-1 floats in a few bytes.
    var bytes: [UInt8] = [0x54, 0x53, WireMessage.version, 6]
    bytes += [UInt8](repeating: 0, count: 16)  // plan and step ids
    bytes += [1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]  // rows 1, width 3
    bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
    #expect(throws: WireError.truncated(reading: "hidden states")) {
      _ = try WireMessage(decoding: bytes)
    }
    let wrongShape = WireMessage.hidden(
      HiddenStates(planID: 1, stepID: 1, rows: 2, width: 3, values: [1, 2, 3])
    ).encoded()
    #expect(throws: WireError.outOfRange("hidden states count")) {
      _ = try WireMessage(decoding: wrongShape)
    }
  }

  @Test func randomCorruptionNeverCrashes() {
    var generator = SplitMix64(seed: 5)
    var decoded = 0
    for _ in 0..<20_000 {
      let sample = Self.samples[Int(generator.next() % UInt64(Self.samples.count))]
      var bytes = sample.encoded()
      for _ in 0...(generator.next() % 4) {
        let index = Int(generator.next() % UInt64(bytes.count))
        bytes[index] = UInt8(truncatingIfNeeded: generator.next())
      }
      if (try? WireMessage(decoding: bytes)) != nil { decoded += 1 }
    }
    // Most corruptions land in payload bytes and still decode; the point is that none crash.
    #expect(decoded > 0)
  }
}
