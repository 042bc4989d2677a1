import CKernels
import Core
import TestSupport
import Testing

/// The naive oracles against what they define (rotations keep norms and compose, a window as
/// long as the sequence is full attention, a window of one is the own value) and the fast
/// kernels against the oracles where a kernel exists (RMSNorm, interleaved RoPE, SwiGLU).
@Suite struct ReferenceOpsTests {
  var generator = SplitMix64(seed: 17)

  mutating func randomRow(_ count: Int) -> [Float] {
    (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
  }

  func close(_ a: [Float], _ b: [Float], _ tolerance: Float) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
  }

  @Test mutating func fastKernelsAgreeWithTheOracles() {
    let x = randomRow(64)
    let weight = randomRow(64)
    var normed = [Float](repeating: 0, count: 64)
    tk_rmsnorm(x, weight, &normed, 1, 64, 1e-5)
    #expect(close(normed, ReferenceOps.rmsNorm(x, weight: weight, epsilon: 1e-5), 1e-5))

    var rotated = x
    var position: Int32 = 37
    tk_rope(&rotated, &position, 1, 2, 32, 32, 10_000)
    let expected = ReferenceOps.rope(
      x, position: 37, heads: 2, headDimension: 32, dimensions: 32, base: 10_000,
      style: .interleaved)
    #expect(close(rotated, expected, 1e-4))

    let gate = randomRow(64).map { $0 * 6 }
    var swiglu = [Float](repeating: 0, count: 64)
    tk_swiglu(gate, x, &swiglu, 64)
    #expect(close(swiglu, ReferenceOps.swiglu(gate: gate, up: x), 1e-5))
  }

  @Test(arguments: [ReferenceOps.RopeStyle.interleaved, .neox])
  func ropeIsARotation(style: ReferenceOps.RopeStyle) {
    var generator = SplitMix64(seed: 5)
    let x = (0..<64).map { _ in Float.random(in: -1...1, using: &generator) }
    func rope(_ row: [Float], _ position: Int) -> [Float] {
      ReferenceOps.rope(
        row, position: position, heads: 2, headDimension: 32, dimensions: 32, base: 10_000,
        style: style)
    }
    #expect(rope(x, 0) == x)
    let norm = { (row: [Float]) in row.reduce(0) { $0 + $1 * $1 } }
    #expect(abs(norm(rope(x, 123)) - norm(x)) < 1e-3)
    // Rotating by 5 then by 7 is rotating by 12.
    #expect(close(rope(rope(x, 5), 7), rope(x, 12), 1e-4))
    // The two styles pair different dimensions.
    let other: ReferenceOps.RopeStyle = style == .neox ? .interleaved : .neox
    #expect(
      rope(x, 3)
        != ReferenceOps.rope(
          x, position: 3, heads: 2, headDimension: 32, dimensions: 32, base: 10_000,
          style: other))
  }

  @Test func gegluIsGELUOfTheGateTimesUp() {
    let result = ReferenceOps.geglu(gate: [0, 1, -1, 3], up: [5, 2, 2, 1])
    #expect(result[0] == 0)
    #expect(abs(result[1] - 2 * 0.841192) < 1e-5)  // GELU_tanh(1) = 0.841192
    #expect(abs(result[2] - 2 * -0.158808) < 1e-5)
    #expect(abs(result[3] - 2.996363) < 1e-5)
  }

  @Test mutating func aWindowSeesOnlyTheLastPositions() {
    let heads = 4
    let headDimension = 8
    let keys = (0..<10).map { _ in randomRow(headDimension) }
    let values = (0..<10).map { _ in randomRow(headDimension) }
    let query = randomRow(heads * headDimension)
    func attend(_ window: Int?) -> [Float] {
      ReferenceOps.attention(
        query: query, position: 9, keys: keys, values: values, heads: heads, kvHeads: 1,
        headDimension: headDimension, window: window)
    }
    #expect(attend(nil) == attend(10))
    #expect(attend(nil) != attend(4))
    // A window of one: each head reads its own position's value.
    #expect(close(attend(1), Array((0..<heads).map { _ in values[9] }.joined()), 1e-6))
    // Positions before the window do not matter.
    var changed = keys
    changed[2] = randomRow(headDimension)
    let windowed = ReferenceOps.attention(
      query: query, position: 9, keys: changed, values: values, heads: heads, kvHeads: 1,
      headDimension: headDimension, window: 4)
    #expect(windowed == attend(4))
  }
}

