import CKernels

/// Llama (and SmolLM2, which is Llama-shaped): pre-norm decoder layers with RMSNorm, grouped-
/// query attention with llama.cpp's "normal" RoPE, a SwiGLU FFN, and an output projection that
/// may be tied to the token embedding.
///
/// At load, the shard's slice of every weight is packed into an arena in the kernels' layout
/// (its rows for the row-split projections, its columns for the two reductions), and the
/// file's pages are released: a worker holds only its shard.
public final class LlamaModel: LanguageModel, @unchecked Sendable {
  public let config: ModelConfig
  public let shard: ShardSpec
  public let units: CanonicalUnits
  let geometry: ShardGeometry
  let arena: WeightArena
  let embedding: PackedMatrix?  // [vocab rows, d]
  let layers: [Layer]  // the shard's layers, in order
  let outputNorm: PackedVector?
  let output: PackedMatrix?  // [vocabulary slice rows, d]

  struct Layer {
    let attentionNorm: PackedVector
    let ffnNorm: PackedVector
    let projections: LayerProjections
  }

  init(file: GGUFFile, config: ModelConfig, shard: ShardSpec) throws(ModelError) {
    self.config = config
    self.shard = shard
    let units = CanonicalUnits(config: config)
    self.units = units
    let geometry = ShardGeometry(config: config, shard: shard, units: units)
    self.geometry = geometry
    let arena = try WeightArena(capacity: file.fileSize * 2 + (1 << 20))
    self.arena = arena
    let d = config.embeddingLength
    let all = 0..<d
    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
      try WeightMatrix(file, name, rows: rows, columns: columns)
    }
    func vector(_ name: String) throws(ModelError) -> PackedVector {
      try PackedVector(WeightVector(file, name, count: d), arena: arena)
    }

    let vocab = config.vocabularySize
    let tied = file.tensor(named: TensorName.output) == nil
    let embedding =
      shard.holdsEmbedding
      ? try PackedMatrix(
        matrix(TensorName.tokenEmbedding, rows: vocab, columns: d), rows: 0..<vocab, columns: all,
        arena: arena) : nil
    self.embedding = embedding

    var layers: [Layer] = []
    for layer in shard.layers {
      layers.append(
        Layer(
          attentionNorm: try vector(TensorName.attentionNorm(layer)),
          ffnNorm: try vector(TensorName.ffnNorm(layer)),
          projections: try LayerProjections(
            file, layer: layer, config: config, geometry: geometry, arena: arena)))
    }
    self.layers = layers

    if let vocabulary = shard.vocabulary {
      outputNorm = try vector(TensorName.outputNorm)
      if tied, let embedding {
        output = embedding  // the same packed rows serve both
      } else {
        let name = tied ? TensorName.tokenEmbedding : TensorName.output
        output = try PackedMatrix(
          matrix(name, rows: vocab, columns: d), rows: vocabulary, columns: all, arena: arena)
      }
    } else {
      outputNorm = nil
      output = nil
    }
    file.releaseResidentPages()
  }

  public var weightByteCount: Int { arena.usedBytes }
}

/// Which rows and columns of each projection a shard holds, in the model's numbering.
struct ShardGeometry {
  /// Query rows (and attention-output columns) of the shard's query heads.
  let queryRows: Range<Int>
  /// K and V rows of the KV heads they read.
  let kvRows: Range<Int>
  /// FFN rows (gate/up) and down-projection columns of the shard's FFN units.
  let ffnRows: Range<Int>

  init(config: ModelConfig, shard: ShardSpec, units: CanonicalUnits) {
    let width = config.headDimension
    queryRows = shard.queryHeads.lowerBound * width..<shard.queryHeads.upperBound * width
    kvRows =
      shard.kvGroups.lowerBound * config.headDimension..<shard.kvGroups.upperBound
      * config.headDimension
    if let first = shard.ffnUnits.first, let last = shard.ffnUnits.last {
      ffnRows = units.ffnUnitColumns[first].lowerBound..<units.ffnUnitColumns[last].upperBound
    } else {
      ffnRows = 0..<0
    }
  }
}
