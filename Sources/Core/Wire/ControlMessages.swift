/// Worker → router: a worker announces itself.
public struct WorkerHello: Equatable, Sendable {
  public var name: String
  public var threads: Int
  /// SHA-256 identifying the model file (see `ModelFingerprint`).
  public var fingerprint: [UInt8]
  /// The data-plane address peers should connect to (reachable from other hosts).
  public var dataAddress: String
  /// The worker's process id on its host (for operators and the chaos driver).
  public var processID: Int
  /// Bytes of memory the worker may use for weights (0: unknown, no limit).
  public var memoryBytes: Int

  public init(
    name: String, threads: Int, fingerprint: [UInt8], dataAddress: String, processID: Int = 0,
    memoryBytes: Int = 0
  ) {
    self.name = name
    self.threads = threads
    self.fingerprint = fingerprint
    self.dataAddress = dataAddress
    self.processID = processID
    self.memoryBytes = memoryBytes
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(name)
    writer.write(threads)
    writer.write(fingerprint)
    writer.write(dataAddress)
    writer.write(processID)
    writer.write(memoryBytes)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    name = try reader.readString("name", limit: 256)
    threads = try reader.readInt("threads", in: 1...1024)
    fingerprint = try reader.readBytes("fingerprint", limit: 64)
    dataAddress = try reader.readString("data address", limit: 1024)
    processID = try reader.readInt("process id", in: 0...Int(Int32.max))
    memoryBytes = try reader.readInt("memory bytes", in: 0...Int(Int64.max))
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
  /// The Curve public keys (Z85) of `stagePeers`, by rank, and of `nextStage`: the servers
  /// this worker dials. Empty without Curve.
  public var stagePeerKeys: [String]
  public var nextStageKey: String
  /// The public keys that may connect to this worker's data plane: the other ranks of its
  /// stage and the ranks of the stage before. Empty without Curve.
  public var dataClientKeys: [String]
  /// KV cache capacity in tokens and most tokens per step.
  public var kvTokens: Int
  public var maxBatch: Int
  /// Seconds of silence after which the router counts a worker lost (`--worker-timeout`): the
  /// worker heartbeats four times within it.
  public var workerTimeout: Double

  public init(
    planID: UInt64, slot: Slot, tensorParallel: Int, pipelineParallel: Int, shard: ShardSpec,
    stagePeers: [String], nextStage: String?, kvTokens: Int, maxBatch: Int,
    workerTimeout: Double = 1, stagePeerKeys: [String] = [], nextStageKey: String = "",
    dataClientKeys: [String] = []
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
    self.workerTimeout = workerTimeout
    self.stagePeerKeys = stagePeerKeys
    self.nextStageKey = nextStageKey
    self.dataClientKeys = dataClientKeys
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(slot)
    writer.write(tensorParallel)
    writer.write(pipelineParallel)
    writer.write(shard)
    writer.write(UInt32(stagePeers.count))
    for peer in stagePeers { writer.write(peer) }
    writer.write(nextStage != nil)
    writer.write(nextStage ?? "")
    writer.write(kvTokens)
    writer.write(maxBatch)
    writer.write(Int(workerTimeout * 1000))
    writer.write(strings: stagePeerKeys)
    writer.write(nextStageKey)
    writer.write(strings: dataClientKeys)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    slot = try reader.readSlot()
    tensorParallel = try reader.readInt("tensor parallel", in: 1...WireLimits.peers)
    pipelineParallel = try reader.readInt("pipeline parallel", in: 1...WireLimits.peers)
    shard = try reader.readShard()
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
    workerTimeout = try reader.readMilliseconds("worker timeout")
    stagePeerKeys = try reader.readStrings("stage peer keys", limit: 64)
    guard stagePeerKeys.isEmpty || stagePeerKeys.count == tensorParallel else {
      throw .outOfRange("stage peer keys")
    }
    nextStageKey = try reader.readString("next stage key", limit: 64)
    dataClientKeys = try reader.readStrings("data client keys", limit: 64)
  }
}

/// Router → a worker outside the plan: you are a standby of plan `planID`. A warm standby
/// packs every shard of that plan (`shards`: the whole model in the plan's cut) so it can take
/// any slot at once; a cold one holds nothing until assigned.
public struct StandbyOrder: Equatable, Sendable {
  public var planID: UInt64
  public var warm: Bool
  public var shards: [ShardSpec]
  /// As in `Assignment`.
  public var workerTimeout: Double

  public init(planID: UInt64, warm: Bool, shards: [ShardSpec], workerTimeout: Double) {
    self.planID = planID
    self.warm = warm
    self.shards = shards
    self.workerTimeout = workerTimeout
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(warm)
    writer.write(UInt32(shards.count))
    for shard in shards { writer.write(shard) }
    writer.write(Int(workerTimeout * 1000))
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    warm = try reader.readBool("warm flag")
    let count = try reader.readCount("shards", elementSize: 8)
    guard count <= WireLimits.peers else { throw .outOfRange("\(count) shards") }
    shards = []
    for _ in 0..<count { shards.append(try reader.readShard()) }
    workerTimeout = try reader.readMilliseconds("worker timeout")
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
/// reports the bytes it has sent to its peers under that plan, how many shards it holds
/// packed for a standby order, and how many clients its data plane refused for their Curve
/// key since it started (a router sends 0).
public struct Heartbeat: Equatable, Sendable {
  public var planID: UInt64
  public var sequence: UInt64
  public var dataBytesSent: UInt64
  public var preparedShards: UInt32
  public var refusedClients: UInt32

  public init(
    planID: UInt64, sequence: UInt64, dataBytesSent: UInt64 = 0, preparedShards: UInt32 = 0,
    refusedClients: UInt32 = 0
  ) {
    self.planID = planID
    self.sequence = sequence
    self.dataBytesSent = dataBytesSent
    self.preparedShards = preparedShards
    self.refusedClients = refusedClients
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(sequence)
    writer.write(dataBytesSent)
    writer.write(preparedShards)
    writer.write(refusedClients)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    sequence = try reader.read(UInt64.self, "sequence")
    dataBytesSent = try reader.read(UInt64.self, "data bytes sent")
    preparedShards = try reader.read(UInt32.self, "prepared shards")
    refusedClients = try reader.read(UInt32.self, "refused clients")
  }
}

/// Worker → router: a step failed on this worker (the message says why). A failure of the
/// links between workers (a peer's message never came, a connection was reset and what was
/// on it lost) is `linkLost`: the plan is made again and the work replayed, as for a lost
/// worker; any other failure is the step's own.
public struct StepFailure: Equatable, Sendable {
  public var planID: UInt64
  public var stepID: UInt64
  public var message: String
  public var linkLost: Bool

  public init(planID: UInt64, stepID: UInt64, message: String, linkLost: Bool = false) {
    self.planID = planID
    self.stepID = stepID
    self.message = message
    self.linkLost = linkLost
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(stepID)
    writer.write(message)
    writer.write(linkLost)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    stepID = try reader.read(UInt64.self, "step id")
    message = try reader.readString("message")
    linkLost = try reader.readBool("link lost flag")
  }
}
