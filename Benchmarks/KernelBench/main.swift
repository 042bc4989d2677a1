// Times the quantized matrix kernels on the kernel tests' cases (KernelCases): every quant
// type on every product of a SmolLM2 forward pass, one activation row (decode) and sixteen
// (prefill), one thread. Prints GMAC/s and the weight bytes streamed per second.
import CKernels
import Core
import Foundation
import TestSupport

let pool = ComputePool(threadCount: 1)
print("kernels: \(String(cString: tk_kernel_name()))")
print("| type | product | batch | GMAC/s | weight GB/s |")
print("|---|---|---|---|---|")
for type in KernelCases.quantTypes {
  for product in KernelCases.modelProducts {
    let rawType = Int32(type.rawValue)
    let ggml = try Quantization.quantize(
      KernelCases.random(product.rows * product.columns, seed: 1), as: type)
    let stride = tk_packed_panel_bytes(rawType, Int32(product.columns))
    var packed = [UInt8](
      repeating: 0,
      count: tk_packed_matrix_bytes(rawType, Int32(product.rows), Int32(product.columns)))
    tk_pack_matrix(
      rawType, ggml, ggml.count / product.rows, 0, Int32(product.columns), Int32(product.rows),
      &packed)
    for batch in [1, 16] {
      let x = KernelCases.random(batch * product.columns, seed: 2)
      var xq = [UInt8](repeating: 0, count: batch * tk_q8_row_bytes(Int32(product.columns)))
      tk_quantize_rows_q8(x, Int32(batch), Int32(product.columns), &xq)
      var out = [Float](repeating: 0, count: batch * product.rows)
      var iterations = 0
      let start = SystemClock.now()
      while SystemClock.now() - start < 0.3 {
        packed.withUnsafeBufferPointer { w in
          xq.withUnsafeBufferPointer { q in
            out.withUnsafeMutableBufferPointer { o in
              var desc = tk_matmul_desc(
                type: rawType, weight: w.baseAddress, stride_bytes: stride,
                row_elements: Int32(product.columns), col_begin: 0,
                col_count: Int32(product.columns), row_begin: 0, row_count: Int32(product.rows),
                batch: Int32(batch), xq: q.baseAddress, xf: nil,
                x_row_elements: Int32(product.columns), x_col_begin: 0, out: o.baseAddress,
                out_stride: Int32(product.rows))
              pool.withRaw { tk_matmul($0, &desc, 1) }
            }
          }
        }
        iterations += 1
      }
      let seconds = SystemClock.now() - start
      let macs = Double(iterations * batch * product.rows * product.columns)
      let bytes = Double(iterations * packed.count)
      print(
        String(
          format: "| %@ | %@ | %d | %.1f | %.1f |", type.description, product.name, batch,
          macs / seconds / 1e9, bytes / seconds / 1e9))
    }
  }
}

// The sampler on a vocabulary-sized row shaped like SmolLM2's logits (roughly normal, a few
// standing out): the work the serving loop does per generated token besides the forward pass.
print("")
print("| sampling (49,152 logits) | µs per token |")
print("|---|---|")
var generator = SplitMix64(seed: 7)
let logits = (0..<49_152).map { _ in
  // Sum of uniforms: roughly normal, σ ≈ 3.
  Float((0..<4).reduce(0.0) { sum, _ in sum + Double(generator.next() % 10_000) / 10_000 } * 5)
}
for (name, parameters) in [
  ("greedy", SamplingParameters(temperature: 0)),
  ("temperature 0.7", SamplingParameters(temperature: 0.7)),
  ("temperature 0.7, top-p 0.9", SamplingParameters(temperature: 0.7, topP: 0.9)),
  ("temperature 1, top-k 40", SamplingParameters(temperature: 1, topK: 40)),
] {
  var sampler = Sampler(parameters: parameters)
  var iterations = 0
  let start = SystemClock.now()
  while SystemClock.now() - start < 0.3 {
    _ = sampler.sample(logits: logits, history: [], choiceIndex: 0, position: iterations)
    iterations += 1
  }
  let microseconds = (SystemClock.now() - start) / Double(iterations) * 1e6
  print(String(format: "| %@ | %.1f |", name, microseconds))
}
