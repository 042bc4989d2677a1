/// GGUF tensor names, in one table (as llama.cpp's `llama-arch.cpp` keeps them).
public enum TensorName {
  public static let tokenEmbedding = "token_embd.weight"
  public static let outputNorm = "output_norm.weight"
  /// Absent when the output projection is tied to the token embedding.
  public static let output = "output.weight"

  public static func attentionNorm(_ layer: Int) -> String { "blk.\(layer).attn_norm.weight" }
  public static func attentionQuery(_ layer: Int) -> String { "blk.\(layer).attn_q.weight" }
  public static func attentionKey(_ layer: Int) -> String { "blk.\(layer).attn_k.weight" }
  public static func attentionValue(_ layer: Int) -> String { "blk.\(layer).attn_v.weight" }
  public static func attentionOutput(_ layer: Int) -> String { "blk.\(layer).attn_output.weight" }
  public static func ffnNorm(_ layer: Int) -> String { "blk.\(layer).ffn_norm.weight" }
  public static func ffnGate(_ layer: Int) -> String { "blk.\(layer).ffn_gate.weight" }
  public static func ffnUp(_ layer: Int) -> String { "blk.\(layer).ffn_up.weight" }
  public static func ffnDown(_ layer: Int) -> String { "blk.\(layer).ffn_down.weight" }
  // Gemma 3: per-head norms of Q and K, and norms after attention and after the FFN.
  public static func attentionQueryNorm(_ layer: Int) -> String {
    "blk.\(layer).attn_q_norm.weight"
  }
  public static func attentionKeyNorm(_ layer: Int) -> String { "blk.\(layer).attn_k_norm.weight" }
  public static func postAttentionNorm(_ layer: Int) -> String {
    "blk.\(layer).post_attention_norm.weight"
  }
  public static func postFFNNorm(_ layer: Int) -> String { "blk.\(layer).post_ffw_norm.weight" }
}
