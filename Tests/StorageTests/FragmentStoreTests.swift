import ContextCache
import Core
import Foundation
import RedisClient
import Router
import Testing

/// The Redis tier of the context-fragment cache against a real redis-server.
@Suite struct FragmentStoreTests {
  let shard = ShardSpec(
    layers: 0..<3, queryHeads: 0..<2, kvGroups: 0..<2, ffnUnits: 0..<1, vocabulary: nil,
    holdsEmbedding: false)
  var fragments: KVFragments { KVFragments(shard: shard, headDimension: 32) }

  func ids(_ count: Int, seed: Int32 = 1) -> [FragmentID] {
    FragmentID.chain(
      tokens: (0..<Int32(count * 16)).map { $0 &* 31 &+ seed }, blockSize: 16,
      fingerprint: [1, 2, 3])
  }

  func parts(_ block: Int) -> [FragmentPart] {
    fragments.addresses.map { address in
      FragmentPart(
        address: address, tokens: 16, headDimension: 32,
        keys: (0..<512).map { UInt16(truncatingIfNeeded: $0 &+ block &* 7 &+ address.layer) },
        values: (0..<512).map { UInt16(truncatingIfNeeded: $0 &* 3 &+ address.kvHead) })
    }
  }

  func store(_ server: RedisServer) -> FragmentStore {
    FragmentStore(redis: RedisClient(url: RedisURL(host: "127.0.0.1", port: server.port)), ttl: 60)
  }

  @Test func storedBlocksAreFoundAndFetchedWhole() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let store = store(server)
    let blocks = ids(3)
    #expect(store.store([(blocks[0], parts(0)), (blocks[1], parts(1))]))
    #expect(store.cachedPrefix(blocks) == 2)
    #expect(store.cachedPrefix(Array(blocks.reversed())) == 0)  // a prefix, from the first
    let fetched = store.fetch(
      Array(blocks[0..<2]), addresses: fragments.addresses, tokens: 16, headDimension: 32)
    #expect(fetched.count == 2)
    #expect(fetched[1][.init(layer: 2, kvHead: 1)] == parts(1).last)
    #expect(fetched.allSatisfy { $0.count == fragments.addresses.count })
    #expect(store.stats.bytesWritten.current > 0 && store.stats.bytesRead.current > 0)
    // Every key has a TTL, so a volatile-lru Redis may evict them and nothing else.
    let redis = RedisClient(url: RedisURL(host: "127.0.0.1", port: server.port))
    let keys = try redis.command(["KEYS", "tessera:frag:*"])
    guard case .array(let names) = keys else {
      Issue.record("KEYS gave \(keys)")
      return
    }
    #expect(names.count == 2 * (fragments.addresses.count + 1))
    for case .string(let name) in names {
      #expect(try redis.command([Array("TTL".utf8), name]).integer() > 0)
    }
  }

  @Test func missingDamagedAndTruncatedPartsEndThePrefix() throws {
    let server = try RedisServer()
    defer { server.stop() }
    let store = store(server)
    let blocks = ids(4)
    #expect(store.store((0..<4).map { (blocks[$0], parts($0)) }))
    let redis = RedisClient(url: RedisURL(host: "127.0.0.1", port: server.port))
    let prefix = "tessera:frag:v1"
    // Block 1: a part deleted; block 2: a part with a flipped bit; block 3: one truncated.
    _ = try redis.command(["DEL", "\(prefix):\(blocks[1]):1:0"])
    var damaged = parts(2)[3].encoded()
    damaged[FragmentPart.headerSize + 9] ^= 4
    _ = try redis.command([Array("SET".utf8), Array("\(prefix):\(blocks[2]):1:1".utf8), damaged])
    _ = try redis.command(
      [
        Array("SET".utf8), Array("\(prefix):\(blocks[3]):0:0".utf8),
        Array(parts(3)[0].encoded().prefix(100)),
      ])
    let fetched = store.fetch(blocks, addresses: fragments.addresses, tokens: 16, headDimension: 32)
    #expect(fetched.map(\.count) == [6, 5, 5, 5])
    #expect(store.stats.missingParts.current == 1 && store.stats.damagedParts.current == 2)
    // The cache as a shard sees it: the complete prefix only, and a partial miss counted.
    let cache = FragmentCache(
      fingerprint: [1, 2, 3], blockSize: 16, fragments: fragments,
      local: LocalFragmentTier(capacityBytes: 1 << 20), store: store)
    #expect(cache.prefix(blocks).count == 1)
    #expect(store.stats.partialMisses.current == 1)
    // What came from Redis is now in the local tier.
    #expect(cache.local.prefix(blocks).count == 1)
  }

  @Test func aRedisThatIsDownIsAMiss() throws {
    let server = try RedisServer()
    let store = store(server)
    let blocks = ids(2)
    #expect(store.store([(blocks[0], parts(0))]))
    server.stop()
    #expect(store.cachedPrefix(blocks) == 0)
    #expect(!store.store([(blocks[1], parts(1))]))
    #expect(store.stats.redisErrors.current >= 2)
  }

  @Test func aFullRedisEvictsOnlyCacheEntries() throws {
    let server = try RedisServer(maxMemory: "3mb")
    defer { server.stop() }
    let redis = RedisClient(url: RedisURL(host: "127.0.0.1", port: server.port))
    try redis.command(["SET", "tessera:request:1", "active request state, no TTL"]).ok()
    let store = store(server)
    // ~20 MB of fragments into 3 MB: Redis evicts fragments (they have TTLs), never the rest.
    for batch in 0..<40 {
      let blocks = ids(20, seed: Int32(batch))
      _ = store.store(blocks.enumerated().map { ($0.element, parts($0.offset)) })
    }
    #expect(
      try redis.command(["GET", "tessera:request:1"]).bytes()
        == Array("active request state, no TTL".utf8))
    // Fragments were evicted to make room (5,600 keys were written), and no write was refused.
    #expect(try redis.command(["DBSIZE"]).integer() < 40 * 20 * 7)
    #expect(store.stats.redisErrors.current == 0)
    // Some of the newest are there. (Not always the batch's first block: Redis's LRU clock
    // counts seconds, so among keys written in the same second eviction picks at random.)
    let newest = ids(20, seed: 39)
    #expect(newest.contains { store.cachedPrefix([$0]) == 1 })
  }
}
