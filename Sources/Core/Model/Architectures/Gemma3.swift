import CKernels

/// Gemma 3 (270M and its family): like Llama, but with its own shape of layer —
///
/// - the token embedding scaled by √d, and tied to the output;
/// - RMSNorm of every query and key head (per-head weights) before NEOX RoPE;
/// - norms before *and after* attention and the FFN, the "after" norm applied to the whole
///   sublayer output before it joins the residual stream;
/// - a GeGLU FFN (tanh GELU);
/// - sliding-window attention: local layers see the last `slidingWindow` positions with RoPE
///   base 10,000; every `globalEvery`-th layer (5, 11, 17 of 18) sees everything, with the
///   file's base (1,000,000).
///
/// The head dimension (256) is its own, not d / heads (640 / 4). Weight types without a
/// kernel yet (Q5_0, Q4_K, Q6_K) are dequantized into f32 at load (see `PackedMatrix`).
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
  /// Positions a local layer sees, its own included.
  public let slidingWindow: Int
  /// Every n-th layer is global (n - 1, 2n - 1, …).
  public let globalEvery: Int
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

  static let windowKey = "gemma3.attention.sliding_window"
  static let patternKey = "gemma3.attention.sliding_window_pattern"

  init(file: GGUFFile, config: ModelConfig, shard: ShardSpec) throws(ModelError) {
    self.config = config
    self.shard = shard
    let units = CanonicalUnits(config: config)
    self.units = units
    let geometry = ShardGeometry(config: config, shard: shard, units: units)
    self.geometry = geometry
    do throws(GGUFError) {
      slidingWindow = try file.optional(Self.windowKey, as: Int.self) ?? 512
      globalEvery = try file.optional(Self.patternKey, as: Int.self) ?? 6
    } catch {
      throw .gguf(error)
    }
    guard slidingWindow >= 1, globalEvery >= 1 else {
      throw .invalidConfig("sliding window \(slidingWindow), pattern \(globalEvery)")
    }
    // Dequantized types take four bytes a weight: room for all of them.
    let arena = try WeightArena(capacity: file.fileSize * 8 + (1 << 20))
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
          isGlobal: layer % globalEvery == globalEvery - 1))
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
