import CKernels
import Core
import TestSupport
import Testing

/// Every kernel against the naive reference, and every implementation of a kernel against
/// the portable one bit for bit (the arithmetic contract in tessera_kernels.h).
@Suite(.serialized) struct KernelTests {
  static let quantTypes: [GGMLType] = [.q4_0, .q4_1, .q8_0]
  static let sizes = [32, 64, 96, 160, 576, 1536]

  func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) }
  }

  func quantizeActivations(_ x: [Float]) -> [tk_block_q8] {
    var blocks = [tk_block_q8](repeating: tk_block_q8(), count: x.count / 32)
    tk_quantize_q8(x, Int32(x.count), &blocks)
    return blocks
  }

  @Test func activationQuantizationRoundTripsWithinHalfAStep() {
    for size in Self.sizes {
      let x = random(size, seed: UInt64(size), scale: 3)
      let blocks = quantizeActivations(x)
      for (index, block) in blocks.enumerated() {
        let values = withUnsafeBytes(of: block.qs) { Array($0.bindMemory(to: Int8.self)) }
        let slice = x[(32 * index)..<(32 * index + 32)]
        let amax = slice.map(abs).max() ?? 0
        // d is amax/127 rounded to f16 (relative error ≤ 2^-11): a step, plus that error.
        for (q, value) in zip(values, slice) {
          #expect(abs(Float(q) * block.d - value) <= block.d * 0.5 + amax * 1e-3)
        }
        #expect(
          abs(block.s - block.d * Float(values.reduce(0) { $0 + Int($1) })) <= abs(block.s) * 1e-3
            + 1e-6)
      }
    }
  }

  @Test(arguments: quantTypes) func quantizedDotMatchesTheNaiveProduct(type: GGMLType) throws {
    for size in Self.sizes {
      let weights = try Quantization.quantize(random(size, seed: 1 &+ UInt64(size)), as: type)
      let x = random(size, seed: 2 &+ UInt64(size))
      let blocks = quantizeActivations(x)
      // Naive: dequantize both sides, multiply in Double.
      let w = try weights.withUnsafeBytes { try Quantization.dequantize(type, $0, count: size) }
      var expected = 0.0
      for (index, block) in blocks.enumerated() {
        let values = withUnsafeBytes(of: block.qs) { Array($0.bindMemory(to: Int8.self)) }
        for j in 0..<32 {
          expected += Double(w[32 * index + j]) * Double(values[j]) * Double(block.d)
        }
      }
      let got = weights.withUnsafeBytes { row in
        blocks.withUnsafeBufferPointer {
          tk_dot_row(Int32(type.rawValue), row.baseAddress, $0.baseAddress, nil, Int32(size))
        }
      }
      // Q4_1's minimum uses s = d·Σq rounded to f16; the rest is exact up to f32 sums.
      #expect(
        abs(Double(got) - expected) <= 2e-3 * Double(size).squareRoot() + abs(expected) * 2e-3,
        "\(type) \(size)")
    }
  }

  @Test(arguments: quantTypes) func fastKernelsEqualPortableBitForBit(type: GGMLType) throws {
    for size in Self.sizes {
      for seed in 0..<8 as Range<UInt64> {
        let weights = try Quantization.quantize(
          random(size, seed: seed &* 31 &+ UInt64(size), scale: 2), as: type)
        let blocks = quantizeActivations(random(size, seed: seed &* 17 &+ 5, scale: 4))
        let (portable, fast) = weights.withUnsafeBytes { row in
          blocks.withUnsafeBufferPointer { x in
            (
              tk_dot_row(Int32(type.rawValue), row.baseAddress, x.baseAddress, nil, Int32(size)),
              tk_dot_row_fast(
                Int32(type.rawValue), row.baseAddress, x.baseAddress, nil, Int32(size))
            )
          }
        }
        #expect(portable.bitPattern == fast.bitPattern, "\(type) \(size) seed \(seed)")
      }
    }
  }

  @Test(arguments: quantTypes) func productRowsDoNotDependOnBatchOrThreads(type: GGMLType) throws {
    let rows = 37
    let columns = 160
    let weights = try Quantization.quantize(random(rows * columns, seed: 9), as: type)
    let batch = 11
    let x = random(batch * columns, seed: 10)
    let blocks = quantizeActivations(x)
    func multiply(threads: Int, batch: Int) -> [Float] {
      let pool = ComputePool(threadCount: threads)
      var out = [Float](repeating: 0, count: batch * rows)
      weights.withUnsafeBytes { w in
        blocks.withUnsafeBufferPointer { xq in
          x.withUnsafeBufferPointer { xf in
            out.withUnsafeMutableBufferPointer { o in
              var desc = tk_matmul_desc(
                type: Int32(type.rawValue),
                weight: w.baseAddress!.assumingMemoryBound(to: UInt8.self),
                row_bytes: w.count / rows, col_begin: 0, col_count: Int32(columns), row_begin: 0,
                row_count: Int32(rows), batch: Int32(batch), xq: xq.baseAddress, xf: xf.baseAddress,
                x_stride: Int32(columns), out: o.baseAddress, out_stride: Int32(rows))
              pool.withRaw { tk_matmul($0, &desc, 1) }
            }
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