/// The attention kernel over a paged f16 cache, with and without a sliding window: the same
/// bits at every kernel level, and the naive oracle's values (within the f16 rounding of q and
/// of the probabilities the kernel does, as ggml does).
@Suite struct WindowedAttentionKernelTests {
  @Test(arguments: [0, 4, 1, 16])
  func everyLevelGivesTheOraclesValues(window: Int) throws {
    let heads = 4
    let kvHeads = 1
    let headDimension = 256  // Gemma 3's
    let rows = 10
    let blockSize = 4
    let kvDimension = kvHeads * headDimension
    var generator = SplitMix64(seed: UInt64(window) + 3)
    func random(_ count: Int) -> [Float] {
      (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
    }
    // Keys and values as the cache holds them (f16), and the same values back in f32.
    let keyRows = (0..<rows).map { _ in random(kvDimension) }
    let valueRows = (0..<rows).map { _ in random(kvDimension) }
    let keys = keyRows.flatMap { $0.map { HalfPrecision.f16(from: $0) } }
    let values = valueRows.flatMap { $0.map { HalfPrecision.f16(from: $0) } }
    let asCached = { (row: [Float]) in
      row.map { HalfPrecision.float(fromF16: HalfPrecision.f16(from: $0)) }
    }
    let query = random(rows * heads * headDimension)
    let positions = (0..<rows).map { Int32($0) }
    let table = (0..<(rows + blockSize - 1) / blockSize).map { Int32($0) }
    let offsets = [Int32](repeating: 0, count: rows)
    let pool = tk_pool_create(2)
    defer { tk_pool_destroy(pool) }

    func run() -> [Float] {
      var out = [Float](repeating: 0, count: rows * heads * headDimension)
      var scratch = [Float](repeating: 0, count: 2 * Int(TK_ATTENTION_TILE_QUERIES) * rows)
      keys.withUnsafeBufferPointer { k in
        values.withUnsafeBufferPointer { v in
          var desc = tk_attention_desc(
            layer: tk_kv_layer(
              keys: k.baseAddress, values: v.baseAddress, block_size: Int32(blockSize),
              kv_dim: Int32(kvDimension)),
            q: query, out: &out, rows: Int32(rows), head_count: Int32(heads),
            kv_head_count: Int32(kvHeads), heads_per_kv_head: Int32(heads / kvHeads),
            first_head_offset: 0, head_dim: Int32(headDimension), positions: positions,
            block_tables: table, table_offsets: offsets, scratch: &scratch,
            max_keys: Int32(rows), window: Int32(window))
          tk_attention(pool, &desc)
        }
      }
      return out
    }
    var results: [[Float]] = []
    for level in (0...tk_kernels_supported()).filter({ tk_kernels_available($0) != 0 }) {
      tk_limit_kernels(level)
      defer { tk_limit_kernels(-1) }
      results.append(run())
    }
    for result in results.dropFirst() {
      #expect(result.map(\.bitPattern) == results[0].map(\.bitPattern))
    }
    let width = heads * headDimension
    for row in 0..<rows {
      let expected = ReferenceOps.attention(
        query: asCached(Array(query[row * width..<(row + 1) * width])), position: row,
        keys: keyRows.map(asCached), values: valueRows.map(asCached), heads: heads,
        kvHeads: kvHeads, headDimension: headDimension, window: window == 0 ? nil : window)
      let got = results[0][row * width..<(row + 1) * width]
      #expect(zip(got, expected).allSatisfy { abs($0 - $1) < 2e-3 }, "row \(row)")
    }
  }
}

/// Gemma's two kernels against the oracles: NEOX RoPE pairs i with i + dims/2, and GeGLU is
/// GELU's tanh form within ggml's f16 rounding of the gate and of GELU.
@Suite struct GemmaKernelTests {
  @Test func neoxRopeIsTheOraclesRotation() {
    var generator = SplitMix64(seed: 9)
    let heads = 4
    let headDimension = 256
    let x = (0..<heads * headDimension).map { _ in Float.random(in: -1...1, using: &generator) }
    for position in [0, 1, 511, 4_000] {
      var rotated = x
      var at = Int32(position)
      tk_rope_neox(&rotated, &at, 1, Int32(heads), Int32(headDimension), 256, 1_000_000)
      let expected = ReferenceOps.rope(
        x, position: position, heads: heads, headDimension: headDimension, dimensions: 256,
        base: 1_000_000, style: .neox)
      #expect(zip(rotated, expected).allSatisfy { abs($0 - $1) < 2e-3 }, "position \(position)")
    }
  }

  @Test func gegluIsTheOraclesWithinF16() {
    let gate: [Float] = stride(from: -12, through: 12, by: 0.37).map { Float($0) }
    let up = gate.indices.map { Float($0 % 7) - 3 }
    var out = [Float](repeating: 0, count: gate.count)
    tk_geglu(gate, up, &out, Int32(gate.count))
    let expected = ReferenceOps.geglu(gate: gate, up: up)
    for (index, (got, want)) in zip(out, expected).enumerated() {
      #expect(abs(got - want) <= 4e-3 * max(1, abs(want)), "gate \(gate[index])")
    }
    #expect(out[0] == 0)  // gate ≤ −10
    #expect(out[out.count - 1] == gate[gate.count - 1] * up[up.count - 1])  // gate ≥ 10
  }

  /// Every f16 gate (and values between them, which round either way, and the ±10 edges) gives
  /// the same bits at every kernel level; n is not a multiple of eight, so a tail runs too.
  @Test func gegluIsTheSameAtEveryLevel() {
    var generator = SplitMix64(seed: 21)
    var gate = (0..<65_536).map { HalfPrecision.float(fromF16: UInt16($0)) }.filter { !$0.isNaN }
    gate += (0..<4_099).map { _ in Float.random(in: -11...11, using: &generator) }
    gate += [-10, 10, -10.000001, 9.999999, 0, -0, .leastNonzeroMagnitude]
    let up = gate.indices.map { _ in Float.random(in: -3...3, using: &generator) }
    var results: [[UInt32]] = []
    for level in (0...tk_kernels_supported()).filter({ tk_kernels_available($0) != 0 }) {
      tk_limit_kernels(level)
      defer { tk_limit_kernels(-1) }
      var out = [Float](repeating: .nan, count: gate.count)
      tk_geglu(gate, up, &out, Int32(gate.count))
      results.append(out.map(\.bitPattern))
    }
    for (level, result) in results.enumerated().dropFirst() {
      let differing = result.indices.first { result[$0] != results[0][$0] }
      #expect(differing == nil, "level \(level): gate \(gate[differing ?? 0])")
    }
  }
}
