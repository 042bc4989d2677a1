public import Core
public import RedisClient

/// The Redis tier of the context-fragment cache. Each part of a block is one key,
/// `<prefix>:<block id>:<layer>:<kv head>`, and a block that some process stored whole has a
/// marker key `<prefix>:<block id>`; every key has a TTL, so only cache entries are ever
/// evicted by a `volatile-lru` Redis. Any failure of Redis reads as a miss.
public final class FragmentStore: Sendable {
  public let redis: RedisClient
  /// Seconds a stored fragment lives (set again whenever it is stored again).
  public let ttl: Int
  public let prefix: String
  public let stats = FragmentStats()
  private let log = Log("fragments")

  public init(redis: RedisClient, ttl: Int = 3_600, prefix: String = "tessera:frag:v1") {
    self.redis = redis
    self.ttl = ttl
    self.prefix = prefix
  }

  func markerKey(_ id: FragmentID) -> [UInt8] { Array("\(prefix):\(id)".utf8) }

  func partKey(_ id: FragmentID, _ address: FragmentPart.Address) -> [UInt8] {
    Array("\(prefix):\(id):\(address.layer):\(address.kvHead)".utf8)
  }

  /// How many of `ids`, from the first, have a marker: one round trip.
  public func cachedPrefix(_ ids: [FragmentID]) -> Int {
    guard !ids.isEmpty else { return 0 }
    let start = SystemClock.now()
    defer { stats.recordRoundTrip(seconds: SystemClock.now() - start) }
    do {
      let replies = try redis.pipeline(ids.map { [Array("EXISTS".utf8), markerKey($0)] })
      return replies.prefix { (try? $0.integer()) == 1 }.count
    } catch {
      stats.redisErrors.add(1)
      return 0
    }
  }

  /// The parts at `addresses` of each block, decoded and checked; a part that is missing or
  /// damaged is left out (and counted). One round trip.
  public func fetch(
    _ ids: [FragmentID], addresses: [FragmentPart.Address], tokens: Int, headDimension: Int
  ) -> [[FragmentPart.Address: FragmentPart]] {
    fetch(
      ids, addresses: ids.map { _ in addresses }, tokens: tokens, headDimension: headDimension)
  }

  /// The same with the parts wanted of each block given apart (`addresses[i]` of `ids[i]`).
  public func fetch(
    _ ids: [FragmentID], addresses: [[FragmentPart.Address]], tokens: Int, headDimension: Int
  ) -> [[FragmentPart.Address: FragmentPart]] {
    guard !ids.isEmpty, addresses.count == ids.count, addresses.contains(where: { !$0.isEmpty })
    else { return ids.map { _ in [:] } }
    let start = SystemClock.now()
    defer { stats.recordRoundTrip(seconds: SystemClock.now() - start) }
    let commands = zip(ids, addresses).flatMap { id, wanted in
      wanted.map { [Array("GET".utf8), partKey(id, $0)] }
    }
    let replies: [RedisReply]
    do {
      replies = try redis.pipeline(commands)
    } catch {
      stats.redisErrors.add(1)
      return ids.map { _ in [:] }
    }
    var blocks: [[FragmentPart.Address: FragmentPart]] = []
    var at = 0
    for (id, wanted) in zip(ids, addresses) {
      var parts: [FragmentPart.Address: FragmentPart] = [:]
      for address in wanted {
        let reply = replies[at]
        at += 1
        guard case .string(let bytes) = reply else {
          stats.missingParts.add(1)
          continue
        }
        stats.bytesRead.add(bytes.count)
        do {
          parts[address] = try FragmentPart(
            decoding: bytes, expected: address, tokens: tokens, headDimension: headDimension)
        } catch {
          stats.damagedParts.add(1)
          log.warning("block \(id) \(address.layer)/\(address.kvHead): \(error)")
        }
      }
      blocks.append(parts)
    }
    return blocks
  }

  /// Stores blocks' parts with the TTL, then their markers: one round trip. Returns whether
  /// Redis took them all.
  @discardableResult
  public func store(_ blocks: [(id: FragmentID, parts: [FragmentPart])]) -> Bool {
    guard !blocks.isEmpty else { return true }
    let ttlText = Array(String(ttl).utf8)
    var commands: [[[UInt8]]] = []
    var bytes = 0
    for block in blocks {
      for part in block.parts {
        let value = part.encoded()
        bytes += value.count
        commands.append([
          Array("SET".utf8), partKey(block.id, part.address), value, Array("EX".utf8), ttlText,
        ])
      }
    }
    for block in blocks {
      commands.append([Array("SET".utf8), markerKey(block.id), [1], Array("EX".utf8), ttlText])
    }
    let start = SystemClock.now()
    defer { stats.recordRoundTrip(seconds: SystemClock.now() - start) }
    do {
      let replies = try redis.pipeline(commands)
      let failed = replies.filter { if case .error = $0 { true } else { false } }.count
      guard failed == 0 else {
        stats.redisErrors.add(1)
        log.warning("Redis refused \(failed) of \(replies.count) fragment writes")
        return false
      }
      stats.bytesWritten.add(bytes)
      return true
    } catch {
      stats.redisErrors.add(1)
      return false
    }
  }
}
