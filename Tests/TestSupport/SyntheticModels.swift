public import Core

/// Tiny Llama-shaped GGUF models made in memory, for fast tests of loading and of the forward
/// pass on any weight type and shape (no tokenizer: feed token ids directly).
public enum SyntheticModels {
  public struct Shape: Sendable {
    public var layers = 2
    public var embedding = 128
    public var heads = 4
    public var kvHeads = 2
    public var feedForward = 320  // two FFN units: 256 + 64
    public var vocabulary = 96
    public var contextLength = 128
    public var weightType: GGMLType = .q4_1
    public init() {}
  }

  /// The GGUF bytes of a random model of `shape` (weights in `shape.weightType`, norms F32).
  public static func llamaBytes(_ shape: Shape = Shape(), seed: UInt64 = 1) throws -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var writer = GGUFWriter()
    writer.add("general.architecture", .string("llama"))
    writer.add("llama.block_count", .uint32(UInt32(shape.layers)))
    writer.add("llama.embedding_length", .uint32(UInt32(shape.embedding)))
    writer.add("llama.feed_forward_length", .uint32(UInt32(shape.feedForward)))
    writer.add("llama.attention.head_count", .uint32(UInt32(shape.heads)))
    writer.add("llama.attention.head_count_kv", .uint32(UInt32(shape.kvHeads)))
    writer.add("llama.context_length", .uint32(UInt32(shape.contextLength)))
    writer.add("llama.rope.freq_base", .float32(10000))
    writer.add("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
    writer.add("llama.vocab_size", .uint32(UInt32(shape.vocabulary)))
    func random(_ count: Int, scale: Float) -> [Float] {
      (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) }
    }
    func matrix(_ name: String, rows: Int, columns: Int) throws {
      let values = random(rows * columns, scale: 1 / Float(columns).squareRoot())
      writer.add(
        name, type: shape.weightType, dimensions: [columns, rows],
        data: try Quantization.quantize(values, as: shape.weightType))
    }
    func norm(_ name: String) {
      writer.addF32(
        name, dimensions: [shape.embedding],
        values: random(shape.embedding, scale: 0.2).map { 1 + $0 })
    }
    let d = shape.embedding
    let headDimension = d / shape.heads
    try matrix(TensorName.tokenEmbedding, rows: shape.vocabulary, columns: d)
    for layer in 0..<shape.layers {
      norm(TensorName.attentionNorm(layer))
      try matrix(TensorName.attentionQuery(layer), rows: d, columns: d)
      try matrix(TensorName.attentionKey(layer), rows: shape.kvHeads * headDimension, columns: d)
      try matrix(TensorName.attentionValue(layer), rows: shape.kvHeads * headDimension, columns: d)
      try matrix(TensorName.attentionOutput(layer), rows: d, columns: d)
      norm(TensorName.ffnNorm(layer))
      try matrix(TensorName.ffnGate(layer), rows: shape.feedForward, columns: d)
      try matrix(TensorName.ffnUp(layer), rows: shape.feedForward, columns: d)
      try matrix(TensorName.ffnDown(layer), rows: d, columns: shape.feedForward)
    }
    norm(TensorName.outputNorm)
    return writer.bytes()
  }

  public static func llama(_ shape: Shape = Shape(), seed: UInt64 = 1) throws -> GGUFFile {
    try GGUFFile(storage: MappedFile(copying: llamaBytes(shape, seed: seed)))
  }
}
