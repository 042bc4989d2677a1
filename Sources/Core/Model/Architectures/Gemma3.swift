import CKernels

/// Gemma 3 (270M and its family): like Llama, but with its own shape of layer —
///
/// - the token embedding scaled by √d, and tied to the output;
/// - RMSNorm of every query and key head (per-head weights) before NEOX RoPE;
/// - norms before *and after* attention and the FFN, the "after" norm applied to the whole
///   sublayer output before it joins the residual stream;
/// - a GeGLU FFN (tanh GELU);
/// - sliding-window attention: local layers see the last `config.slidingWindow` positions
///   with RoPE base 10,000; every `config.globalLayerEvery`-th layer (5, 11, 17 of 18) sees
///   everything, with the file's base (1,000,000).
///
/// The head dimension (256) is its own, not d / heads (640 / 4).
public final class Gemma3Model: LanguageModel, @unchecked Sendable {
  public let config: ModelConfig
  public let shard: ShardSpec
  public let units: CanonicalUnits
  let geometry: ShardGeometry
  let arena: WeightArena
  let embedding: PackedMatrix?
  let layers: [Layer]
  let outputNorm: PackedVector?
  let output: PackedMatrix?
  /// RoPE base of the local layers.
  public let localRopeBase: Float = 10_000

  struct Layer {
    let attentionNorm: PackedVector
    let queryNorm: PackedVector  // [head dimension], every head
    let keyNorm: PackedVector
    let postAttentionNorm: PackedVector
    let ffnNorm: PackedVector
    let postFFNNorm: PackedVector
    let projections: LayerProjections
    /// Sees every position (false: the sliding window).
    let isGlobal: Bool
  }

  init(file: GGUFFile, config: ModelConfig, shard: ShardSpec) throws(ModelError) {
    self.config = config
    self.shard = shard
    let units = CanonicalUnits(config: config)
    self.units = units
    let geometry = ShardGeometry(config: config, shard: shard, units: units)
    self.geometry = geometry
    // Packed panels take at most 9 bits a weight (Q6_K) where ggml's take 6.5: room for them.
    let arena = try WeightArena(capacity: file.fileSize * 2 + (1 << 20))
    self.arena = arena
    let d = config.embeddingLength
    let all = 0..<d
    let headDimension = config.headDimension
    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
      try WeightMatrix(file, name, rows: rows, columns: columns)
    }
    func vector(_ name: String, count: Int? = nil) throws(ModelError) -> PackedVector {
      try PackedVector(WeightVector(file, name, count: count ?? d), arena: arena)
    }
    let vocab = config.vocabularySize
    let embedding =
      shard.holdsEmbedding || shard.vocabulary != nil
      ? try PackedMatrix(
        matrix(TensorName.tokenEmbedding, rows: vocab, columns: d), rows: 0..<vocab, columns: all,
        arena: arena) : nil
    self.embedding = shard.holdsEmbedding ? embedding : nil

    var layers: [Layer] = []
    for layer in shard.layers {
      layers.append(
        Layer(
          attentionNorm: try vector(TensorName.attentionNorm(layer)),
          queryNorm: try vector(TensorName.attentionQueryNorm(layer), count: headDimension),
          keyNorm: try vector(TensorName.attentionKeyNorm(layer), count: headDimension),
          postAttentionNorm: try vector(TensorName.postAttentionNorm(layer)),
          ffnNorm: try vector(TensorName.ffnNorm(layer)),
          postFFNNorm: try vector(TensorName.postFFNNorm(layer)),
          projections: try LayerProjections(
            file, layer: layer, config: config, geometry: geometry, arena: arena),
          isGlobal: !config.isWindowed(layer: layer)))
    }
    self.layers = layers
    if shard.vocabulary != nil {
      outputNorm = try vector(TensorName.outputNorm)
      output = embedding  // tied: the same packed rows
    } else {
      outputNorm = nil
      output = nil
    }
    file.releaseResidentPages()
  }

  public var weightByteCount: Int { arena.usedBytes }
}
