import Foundation

/// The forward pass's operations written as their definitions — plain loops in `Double`, no
/// kernels, no tricks — as the oracles the fast C kernels are tested against: RMSNorm, RoPE
/// in both styles (Llama's interleaved pairs, NEOX's halves, which Gemma uses), SwiGLU and
/// GeGLU (GELU's tanh form), and causal attention with an optional sliding window (Gemma's
/// local layers see the last `window` positions, themselves included).
public enum ReferenceOps {
  /// How RoPE pairs a head's dimensions.
  public enum RopeStyle: Sendable {
    /// (0, 1), (2, 3), …: llama.cpp's `NORM` (Llama, SmolLM2).
    case interleaved
    /// (i, i + dims/2): llama.cpp's `NEOX` (Gemma).
    case neox
  }

  /// y = x / √(mean(x²) + ε) · w, over one row.
  public static func rmsNorm(_ x: [Float], weight: [Float], epsilon: Float) -> [Float] {
    let meanSquare = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))
    let scale = 1 / (meanSquare + Double(epsilon)).squareRoot()
    return zip(x, weight).map { Float(Double($0) * scale * Double($1)) }
  }

  /// Rotates each head of one row at `position`: pair i turns by position · base^(−2i/dims);
  /// dimensions past `dimensions` are left as they are.
  public static func rope(
    _ x: [Float], position: Int, heads: Int, headDimension: Int, dimensions: Int, base: Float,
    style: RopeStyle
  ) -> [Float] {
    var out = x
    for head in 0..<heads {
      let offset = head * headDimension
      for i in 0..<dimensions / 2 {
        let angle = Double(position) * pow(Double(base), -2 * Double(i) / Double(dimensions))
        let (a, b) =
          style == .interleaved
          ? (offset + 2 * i, offset + 2 * i + 1)
          : (offset + i, offset + i + dimensions / 2)
        let x0 = Double(x[a])
        let x1 = Double(x[b])
        out[a] = Float(x0 * cos(angle) - x1 * sin(angle))
        out[b] = Float(x0 * sin(angle) + x1 * cos(angle))
      }
    }
    return out
  }

  /// SiLU(gate) · up.
  public static func swiglu(gate: [Float], up: [Float]) -> [Float] {
    zip(gate, up).map { g, u in Float(Double(g) / (1 + exp(-Double(g))) * Double(u)) }
  }

  /// GELU(gate) · up, GELU's tanh form: ½g(1 + tanh(√(2/π)(g + 0.044715g³))).
  public static func geglu(gate: [Float], up: [Float]) -> [Float] {
    zip(gate, up).map { g, u in
      let x = Double(g)
      let gelu = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
      return Float(gelu * Double(u))
    }
  }

  /// Causal attention for one query row at `position` over keys and values at positions
  /// 0… (`keys[p]` is the row of position p: kvHeads × headDimension). Query head h reads
  /// KV head h / (heads / kvHeads). With `window`, only positions > position − window count.
  /// Scores are scaled by `scale` (default 1/√headDimension).
  public static func attention(
    query: [Float], position: Int, keys: [[Float]], values: [[Float]], heads: Int,
    kvHeads: Int, headDimension: Int, window: Int? = nil, scale: Float? = nil
  ) -> [Float] {
    let scale = Double(scale ?? 1 / Float(headDimension).squareRoot())
    let first = window.map { max(0, position - $0 + 1) } ?? 0
    var out = [Float](repeating: 0, count: heads * headDimension)
    for head in 0..<heads {
      let kvHead = head / (heads / kvHeads)
      let q = query[head * headDimension..<(head + 1) * headDimension]
      var scores: [Double] = []
      for p in first...position {
        let k = keys[p][kvHead * headDimension..<(kvHead + 1) * headDimension]
        scores.append(zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } * scale)
      }
      let top = scores.max() ?? 0
      let weights = scores.map { exp($0 - top) }
      let total = weights.reduce(0, +)
      for i in 0..<headDimension {
        var sum = 0.0
        for (index, p) in (first...position).enumerated() {
          sum += weights[index] * Double(values[p][kvHead * headDimension + i])
        }
        out[head * headDimension + i] = Float(sum / total)
      }
    }
    return out
  }
}
