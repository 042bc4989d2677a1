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
    let query: PackedMatrix  // [shard's query rows, d]
    let key: PackedMatrix  // [shard's kv rows, d]
    let value: PackedMatrix  // [shard's kv rows, d]
    let attentionOutput: PackedMatrix  // [d, shard's query columns]
    let ffnNorm: PackedVector
    let gate: PackedMatrix  // [shard's ffn rows, d]
    let up: PackedMatrix  // [shard's ffn rows, d]
    let down: PackedMatrix  // [d, shard's ffn columns]
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
      let q = try matrix(TensorName.attentionQuery(layer), rows: config.queryDimension, columns: d)
      let k = try matrix(TensorName.attentionKey(layer), rows: config.kvDimension, columns: d)
      let v = try matrix(TensorName.attentionValue(layer), rows: config.kvDimension, columns: d)
      let o = try matrix(
        TensorName.attentionOutput(layer), rows: d, columns: config.queryDimension)
      let ff = config.feedForwardLength
      let gate = try matrix(TensorName.ffnGate(layer), rows: ff, columns: d)
      let up = try matrix(TensorName.ffnUp(layer), rows: ff, columns: d)
      let down = try matrix(TensorName.ffnDown(layer), rows: d, columns: ff)
      layers.append(
        Layer(
          attentionNorm: try vector(TensorName.attentionNorm(layer)),
          query: try PackedMatrix(q, rows: geometry.queryRows, columns: all, arena: arena),
          key: try PackedMatrix(k, rows: geometry.kvRows, columns: all, arena: arena),
          value: try PackedMatrix(v, rows: geometry.kvRows, columns: all, arena: arena),
          attentionOutput: try PackedMatrix(
            o, rows: all, columns: geometry.queryRows, arena: arena),
          ffnNorm: try vector(TensorName.ffnNorm(layer)),
          gate: try PackedMatrix(gate, rows: geometry.ffnRows, columns: all, arena: arena),
          up: try PackedMatrix(up, rows: geometry.ffnRows, columns: all, arena: arena),
          down: try PackedMatrix(down, rows: all, columns: geometry.ffnRows, arena: arena)))
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
  /// Query rows (and attention-output columns) of the shard's heads.
  let queryRows: Range<Int>
  let kvRows: Range<Int>
  /// FFN rows (gate/up) and down-projection columns of the shard's FFN units.
  let ffnRows: Range<Int>

  init(config: ModelConfig, shard: ShardSpec, units: CanonicalUnits) {
    let width = config.headsPerKVGroup * config.headDimension
    queryRows = shard.kvGroups.lowerBound * width..<shard.kvGroups.upperBound * width
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
