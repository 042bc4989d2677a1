/// The messages router and workers exchange, as versioned binary frames:
/// `"TS"`, version, command, then the command's fields (little-endian; see `WireCoding`).
///
/// Every message that belongs to a plan carries the plan's id, and every step message its
/// step id, so a duplicated, replayed or stale message (from an earlier plan or a restarted
/// router) is recognized and dropped. Activations cross as raw f32 bits: lossless.
public enum WireMessage: Equatable, Sendable {
  /// Worker → router: here I am.
  case hello(WorkerHello)
  /// Router → worker: your place in a plan.
  case assign(Assignment)
  /// Worker → router: shard loaded, peers connected.
  case ready(WorkerReady)
  /// Router → every worker: run one forward step.
  case step(StepCommand)
  /// Last stage → router: a vocabulary slice of the logits the step asked for.
  case logits(LogitsReply)
  /// Stage s → stage s+1 (same rank): the residual stream after stage s's layers.
  case hidden(HiddenStates)
  /// Rank → the other ranks of its stage: its canonical units' partial sums.
  case partials(UnitPartials)
  /// Both ways, every second or so.
  case heartbeat(Heartbeat)
  /// Worker → router: a step could not run.
  case failure(StepFailure)
  /// Router → worker: start a sequence with cached blocks.
  case prefixLoad(PrefixLoad)
  /// Worker → router: how many it loaded.
  case prefixLoaded(PrefixLoaded)
  /// Router → worker: keep a sequence's computed blocks in the fragment cache.
  case prefixKeep(PrefixKeep)
  /// Router → worker: exit.
  case shutdown
  /// Router → worker outside the plan: wait as a standby (warm: shards packed).
  case standby(StandbyOrder)

  public static let version: UInt8 = 4
  static let magic: [UInt8] = [0x54, 0x53]  // "TS"

  enum Command: UInt8 {
    case hello = 1
    case assign = 2
    case ready = 3
    case step = 4
    case logits = 5
    case hidden = 6
    case partials = 7
    case heartbeat = 8
    case failure = 9
    case shutdown = 10
    case prefixLoad = 11
    case prefixLoaded = 12
    case prefixKeep = 13
    case standby = 14
  }

  var command: Command {
    switch self {
    case .hello: .hello
    case .assign: .assign
    case .ready: .ready
    case .step: .step
    case .logits: .logits
    case .hidden: .hidden
    case .partials: .partials
    case .heartbeat: .heartbeat
    case .failure: .failure
    case .shutdown: .shutdown
    case .prefixLoad: .prefixLoad
    case .prefixLoaded: .prefixLoaded
    case .prefixKeep: .prefixKeep
    case .standby: .standby
    }
  }

  public func encoded() -> [UInt8] {
    var writer = WireWriter()
    for byte in Self.magic { writer.write(byte) }
    writer.write(Self.version)
    writer.write(command.rawValue)
    switch self {
    case .hello(let message): message.encode(&writer)
    case .assign(let message): message.encode(&writer)
    case .ready(let message): message.encode(&writer)
    case .step(let message): message.encode(&writer)
    case .logits(let message): message.encode(&writer)
    case .hidden(let message): message.encode(&writer)
    case .partials(let message): message.encode(&writer)
    case .heartbeat(let message): message.encode(&writer)
    case .failure(let message): message.encode(&writer)
    case .prefixLoad(let message): message.encode(&writer)
    case .prefixLoaded(let message): message.encode(&writer)
    case .prefixKeep(let message): message.encode(&writer)
    case .standby(let message): message.encode(&writer)
    case .shutdown: break
    }
    return writer.bytes
  }

  public init(decoding bytes: [UInt8]) throws(WireError) {
    var reader = WireReader(bytes)
    guard bytes.count >= 4, Array(bytes[0..<2]) == Self.magic else { throw .badMagic }
    _ = try reader.read(UInt16.self, "magic")
    let version = try reader.read(UInt8.self, "version")
    guard version == Self.version else { throw .unsupportedVersion(version) }
    let raw = try reader.read(UInt8.self, "command")
    guard let command = Command(rawValue: raw) else { throw .unknownCommand(raw) }
    switch command {
    case .hello: self = .hello(try WorkerHello(&reader))
    case .assign: self = .assign(try Assignment(&reader))
    case .ready: self = .ready(try WorkerReady(&reader))
    case .step: self = .step(try StepCommand(&reader))
    case .logits: self = .logits(try LogitsReply(&reader))
    case .hidden: self = .hidden(try HiddenStates(&reader))
    case .partials: self = .partials(try UnitPartials(&reader))
    case .heartbeat: self = .heartbeat(try Heartbeat(&reader))
    case .failure: self = .failure(try StepFailure(&reader))
    case .shutdown: self = .shutdown
    case .prefixLoad: self = .prefixLoad(try PrefixLoad(&reader))
    case .prefixLoaded: self = .prefixLoaded(try PrefixLoaded(&reader))
    case .prefixKeep: self = .prefixKeep(try PrefixKeep(&reader))
    case .standby: self = .standby(try StandbyOrder(&reader))
    }
    try reader.finish()
  }
}

/// Limits on what a message may describe (beyond fitting in the bytes received).
enum WireLimits {
  static let rows = 1 << 16
  static let width = 1 << 20
  static let tokens = 1 << 20
  static let peers = 1024
  static let layers = 1 << 16
}

extension WireWriter {
  mutating func write(_ slot: Slot) {
    write(slot.stage)
    write(slot.rank)
  }

  mutating func write(_ shard: ShardSpec) {
    write(shard.layers)
    write(shard.queryHeads)
    write(shard.kvGroups)
    write(shard.ffnUnits)
    write(shard.vocabulary != nil)
    write(shard.vocabulary ?? 0..<0)
    write(shard.holdsEmbedding)
  }
}

extension WireReader {
  mutating func readSlot() throws(WireError) -> Slot {
    let stage = try readInt("stage", in: 0...WireLimits.peers)
    return Slot(stage: stage, rank: try readInt("rank", in: 0...WireLimits.peers))
  }

  mutating func readShard() throws(WireError) -> ShardSpec {
    let layers = try readRange("layers", limit: WireLimits.layers)
    let queryHeads = try readRange("query heads", limit: WireLimits.layers)
    let kvGroups = try readRange("KV groups", limit: WireLimits.layers)
    let ffnUnits = try readRange("FFN units", limit: WireLimits.layers)
    let hasVocabulary = try readBool("vocabulary flag")
    let vocabulary = try readRange("vocabulary", limit: 1 << 24)
    let holdsEmbedding = try readBool("embedding flag")
    return ShardSpec(
      layers: layers, queryHeads: queryHeads, kvGroups: kvGroups, ffnUnits: ffnUnits,
      vocabulary: hasVocabulary ? vocabulary : nil, holdsEmbedding: holdsEmbedding)
  }

  /// Seconds sent as whole milliseconds, 1 ms to one hour.
  mutating func readMilliseconds(_ what: String) throws(WireError) -> Double {
    Double(try readInt(what, in: 1...3_600_000)) / 1000
  }
}
