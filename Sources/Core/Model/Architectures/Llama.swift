import CKernels

/// Llama (and SmolLM2, which is Llama-shaped): pre-norm decoder layers with RMSNorm, grouped-
/// query attention with llama.cpp's "normal" RoPE, a SwiGLU FFN, and an output projection that
/// may be tied to the token embedding.
public final class LlamaModel: LanguageModel, @unchecked Sendable {
  public let config: ModelConfig
  public let shard: ShardSpec
  public let units: CanonicalUnits
  let file: GGUFFile  // keeps the mapping alive
  let embedding: WeightMatrix?  // [vocab rows, d]
  let layers: [Layer]  // the shard's layers, in order
  let outputNorm: WeightVector?
  let output: WeightMatrix?  // [vocab rows, d]

  struct Layer {
    let attentionNorm: WeightVector
    let query: WeightMatrix  // [qDim rows, d]
    let key: WeightMatrix  // [kvDim rows, d]
    let value: WeightMatrix  // [kvDim rows, d]
    let attentionOutput: WeightMatrix  // [d rows, qDim]
    let ffnNorm: WeightVector
    let gate: WeightMatrix  // [ff rows, d]
    let up: WeightMatrix  // [ff rows, d]
    let down: WeightMatrix  // [d rows, ff]
  }

  init(file: GGUFFile, config: ModelConfig, shard: ShardSpec) throws(ModelError) {
    self.file = file
    self.config = config
    self.shard = shard
    self.units = CanonicalUnits(config: config)
    let d = config.embeddingLength
    let vocab = config.vocabularySize
    let tied = file.tensor(named: TensorName.output) == nil
    let needsEmbedding = shard.holdsEmbedding || (shard.vocabulary != nil && tied)
    embedding =
      needsEmbedding
      ? try WeightMatrix(file, TensorName.tokenEmbedding, rows: vocab, columns: d) : nil
    var layers: [Layer] = []
    for layer in shard.layers {
      layers.append(
        Layer(
          attentionNorm: try WeightVector(file, TensorName.attentionNorm(layer), count: d),
          query: try WeightMatrix(
            file, TensorName.attentionQuery(layer), rows: config.queryDimension, columns: d),
          key: try WeightMatrix(
            file, TensorName.attentionKey(layer), rows: config.kvDimension, columns: d),
          value: try WeightMatrix(
            file, TensorName.attentionValue(layer), rows: config.kvDimension, columns: d),
          attentionOutput: try WeightMatrix(
            file, TensorName.attentionOutput(layer), rows: d, columns: config.queryDimension),
          ffnNorm: try WeightVector(file, TensorName.ffnNorm(layer), count: d),
          gate: try WeightMatrix(
            file, TensorName.ffnGate(layer), rows: config.feedForwardLength, columns: d),
          up: try WeightMatrix(
            file, TensorName.ffnUp(layer), rows: config.feedForwardLength, columns: d),
          down: try WeightMatrix(
            file, TensorName.ffnDown(layer), rows: d, columns: config.feedForwardLength)))
    }
    self.layers = layers
    if shard.vocabulary != nil {
      outputNorm = try WeightVector(file, TensorName.outputNorm, count: d)
      output = tied ? embedding : try WeightMatrix(file, TensorName.output, rows: vocab, columns: d)
    } else {
      outputNorm = nil
      output = nil
    }
  }

  // MARK: Shard geometry

  var headDimension: Int { config.headDimension }
  /// Query rows (and attention-output columns) of this shard's heads.
  var queryRows: Range<Int> {
    let width = config.headsPerKVGroup * headDimension
    return shard.kvGroups.lowerBound * width..<shard.kvGroups.upperBound * width
  }
  var kvRows: Range<Int> {
    shard.kvGroups.lowerBound * headDimension..<shard.kvGroups.upperBound * headDimension
  }
  /// FFN rows (gate/up) and down-projection columns of this shard's FFN units.
  var ffnRows: Range<Int> {
    guard let first = shard.ffnUnits.first, let last = shard.ffnUnits.last else { return 0..<0 }
    return units.ffnUnitColumns[first].lowerBound..<units.ffnUnitColumns[last].upperBound
  }

  public var weightByteCount: Int {
    var bytes = 0
    for layer in layers {
      bytes += 2 * config.embeddingLength * MemoryLayout<Float>.size
      bytes += layer.query.byteCount(rows: queryRows.count)
      bytes += layer.key.byteCount(rows: kvRows.count) + layer.value.byteCount(rows: kvRows.count)
      bytes +=
        layer.attentionOutput.type.rowByteCount(elementCount: queryRows.count).map {
          $0 * config.embeddingLength
        } ?? 0
      bytes += layer.gate.byteCount(rows: ffnRows.count) + layer.up.byteCount(rows: ffnRows.count)
      bytes +=
        layer.down.type.rowByteCount(elementCount: ffnRows.count).map {
          $0 * config.embeddingLength
        } ?? 0
    }
    if shard.holdsEmbedding, let embedding { bytes += embedding.byteCount(rows: embedding.rows) }
    if let vocabulary = shard.vocabulary, let output {
      bytes += output.byteCount(rows: vocabulary.count) + config.embeddingLength * 4
    }
    return bytes
  }
}
