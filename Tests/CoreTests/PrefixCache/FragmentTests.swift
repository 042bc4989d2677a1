import Core
import TestSupport
import Testing

/// Context fragments: chained ids, the stored part format, and a shard's cache loaded from
/// parts giving the very bits a cold run gives.
@Suite struct FragmentTests {
  let fingerprint = [UInt8](repeating: 7, count: 32)

  @Test func idsChainTheWholePrefix() {
    let tokens = (0..<40).map { TokenID($0 * 13 % 997) }
    let ids = FragmentID.chain(tokens: tokens, blockSize: 16, fingerprint: fingerprint)
    #expect(ids.count == 2)  // the trailing 8 tokens are no whole block
    #expect(ids == FragmentID.chain(tokens: tokens, blockSize: 16, fingerprint: fingerprint))
    // A change in the first block changes every later id; one in the second leaves the first.
    var early = tokens
    early[3] += 1
    let afterEarly = FragmentID.chain(tokens: early, blockSize: 16, fingerprint: fingerprint)
    #expect(afterEarly[0] != ids[0] && afterEarly[1] != ids[1])
    var late = tokens
    late[20] += 1
    let afterLate = FragmentID.chain(tokens: late, blockSize: 16, fingerprint: fingerprint)
    #expect(afterLate[0] == ids[0] && afterLate[1] != ids[1])
    let otherModel = FragmentID.chain(
      tokens: tokens, blockSize: 16, fingerprint: [UInt8](repeating: 8, count: 32))
    #expect(otherModel[0] != ids[0])
    #expect(ids[0].description.count == 64)
  }

  func samplePart() -> FragmentPart {
    FragmentPart(
      address: .init(layer: 7, kvHead: 2), tokens: 16, headDimension: 64,
      keys: (0..<1_024).map { UInt16($0 * 31 % 65_521) },
      values: (0..<1_024).map { UInt16($0 * 17 % 65_519) })
  }

  @Test func partsRoundTripAndDamageIsRecognised() throws {
    let part = samplePart()
    let bytes = part.encoded()
    #expect(bytes.count == FragmentPart.headerSize + 4 * 1_024)
    let decoded = try FragmentPart(
      decoding: bytes, expected: part.address, tokens: 16, headDimension: 64)
    #expect(decoded == part)
    func failure(_ bytes: [UInt8], address: FragmentPart.Address? = nil) -> FragmentError? {
      do {
        _ = try FragmentPart(
          decoding: bytes, expected: address ?? part.address, tokens: 16, headDimension: 64)
        return nil
      } catch { return error }
    }
    #expect(failure(Array(bytes.dropLast(100))) == .truncated(bytes.count - 100))
    #expect(failure(Array(bytes.prefix(10))) == .truncated(10))
    var flipped = bytes
    flipped[FragmentPart.headerSize + 1_000] ^= 0x10
    #expect(failure(flipped) == .checksumMismatch)
    var renamed = bytes
    renamed[0] = UInt8(ascii: "X")
    #expect(failure(renamed) == .notAFragment)
    var newer = bytes
    newer[4] = 2
    #expect(failure(newer) == .unsupportedVersion(2))
    if case .wrongShape = failure(bytes, address: .init(layer: 7, kvHead: 1)) {
    } else {
      Issue.record("a part of another head must not be taken")
    }
  }

  /// The engine with a prefix loaded from stored parts computes the rest of the prompt, and
  /// what follows, with the same bits as a cold run — also when a damaged part cuts the
  /// prefix short and more is recomputed.
  @Test func aLoadedPrefixGivesTheSameBitsAsAColdRun() throws {
    let prompt = (0..<45).map { TokenID(($0 * 7_919 + 11) % 49_000) }
    let cold = try Engines.smolLM2(threads: 2)
    let coldLogits = try cold.feed(sequence: 0, tokens: prompt, logitsAt: [44])
    let next = try cold.step([.init(sequence: 0, tokens: [42], logitRows: [0])])
    let config = cold.model.config
    let fragments = KVFragments(shard: cold.model.shard, headDimension: config.headDimension)
    #expect(fragments.addresses.count == config.layerCount * config.headCountKV)
    // Stored and read back: the encoded form, as Redis would hold it.
    let stored: [[FragmentPart.Address: [UInt8]]] = (0..<2).map { block in
      Dictionary(
        uniqueKeysWithValues: fragments.parts(of: 0, block: block, in: cold.cache).map {
          ($0.address, $0.encoded())
        })
    }
    // A part that does not decode is left out, as a missing one is.
    func read(_ block: [FragmentPart.Address: [UInt8]]) -> [FragmentPart.Address: FragmentPart] {
      Dictionary(
        uniqueKeysWithValues: block.compactMap { address, bytes in
          (try? FragmentPart(
            decoding: bytes, expected: address, tokens: 16, headDimension: config.headDimension))
            .map { (address, $0) }
        })
    }
    for damagedBlock in [nil, 1] as [Int?] {
      var blocks = stored
      if let damagedBlock {
        let address = FragmentPart.Address(layer: 29, kvHead: 1)
        blocks[damagedBlock][address]?[FragmentPart.headerSize + 5] ^= 1
      }
      let warm = try Engines.smolLM2(threads: 2)
      let loaded = try fragments.load(blocks.map(read), into: warm.cache, sequence: 0)
      #expect(loaded == (damagedBlock ?? 2))
      let rest = Array(prompt[(loaded * 16)...])
      let warmLogits = try warm.feed(sequence: 0, tokens: rest, logitsAt: [rest.count - 1])
      #expect(warmLogits.map(\.bitPattern) == coldLogits.map(\.bitPattern))
      let warmNext = try warm.step([.init(sequence: 0, tokens: [42], logitRows: [0])])
      #expect(warmNext.map(\.bitPattern) == next.map(\.bitPattern))
    }
  }

