/// Router → every worker of a plan: make `sequence` (empty, or loaded by an earlier message)
/// start with exactly the cached blocks `ids`, as far as the worker can: it loads what it has
/// (its local tier, then Redis) and cuts anything beyond. Sent before the step that admits the
/// sequence, and again with fewer ids when some worker loaded fewer, so every stage and rank
/// agrees on where computing starts.
public struct PrefixLoad: Equatable, Sendable {
  public var planID: UInt64
  /// Sequences to free first (released since the last step): their blocks are the room the
  /// router counted on.
  public var releases: [Int]
  public var sequence: Int
  public var ids: [FragmentID]

  public init(planID: UInt64, releases: [Int] = [], sequence: Int, ids: [FragmentID]) {
    self.planID = planID
    self.releases = releases
    self.sequence = sequence
    self.ids = ids
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(array: releases.map { Int64($0) })
    writer.write(sequence)
    writer.write(fragmentIDs: ids)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    releases = try reader.readArray(Int64.self, "releases").map { Int($0) }
    guard releases.allSatisfy({ $0 >= 0 }) else { throw .outOfRange("released sequence") }
    sequence = try reader.readInt("sequence", in: 0...Int(Int64.max))
    ids = try reader.readFragmentIDs()
  }
}

/// Worker → router: how many whole cached blocks `sequence` now starts with on this worker.
public struct PrefixLoaded: Equatable, Sendable {
  public var planID: UInt64
  public var slot: Slot
  public var sequence: Int
  public var blocks: Int

  public init(planID: UInt64, slot: Slot, sequence: Int, blocks: Int) {
    self.planID = planID
    self.slot = slot
    self.sequence = sequence
    self.blocks = blocks
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(slot)
    writer.write(sequence)
    writer.write(blocks)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    slot = try reader.readSlot()
    sequence = try reader.readInt("sequence", in: 0...Int(Int64.max))
    blocks = try reader.readInt("blocks", in: 0...WireLimits.tokens)
  }
}

/// Router → every worker: keep `sequence`'s computed blocks from `firstBlock` on, whose ids
/// are `ids`, in the fragment cache (each worker stores the parts it holds).
public struct PrefixKeep: Equatable, Sendable {
  public var planID: UInt64
  public var sequence: Int
  public var firstBlock: Int
  public var ids: [FragmentID]

  public init(planID: UInt64, sequence: Int, firstBlock: Int, ids: [FragmentID]) {
    self.planID = planID
    self.sequence = sequence
    self.firstBlock = firstBlock
    self.ids = ids
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(sequence)
    writer.write(firstBlock)
    writer.write(fragmentIDs: ids)
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    sequence = try reader.readInt("sequence", in: 0...Int(Int64.max))
    firstBlock = try reader.readInt("first block", in: 0...WireLimits.tokens)
    ids = try reader.readFragmentIDs()
  }
}

extension WireWriter {
  mutating func write(fragmentIDs ids: [FragmentID]) {
    write(UInt32(ids.count))
    for id in ids { for byte in id.digest { write(byte) } }
  }
}

extension WireReader {
  mutating func readFragmentIDs() throws(WireError) -> [FragmentID] {
    let count = try readCount("fragment ids", elementSize: 32)
    guard count <= WireLimits.tokens else { throw .outOfRange("fragment ids") }
    var ids: [FragmentID] = []
    ids.reserveCapacity(count)
    for _ in 0..<count {
      var digest: [UInt8] = []
      digest.reserveCapacity(32)
      for _ in 0..<32 { digest.append(try read(UInt8.self, "fragment id")) }
      ids.append(FragmentID(digest: digest))
    }
    return ids
  }
}
