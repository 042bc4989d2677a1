/// Worker → router: a worker announces itself.
public struct WorkerHello: Equatable, Sendable {
  public var name: String
  public var threads: Int
  /// SHA-256 identifying the model file (see `ModelFingerprint`).
  public var fingerprint: [UInt8]
  /// The data-plane address peers should connect to (reachable from other hosts).
  public var dataAddress: String

  public init(name: String, threads: Int, fingerprint: [UInt8], dataAddress: String) {
    self.name = name
    self.threads = threads
    self.fingerprint = fingerprint
    self.dataAddress = dataAddress
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(name)
    writer.write(threads)
    writer.write(fingerprint)
    writer.write(dataAddress)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    name = try reader.readString("name", limit: 256)
    threads = try reader.readInt("threads", in: 1...1024)
    fingerprint = try reader.readBytes("fingerprint", limit: 64)
    dataAddress = try reader.readString("data address", limit: 1024)
  }
}

/// Router → worker: its slot in a plan, its shard, and where its peers listen.
public struct Assignment: Equatable, Sendable {
  public var planID: UInt64
  public var slot: Slot
  public var tensorParallel: Int
  public var pipelineParallel: Int
  public var shard: ShardSpec
  /// Data addresses of the ranks of this worker's stage, by rank (its own included).
  public var stagePeers: [String]
  /// Data address of the same rank in the next stage; nil on the last stage.
  public var nextStage: String?
  /// KV cache capacity in tokens and most tokens per step.
  public var kvTokens: Int
  public var maxBatch: Int

  public init(
    planID: UInt64, slot: Slot, tensorParallel: Int, pipelineParallel: Int, shard: ShardSpec,
    stagePeers: [String], nextStage: String?, kvTokens: Int, maxBatch: Int
  ) {
    self.planID = planID
    self.slot = slot
    self.tensorParallel = tensorParallel
    self.pipelineParallel = pipelineParallel
    self.shard = shard
    self.stagePeers = stagePeers
    self.nextStage = nextStage
    self.kvTokens = kvTokens
    self.maxBatch = maxBatch
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(slot)
    writer.write(tensorParallel)
    writer.write(pipelineParallel)
    writer.write(shard.layers)
    writer.write(shard.kvGroups)
    writer.write(shard.ffnUnits)
    writer.write(shard.vocabulary != nil)
    writer.write(shard.vocabulary ?? 0..<0)
    writer.write(shard.holdsEmbedding)
    writer.write(UInt32(stagePeers.count))
    for peer in stagePeers { writer.write(peer) }
    writer.write(nextStage != nil)
    writer.write(nextStage ?? "")
    writer.write(kvTokens)
    writer.write(maxBatch)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    slot = try reader.readSlot()
    tensorParallel = try reader.readInt("tensor parallel", in: 1...WireLimits.peers)
    pipelineParallel = try reader.readInt("pipeline parallel", in: 1...WireLimits.peers)
    let layers = try reader.readRange("layers", limit: WireLimits.layers)
    let kvGroups = try reader.readRange("KV groups", limit: WireLimits.layers)
    let ffnUnits = try reader.readRange("FFN units", limit: WireLimits.layers)
    let hasVocabulary = try reader.readBool("vocabulary flag")
    let vocabulary = try reader.readRange("vocabulary", limit: 1 << 24)
    let holdsEmbedding = try reader.readBool("embedding flag")
    shard = ShardSpec(
      layers: layers, kvGroups: kvGroups, ffnUnits: ffnUnits,
      vocabulary: hasVocabulary ? vocabulary : nil, holdsEmbedding: holdsEmbedding)
    let peerCount = try reader.readCount("stage peers", elementSize: 4)
    guard peerCount == tensorParallel, slot.rank < tensorParallel,
      slot.stage < pipelineParallel
    else {
      throw .outOfRange("slot or stage peers")
    }
    stagePeers = []
    for _ in 0..<peerCount { stagePeers.append(try reader.readString("peer", limit: 1024)) }
    let hasNext = try reader.readBool("next stage flag")
    let next = try reader.readString("next stage", limit: 1024)
    nextStage = hasNext ? next : nil
    kvTokens = try reader.readInt("KV tokens", in: 1...(1 << 24))
    maxBatch = try reader.readInt("max batch", in: 1...WireLimits.rows)
  }
}

/// Worker → router: the shard is loaded and the data plane connected.
public struct WorkerReady: Equatable, Sendable {
  public var planID: UInt64
  public var slot: Slot
  /// Bytes of weights this worker holds.
  public var weightBytes: Int

  public init(planID: UInt64, slot: Slot, weightBytes: Int) {
    self.planID = planID
    self.slot = slot
    self.weightBytes = weightBytes
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(slot)
    writer.write(weightBytes)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    slot = try reader.readSlot()
    weightBytes = try reader.readInt("weight bytes", in: 0...Int(Int64.max))
  }
}

/// Both ways: still here. `planID` is the sender's current plan (0: none). A worker also
/// reports the bytes it has sent to its peers under that plan (a router sends 0).
public struct Heartbeat: Equatable, Sendable {
  public var planID: UInt64
  public var sequence: UInt64
  public var dataBytesSent: UInt64

  public init(planID: UInt64, sequence: UInt64, dataBytesSent: UInt64 = 0) {
    self.planID = planID
    self.sequence = sequence
    self.dataBytesSent = dataBytesSent
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(sequence)
    writer.write(dataBytesSent)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    sequence = try reader.read(UInt64.self, "sequence")
    dataBytesSent = try reader.read(UInt64.self, "data bytes sent")
  }
}

/// Worker → router: a step failed on this worker (the message says why).
public struct StepFailure: Equatable, Sendable {
  public var planID: UInt64
  public var stepID: UInt64
  public var message: String

  public init(planID: UInt64, stepID: UInt64, message: String) {
    self.planID = planID
    self.stepID = stepID
    self.message = message
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(stepID)
    writer.write(message)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    stepID = try reader.read(UInt64.self, "step id")
    message = try reader.readString("message")
  }
}
