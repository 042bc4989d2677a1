public import Core

/// One worker as `/v1/cluster` shows it: who it is, where it sits in the plan, and how it is.
public struct WorkerReport: Sendable, Encodable, Equatable {
  public let name: String
  public let threads: Int
  /// Its place in the plan, nil while it waits for one.
  public let stage: Int?
  public let rank: Int?
  public let ready: Bool
  /// Where its peers reach its data plane.
  public let dataAddress: String
  public let weightBytes: Int
  public let dataBytesSent: Int
  /// Seconds since the router last heard from it (hello, heartbeat or reply).
  public let secondsSinceSeen: Double
  /// Its process id on its host.
  public let pid: Int
  /// "plan" (it holds a slot) or "standby".
  public let role: String
  /// A standby's shards packed so far, of those it was told to keep.
  public let preparedShards: Int

  enum CodingKeys: String, CodingKey {
    case name, threads, stage, rank, ready
    case dataAddress = "data_address"
    case weightBytes = "weight_bytes"
    case dataBytesSent = "data_bytes_sent"
    case secondsSinceSeen = "seconds_since_seen"
    case pid, role
    case preparedShards = "prepared_shards"
  }

  public init(_ member: Membership.Member, now: Double) {
    name = member.hello.name
    threads = member.hello.threads
    stage = member.slot?.stage
    rank = member.slot?.rank
    ready = member.ready
    dataAddress = member.hello.dataAddress
    weightBytes = member.weightBytes
    dataBytesSent = member.dataBytesSent
    secondsSinceSeen = max(0, now - member.lastSeen)
    pid = member.hello.processID
    role = member.slot == nil ? "standby" : "plan"
    preparedShards = member.preparedShards
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(name, forKey: .name)
    try container.encode(threads, forKey: .threads)
    try container.encode(stage, forKey: .stage)  // null while unassigned
    try container.encode(rank, forKey: .rank)
    try container.encode(ready, forKey: .ready)
    try container.encode(dataAddress, forKey: .dataAddress)
    try container.encode(weightBytes, forKey: .weightBytes)
    try container.encode(dataBytesSent, forKey: .dataBytesSent)
    try container.encode(secondsSinceSeen, forKey: .secondsSinceSeen)
    try container.encode(pid, forKey: .pid)
    try container.encode(role, forKey: .role)
    try container.encode(preparedShards, forKey: .preparedShards)
  }
}
