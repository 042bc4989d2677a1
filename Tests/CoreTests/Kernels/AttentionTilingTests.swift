import CKernels
import Core
import TestSupport
import Testing

/// The attention kernel's tiles (query heads of a KV group, then rows; key groups of 8 and 16)
/// change which loads are shared, never a pair's arithmetic: a batch of two sequences with
/// scattered blocks gives the same bits at every kernel level, in one call or row by row, on
/// one thread or two (a row's tile split across them or not), with a shard's heads starting
/// inside a KV group.
@Suite struct AttentionTilingTests {
  struct Shape: CustomStringConvertible {
    var heads: Int
    var kvHeads: Int
    var group: Int
    var headOffset: Int
    var headDimension: Int
    var window: Int
    var description: String {
      "\(heads) heads/\(kvHeads) KV, offset \(headOffset), dim \(headDimension), window \(window)"
    }
  }

  static let shapes = [
    Shape(heads: 4, kvHeads: 1, group: 4, headOffset: 0, headDimension: 256, window: 0),
    Shape(heads: 4, kvHeads: 1, group: 4, headOffset: 0, headDimension: 256, window: 21),
    Shape(heads: 9, kvHeads: 3, group: 3, headOffset: 0, headDimension: 64, window: 0),
    // A TP shard of SmolLM2's 9 heads: heads 4–7, KV heads 1 and 2 (group 3 starts one in).
    Shape(heads: 4, kvHeads: 2, group: 3, headOffset: 1, headDimension: 64, window: 0),
    Shape(heads: 2, kvHeads: 1, group: 4, headOffset: 2, headDimension: 32, window: 5),
  ]

  @Test(arguments: shapes)
  func tilesNeverChangeTheBits(shape: Shape) {
    let blockSize = 16
    let blocks = 12
    let kvDimension = shape.kvHeads * shape.headDimension
    let width = shape.heads * shape.headDimension
    var generator = SplitMix64(seed: UInt64(shape.headDimension + shape.window + shape.heads))
    func random(_ count: Int) -> [Float] {
      (0..<count).map { _ in Float.random(in: -2...2, using: &generator) }
    }
    let keys = random(blocks * blockSize * kvDimension).map { HalfPrecision.f16(from: $0) }
    let values = random(blocks * blockSize * kvDimension).map { HalfPrecision.f16(from: $0) }
    // Sequence A: 83 keys in blocks 7, 2, 9, 0, 4, 11; sequence B: 37 keys in blocks 5, 1, 8.
    // The step: A's rows at 70...82 (a prefill chunk), then B's row at 36 (a decode).
    let tables: [Int32] = [7, 2, 9, 0, 4, 11, 5, 1, 8]
    let positions: [Int32] = Array(70...82) + [36]
    let offsets: [Int32] = Array(repeating: 0, count: 13) + [6]
    let query = random(positions.count * width)
    let maxKeys = 96

    func run(rows: Range<Int>, threads: Int) -> [Float] {
      let pool = tk_pool_create(Int32(threads))
      defer { tk_pool_destroy(pool) }
      var out = [Float](repeating: .nan, count: rows.count * width)
      var scratch = [Float](repeating: 0, count: threads * Int(TK_ATTENTION_TILE_QUERIES) * maxKeys)
      let q = Array(query[rows.lowerBound * width..<rows.upperBound * width])
      let rowPositions = Array(positions[rows])
      let rowOffsets = Array(offsets[rows])
      // Every pointer the descriptor holds is valid for the whole call (no temporary ones).
      keys.withUnsafeBufferPointer { k in
        values.withUnsafeBufferPointer { v in
          q.withUnsafeBufferPointer { q in
            rowPositions.withUnsafeBufferPointer { positions in
              tables.withUnsafeBufferPointer { tables in
                rowOffsets.withUnsafeBufferPointer { offsets in
                  out.withUnsafeMutableBufferPointer { out in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                      var desc = tk_attention_desc(
                        layer: tk_kv_layer(
                          keys: k.baseAddress, values: v.baseAddress,
                          block_size: Int32(blockSize), kv_dim: Int32(kvDimension)),
                        q: q.baseAddress, out: out.baseAddress, rows: Int32(rows.count),
                        head_count: Int32(shape.heads), kv_head_count: Int32(shape.kvHeads),
                        heads_per_kv_head: Int32(shape.group),
                        first_head_offset: Int32(shape.headOffset),
                        head_dim: Int32(shape.headDimension), positions: positions.baseAddress,
                        block_tables: tables.baseAddress, table_offsets: offsets.baseAddress,
                        scratch: scratch.baseAddress, max_keys: Int32(maxKeys),
                        window: Int32(shape.window))
                      tk_attention(pool, &desc)
                    }
                  }
                }
              }
            }
          }
        }
      }
      return out
    }

    let all = 0..<positions.count
    var results: [(String, [Float])] = []
    for level in (0...tk_kernels_supported()).filter({ tk_kernels_available($0) != 0 }) {
      tk_limit_kernels(level)
      defer { tk_limit_kernels(-1) }
      results.append(("level \(level), one call, 2 threads", run(rows: all, threads: 2)))
      results.append(("level \(level), one call, 1 thread", run(rows: all, threads: 1)))
      let byRow = all.flatMap { run(rows: $0..<$0 + 1, threads: 2) }
      results.append(("level \(level), row by row", byRow))
      // One row is one tile: from this many keys it is split across the threads.
      tk_attention_split_min_keys(8)
      defer { tk_attention_split_min_keys(0) }
      let split = all.flatMap { run(rows: $0..<$0 + 1, threads: 2) }
      results.append(("level \(level), row by row, split across threads", split))
    }
    let reference = results[0].1
    #expect(!reference.contains { $0.isNaN }, "every output written")
    for (name, result) in results.dropFirst() {
      #expect(result.count == reference.count, "\(name)")
      let differing = result.indices.first { result[$0].bitPattern != reference[$0].bitPattern }
      #expect(differing == nil, "\(name): output \(differing ?? 0) differs (\(width) per row)")
    }
  }
}
