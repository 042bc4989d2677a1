import CKernels

/// The building blocks every architecture's forward pass is read from: the projections of a
/// layer, attention over the paged cache, the fold of a tensor-parallel reduction's unit
/// partials, and the output logits. `Llama+Forward.swift` and `Gemma3+Forward.swift` are these
/// blocks in their model's order.
enum ForwardBlocks {
  /// Causal attention of the step's rows over layer `layer` of the cache (with `window` > 0,
  /// only the last `window` positions), out into `state.att`: the shard's query heads, each
  /// reading its KV head (`group` query heads to one).
  static func attend(
    layer: Int, window: Int, rowCount n: Int, shard: ShardSpec, group: Int, headDimension: Int,
    state: RunState, cache: PagedKVCache, pool: ComputePool
  ) {
    let step = cache.windowedLayers[layer] ? state.window : state.full
    step.blockTables.withUnsafeBufferPointer { tables in
      var desc = tk_attention_desc(
        layer: cache.layer(layer), q: state.q.pointer, out: state.att.pointer, rows: Int32(n),
        head_count: Int32(shard.queryHeads.count), kv_head_count: Int32(shard.kvGroups.count),
        heads_per_kv_head: Int32(group),
        first_head_offset: Int32(shard.queryHeadOffset(group: group)),
        head_dim: Int32(headDimension), positions: state.positions.pointer,
        block_tables: tables.baseAddress, table_offsets: step.tableOffsets.pointer,
        scratch: state.scores.pointer, max_keys: Int32(state.maxKeys), window: Int32(window))
      tk_attention(pool.raw, &desc)
    }
  }

  /// The FFN's gate and up products of the step's normed rows (`input`), into `state.gate`
  /// and `state.up`: the shard's FFN rows of each.
  static func gateAndUp(
    _ projections: LayerProjections, ffnRows: Range<Int>, width d: Int, input: Activations,
    rowCount n: Int, state: RunState, pool: ComputePool
  ) {
    state.products.run(pool) { add in
      add(product(projections.gate, rows: ffnRows, columns: 0..<d, input, n, state.gate.pointer))
      add(product(projections.up, rows: ffnRows, columns: 0..<d, input, n, state.up.pointer))
    }
  }

  /// The down projection of the activated FFN rows (`hidden`), one partial per FFN unit of the
  /// shard, into `state.partials` (`[units, n, d]`).
  static func downPartials(
    _ projections: LayerProjections, shard: ShardSpec, units: CanonicalUnits, width d: Int,
    hidden: Activations, rowCount n: Int, state: RunState, pool: ComputePool
  ) {
    state.products.run(pool) { add in
      for unit in shard.ffnUnits {
        add(
          product(
            projections.down, rows: 0..<d, columns: units.ffnUnitColumns[unit], hidden, n,
            state.partials.pointer + unit * n * d))
      }
    }
  }

  /// target[t] += Σ_u partials[u][t] for every row, the units added in canonical order.
  static func fold(
    into target: UnsafeMutablePointer<Float>, unitCount: Int, rowCount n: Int, width d: Int,
    state: RunState
  ) {
    for row in 0..<n {
      tk_fold_partials(
        target + row * d, state.partials.pointer + row * d, Int32(unitCount), n * d, Int32(d))
    }
  }

  /// The logits of `rows` (the shard's vocabulary slice): each row's state normed, then
  /// multiplied by the output matrix.
  static func logits(
    rows: [Int], output: PackedMatrix, outputNorm: PackedVector, vocabulary: Range<Int>,
    config: ModelConfig, state: RunState, pool: ComputePool, into out: UnsafeMutablePointer<Float>
  ) {
    let d = config.embeddingLength
    for (index, row) in rows.enumerated() {
      tk_rmsnorm(
        state.x.pointer + row * d, outputNorm.base, state.xb.pointer + index * d, 1, Int32(d),
        config.rmsNormEpsilon)
    }
    let input = Activations(q8: state.xq.pointer, f32: state.xb.pointer, columns: 0..<d)
    input.quantize(rows: rows.count, pool)
    state.products.run(pool) { add in
      add(product(output, rows: vocabulary, columns: 0..<d, input, rows.count, out))
    }
  }
}

/// A decoder layer's seven projections, the shard's slice of each packed into the arena:
/// rows of the row-split ones (q, k, v, gate, up), columns of the two reductions (attention
/// output, down).
struct LayerProjections {
  let query: PackedMatrix  // [shard's query rows, d]
  let key: PackedMatrix  // [shard's kv rows, d]
  let value: PackedMatrix  // [shard's kv rows, d]
  let attentionOutput: PackedMatrix  // [d, shard's query columns]
  let gate: PackedMatrix  // [shard's ffn rows, d]
  let up: PackedMatrix  // [shard's ffn rows, d]
  let down: PackedMatrix  // [d, shard's ffn columns]

  init(
    _ file: GGUFFile, layer: Int, config: ModelConfig, geometry: ShardGeometry, arena: WeightArena
  ) throws(ModelError) {
    let d = config.embeddingLength
    let all = 0..<d
    let ff = config.feedForwardLength
    func packed(_ name: String, rows: Int, columns: Int, keep: (Range<Int>, Range<Int>))
      throws(ModelError) -> PackedMatrix
    {
      try PackedMatrix(
        WeightMatrix(file, name, rows: rows, columns: columns), rows: keep.0, columns: keep.1,
        arena: arena)
    }
    query = try packed(
      TensorName.attentionQuery(layer), rows: config.queryDimension, columns: d,
      keep: (geometry.queryRows, all))
    key = try packed(
      TensorName.attentionKey(layer), rows: config.kvDimension, columns: d,
      keep: (geometry.kvRows, all))
    value = try packed(
      TensorName.attentionValue(layer), rows: config.kvDimension, columns: d,
      keep: (geometry.kvRows, all))
    attentionOutput = try packed(
      TensorName.attentionOutput(layer), rows: d, columns: config.queryDimension,
      keep: (all, geometry.queryRows))
    gate = try packed(
      TensorName.ffnGate(layer), rows: ff, columns: d, keep: (geometry.ffnRows, all))
    up = try packed(TensorName.ffnUp(layer), rows: ff, columns: d, keep: (geometry.ffnRows, all))
    down = try packed(
      TensorName.ffnDown(layer), rows: d, columns: ff, keep: (all, geometry.ffnRows))
  }
}