  /// Gemma 3: a prefix kept chunk by chunk (its sliding-window blocks freed as the prompt
  /// went on) loads with the full layers' parts for every block and the windowed layers'
  /// parts only for the window before the hit point, and the rest of the prompt then gives
  /// the bits of a cold run.
  @Test func aGemmaPrefixNeedsWindowedPartsOnlyForTheWindow() throws {
    let golden = try #require(try Golden.gemma3().cases.first { $0.name == "long_gpl" })
    let prompt = Array(repeatElement(golden.promptIDs, count: 2).joined().prefix(1000))
    let chunk = 128
    let cold = try Engines.gemma3(threads: 2, maxBatch: chunk)
    let fragments = KVFragments(shard: cold.model.shard, config: cold.model.config)
    #expect(fragments.window == 512 && fragments.windowedAddresses.count == 15)
    // Kept as computed: after each chunk, the blocks it completed.
    var kept: [[FragmentPart.Address: FragmentPart]] = []
    var fed = 0
    while fed + chunk < prompt.count {
      _ = try cold.step([
        .init(sequence: 0, tokens: Array(prompt[fed..<fed + chunk]), logitRows: [])
      ])
      fed += chunk
      while kept.count < fed / 16 {
        let parts = fragments.parts(of: 0, block: kept.count, in: cold.cache)
        #expect(parts.count == fragments.addresses.count, "block \(kept.count) whole when kept")
        kept.append(Dictionary(uniqueKeysWithValues: parts.map { ($0.address, $0) }))
      }
    }
    let tail = Array(prompt[fed...])
    let coldLogits = try cold.step([.init(sequence: 0, tokens: tail, logitRows: [tail.count - 1])])
    // By the end the window pool has let go of the early blocks.
    #expect(fragments.parts(of: 0, block: 0, in: cold.cache).count == fragments.fullAddresses.count)

    // A hit at 56 blocks (896 tokens) needs windowed parts from block (896 − 511) / 16 = 24.
    let hit = 56
    let first = fragments.firstWindowBlock(hit: hit, blockSize: 16)
    #expect(first == 24)
    let sparse = kept.prefix(hit).enumerated().map { block, parts in
      parts.filter { block >= first || fragments.fullAddresses.contains($0.key) }
    }
    #expect(fragments.loadablePrefix(sparse, blockSize: 16) == hit)
    let warm = try Engines.gemma3(threads: 2, maxBatch: chunk)
    #expect(try fragments.load(sparse, into: warm.cache, sequence: 0) == hit)
    // Windowed layers hold only the window's blocks after the load.
    #expect(warm.cache.windowBlocksUsed == hit - first)
    let rest = Array(prompt[(hit * 16)...])
    let warmLogits = try warm.feed(sequence: 0, tokens: rest, logitsAt: [rest.count - 1])
    #expect(warmLogits.map(\.bitPattern) == coldLogits.map(\.bitPattern))

    // A windowed part missing inside the window ends the hit before its block; with the
    // sparse parts, the shorter hit's window reaches blocks without them, so nothing loads.
    var holed = Array(kept.prefix(hit))
    holed[40][fragments.windowedAddresses[3]] = nil
    #expect(fragments.loadablePrefix(holed, blockSize: 16) == 40)
    var sparseHoled = sparse
    sparseHoled[40][fragments.windowedAddresses[3]] = nil
    #expect(fragments.loadablePrefix(sparseHoled, blockSize: 16) == 0)
  }
}
