import CKernels
import Core
import TestSupport
import Testing

/// Every kernel against the naive reference, and every implementation of a kernel against
/// the portable one bit for bit (the arithmetic contract in tessera_kernels.h).
@Suite(.serialized) struct KernelTests {
  static let quantTypes = KernelCases.quantTypes
  static let sizes = KernelCases.rowLengths
  /// Every kernel set this CPU can run, portable included.
  static let kernelLevels = (0...Int32(tk_kernels_supported())).filter {
    tk_kernels_available($0) != 0
  }

  func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    KernelCases.random(count, seed: seed, scale: scale)
  }

  /// Packed activation rows of `x` (rows of `n`).
  func quantizeActivations(_ x: [Float], n: Int) -> [UInt8] {
    let rows = x.count / n
    var out = [UInt8](repeating: 0, count: rows * tk_q8_row_bytes(Int32(n)))
    tk_quantize_rows_q8(x, Int32(rows), Int32(n), &out)
    return out
  }

  /// Weights of `rows` rows of `n` in ggml's layout and packed into panels.
  func weights(_ type: GGMLType, rows: Int, n: Int, seed: UInt64) throws -> (
    ggml: [UInt8], packed: [UInt8]
  ) {
    let ggml = try KernelCases.ggmlRows(type, rows: rows, n: n, seed: seed)
    let rowBytes = ggml.count / rows
    var packed = [UInt8](
      repeating: 0xAA, count: tk_packed_matrix_bytes(Int32(type.rawValue), Int32(rows), Int32(n)))
    tk_pack_matrix(Int32(type.rawValue), ggml, rowBytes, 0, Int32(n), Int32(rows), &packed)
    return (ggml, packed)
  }

  /// The activation row's quants, scales, scaled sums and integer sums, read back from the
  /// packed layout.
  func decode(_ row: [UInt8], n: Int) -> (qs: [Int8], d: [Float], s: [Float], sum: [Int32]) {
    row.withUnsafeBytes { raw in
      let qs = Array(raw.bindMemory(to: Int8.self)[0..<n])
      let floats = UnsafeRawBufferPointer(rebasing: raw[n...]).bindMemory(to: Float.self)
      let sums = UnsafeRawBufferPointer(rebasing: raw[(n + n / 4)...]).bindMemory(to: Int32.self)
      return (
        qs, Array(floats[0..<(n / 32)]), Array(floats[(n / 32)..<(n / 16)]),
        Array(sums[0..<(n / 32)])
      )
    }
  }

  /// Every level packs the same bytes: quants, scales, scaled sums, sums and half sums,
  /// including blocks of zeros, of ties (x · 127 / amax exactly half-way) and of one value.
  @Test func activationQuantizationIsTheSameAtEveryLevel() {
    for size in Self.sizes {
      var x = random(size, seed: UInt64(size) + 7, scale: 5)
      for i in 0..<min(32, size) { x[i] = 0 }
      if size >= 64 { for i in 32..<64 { x[i] = Float(i % 5) * 0.5 - 1 } }
      var packed: [[UInt8]] = []
      for level in Self.kernelLevels {
        tk_limit_kernels(level)
        defer { tk_limit_kernels(-1) }
        packed.append(quantizeActivations(x, n: size))
      }
      for (level, bytes) in packed.enumerated().dropFirst() {
        #expect(bytes == packed[0], "n \(size), level \(level)")
      }
    }
  }

  @Test func activationQuantizationRoundTripsWithinHalfAStep() {
    for size in Self.sizes {
      let x = random(size, seed: UInt64(size), scale: 3)
      let (qs, d, s, sums) = decode(quantizeActivations(x, n: size), n: size)
      for block in 0..<(size / 32) {
        let slice = x[(32 * block)..<(32 * block + 32)]
        let amax = slice.map(abs).max() ?? 0
        // d is amax/127 rounded to f16 (relative error ≤ 2^-11): half a step, plus that error.
        for (q, value) in zip(qs[(32 * block)..<(32 * block + 32)], slice) {
          #expect(abs(Float(q) * d[block] - value) <= d[block] * 0.5 + amax * 1e-3)
        }
        let sum = qs[(32 * block)..<(32 * block + 32)].reduce(0) { $0 + Int($1) }
        #expect(Int(sums[block]) == sum)
        #expect(abs(s[block] - d[block] * Float(sum)) <= abs(s[block]) * 1e-3 + 1e-6)
      }
    }
  }

  @Test(arguments: quantTypes) func packingKeepsEveryValue(type: GGMLType) throws {
    let rows = 19  // a whole panel and part of another
    for size in KernelCases.rowLengths(for: type) {
      let (ggml, packed) = try weights(type, rows: rows, n: size, seed: UInt64(size))
      let rowBytes = ggml.count / rows
      for row in 0..<rows {
        var fromGGML = [Float](repeating: 0, count: size)
        var fromPacked = [Float](repeating: 0, count: size)
        ggml.withUnsafeBytes {
          tk_dequantize_row(
            Int32(type.rawValue), $0.baseAddress! + row * rowBytes, Int32(size), &fromGGML)
        }
        packed.withUnsafeBufferPointer {
          tk_dequantize_packed_row(
            Int32(type.rawValue), $0.baseAddress, Int32(size), Int32(row), &fromPacked)
        }
        #expect(fromGGML.map(\.bitPattern) == fromPacked.map(\.bitPattern), "\(type) \(size)")
        // And the kernels' reading of ggml's blocks is the Swift one (bitwise ggml's).
        let swift = try ggml.withUnsafeBytes {
          try Quantization.dequantize(
            type, UnsafeRawBufferPointer(rebasing: $0[(row * rowBytes)..<((row + 1) * rowBytes)]),
            count: size)
        }
        #expect(swift.map(\.bitPattern) == fromGGML.map(\.bitPattern), "\(type) \(size)")
      }
    }
  }

  @Test(arguments: quantTypes) func quantizedDotMatchesTheNaiveProduct(type: GGMLType) throws {
    for size in KernelCases.rowLengths(for: type) {
      let (ggml, packed) = try weights(type, rows: 1, n: size, seed: 1 &+ UInt64(size))
      let x = quantizeActivations(random(size, seed: 2 &+ UInt64(size)), n: size)
      // Naive: dequantize both sides, multiply in Double.
      let w = try ggml.withUnsafeBytes { try Quantization.dequantize(type, $0, count: size) }
      let (qs, d, _, _) = decode(x, n: size)
      var expected = 0.0
      for j in 0..<size { expected += Double(w[j]) * Double(qs[j]) * Double(d[j / 32]) }
      let got = tk_dot_row(Int32(type.rawValue), packed, Int32(size), 0, x, nil)
      // Q4_1's minimum uses s = d·Σq rounded to f16; the rest is exact up to f32 sums.
      #expect(
        abs(Double(got) - expected) <= 2e-3 * Double(size).squareRoot() + abs(expected) * 2e-3,
        "\(type) \(size)")
    }
  }

  @Test(arguments: quantTypes) func fastKernelsEqualPortableBitForBit(type: GGMLType) throws {
    for size in KernelCases.rowLengths(for: type) {
      for seed in 0..<4 as Range<UInt64> {
        let rows = 17
        let (_, packed) = try weights(type, rows: rows, n: size, seed: seed &* 31 &+ UInt64(size))
        let x = quantizeActivations(random(size, seed: seed &* 17 &+ 5, scale: 4), n: size)
        for row in 0..<rows {
          let portable = tk_dot_row(Int32(type.rawValue), packed, Int32(size), Int32(row), x, nil)
          for level in Self.kernelLevels {
            tk_limit_kernels(level)
            defer { tk_limit_kernels(-1) }
            let fast = tk_dot_row_fast(
              Int32(type.rawValue), packed, Int32(size), Int32(row), x, nil)
            #expect(
              portable.bitPattern == fast.bitPattern,
              "\(type) \(size) seed \(seed) row \(row) level \(level)")
          }
        }
      }
    }
  }

  @Test(arguments: quantTypes) func productRowsDoNotDependOnBatchThreadsOrKernels(type: GGMLType)
    throws
  {
    let rows = 37
    let columns = type.blockSize == 256 ? 512 : 160
    let (_, packed) = try weights(type, rows: rows, n: columns, seed: 9)
    let batch = 11
    let x = quantizeActivations(random(batch * columns, seed: 10), n: columns)
    let stride = tk_packed_panel_bytes(Int32(type.rawValue), Int32(columns))
    func multiply(
      threads: Int, batch: Int, columns range: Range<Int>? = nil,
      rows wanted: Range<Int> = 0..<37
    ) -> [Float] {
      let pool = ComputePool(threadCount: threads)
      let range = range ?? 0..<columns
      var out = [Float](repeating: 0, count: batch * wanted.count)
      packed.withUnsafeBufferPointer { w in
        x.withUnsafeBufferPointer { xq in
          out.withUnsafeMutableBufferPointer { o in
            var desc = tk_matmul_desc(
              type: Int32(type.rawValue), weight: w.baseAddress, stride_bytes: stride,
              row_elements: Int32(columns), col_begin: Int32(range.lowerBound),
              col_count: Int32(range.count), row_begin: Int32(wanted.lowerBound),
              row_count: Int32(wanted.count), batch: Int32(batch), xq: xq.baseAddress, xf: nil,
              x_row_elements: Int32(columns), x_col_begin: Int32(range.lowerBound),
              out: o.baseAddress, out_stride: Int32(wanted.count))
            pool.withRaw { tk_matmul($0, &desc, 1) }
          }
        }
      }
      return out
    }
    let reference = multiply(threads: 1, batch: batch)
    #expect(multiply(threads: 2, batch: batch).map(\.bitPattern) == reference.map(\.bitPattern))
    #expect(multiply(threads: 3, batch: batch).map(\.bitPattern) == reference.map(\.bitPattern))
    // Each row alone gives the same bits as inside the batch.
    let single = multiply(threads: 1, batch: 1)
    #expect(single.map(\.bitPattern) == Array(reference[0..<rows]).map(\.bitPattern))
    // Every row equals the portable dot of that row alone.
    for row in 0..<rows {
      let alone = packed.withUnsafeBufferPointer { w in
        x.withUnsafeBufferPointer { xq in
          tk_dot_row(
            Int32(type.rawValue), w.baseAddress, Int32(columns), Int32(row), xq.baseAddress, nil)
        }
      }
      #expect(alone.bitPattern == reference[row].bitPattern, "\(type) row \(row)")
    }
    // A product over rows that start and end inside panels gives those rows' bits.
    let middle = multiply(threads: 2, batch: batch, rows: 5..<35)
    for b in 0..<batch {
      #expect(
        Array(middle[(b * 30)..<(b * 30 + 30)]).map(\.bitPattern)
          == Array(reference[(b * rows + 5)..<(b * rows + 35)]).map(\.bitPattern))
    }
    // Every kernel set this CPU has (portable, AVX2, AVX-512) gives the same bits, for whole
    // rows and for column ranges (units).
    let unit = multiply(threads: 2, batch: batch, columns: 64..<128)
    for level in Self.kernelLevels {
      tk_limit_kernels(level)
      defer { tk_limit_kernels(-1) }
      #expect(
        multiply(threads: 2, batch: batch).map(\.bitPattern) == reference.map(\.bitPattern),
        "level \(level)")
      #expect(
        multiply(threads: 2, batch: batch, columns: 64..<128).map(\.bitPattern)
          == unit.map(\.bitPattern), "level \(level)")
    }
  }

  @Test func f16ConversionsMatchIEEE() {
    var generator = SplitMix64(seed: 77)
    var values: [Float] = [
      0, -0, 1, -1, 65504, 65519, 65520, 1e-8, 5.96e-8, 2.98e-8, 6.1e-5, .infinity, -.infinity,
    ]
    for _ in 0..<20000 {
      values.append(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())))
    }
    for value in values where !value.isNaN {
      #expect(tk_f16_from_f32(value) == Float16(value).bitPattern, "\(value)")
    }
    for bits in 0...UInt16.max where !Float16(bitPattern: bits).isNaN {
      #expect(tk_f32_from_f16(bits).bitPattern == Float(Float16(bitPattern: bits)).bitPattern)
    }
    #expect(Float16(bitPattern: tk_f16_from_f32(.nan)).isNaN)
  }
}
