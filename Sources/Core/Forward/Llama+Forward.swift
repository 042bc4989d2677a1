import CKernels

/// The Llama forward pass, read top to bottom. n = rows in this step, d = embedding length;
/// q/kv/ff sizes are this shard's (see `RunState`).
extension LlamaModel {
  public func embed(_ tokens: ArraySlice<TokenID>, state: RunState, at first: Int)
    throws(ModelError)
  {
    guard let embedding else { throw .invalidConfig("this shard holds no token embedding") }
    let d = config.embeddingLength
    for (row, token) in tokens.enumerated() {
      guard embedding.rows.contains(Int(token)) else { throw .invalidToken(token) }
      embedding.dequantize(row: Int(token), into: state.x.pointer + (first + row) * d)
    }
  }

  @discardableResult
  public func forwardLayers(
    rowCount n: Int, state: RunState, cache: PagedKVCache, pool: ComputePool,
    exchange: (any PartialExchange)? = nil
  ) -> Bool {
    let d = config.embeddingLength
    let x = state.x.pointer  // [n, d] residual stream
    let xb = state.xb.pointer  // [n, d]
    let queryRows = geometry.queryRows
    let kvRows = geometry.kvRows
    let ffnRows = geometry.ffnRows
    let localHeads = shard.queryHeads.count
    let input = Activations(q8: state.xq.pointer, f32: xb, columns: 0..<d)
    let attended = Activations(q8: state.attq.pointer, f32: state.att.pointer, columns: queryRows)
    let hidden = Activations(q8: state.hq.pointer, f32: state.hb.pointer, columns: ffnRows)
    let products = state.products

    for (local, layer) in layers.enumerated() {
      // Attention: xb = rmsnorm(x); q, k, v = xb·Wq, xb·Wk, xb·Wv   [n, qLocal], [n, kvLocal]
      tk_rmsnorm_parallel(
        pool.raw, x, layer.attentionNorm.base, xb, Int32(n), Int32(d), config.rmsNormEpsilon)
      input.quantize(rows: n, pool)
      products.run(pool) { add in
        add(
          product(
            layer.projections.query, rows: queryRows, columns: 0..<d, input, n, state.q.pointer))
        add(product(layer.projections.key, rows: kvRows, columns: 0..<d, input, n, state.k.pointer))
        add(
          product(layer.projections.value, rows: kvRows, columns: 0..<d, input, n, state.v.pointer))
      }
      tk_rope(
        state.q.pointer, state.positions.pointer, Int32(n), Int32(localHeads),
        Int32(headDimension), Int32(config.ropeDimensionCount), config.ropeFreqBase)
      tk_rope(
        state.k.pointer, state.positions.pointer, Int32(n), Int32(shard.kvGroups.count),
        Int32(headDimension), Int32(config.ropeDimensionCount), config.ropeFreqBase)
      cache.store(
        layer: local, k: state.k.pointer, v: state.v.pointer, state: state, rows: n)
      ForwardBlocks.attend(
        layer: local, window: 0, rowCount: n, shard: shard, group: config.headsPerKVGroup,
        headDimension: headDimension, state: state, cache: cache, pool: pool)

      // Output projection, one partial per attention unit, folded into x   [units, n, d]
      attended.quantize(rows: n, pool)
      products.run(pool) { add in
        for unit in units.attentionUnits(of: shard) {
          add(
            product(
              layer.projections.attentionOutput, rows: 0..<d,
              columns: units.attentionUnitColumns[unit],
              attended, n, state.partials.pointer + unit * n * d))
        }
      }
      if let exchange,
        !exchange.exchange(
          .attention, layer: shard.layers.lowerBound + local,
          localUnits: units.attentionUnits(of: shard),
          unitCount: units.attentionUnitCount, rows: n, width: d, partials: state.partials.pointer)
      {
        return false
      }
      ForwardBlocks.fold(
        into: x, unitCount: units.attentionUnitCount, rowCount: n, width: d, state: state)

      // FFN: xb = rmsnorm(x); h = silu(xb·Wgate) * (xb·Wup)   [n, ffLocal]
      tk_rmsnorm_parallel(
        pool.raw, x, layer.ffnNorm.base, xb, Int32(n), Int32(d), config.rmsNormEpsilon)
      input.quantize(rows: n, pool)
      ForwardBlocks.gateAndUp(
        layer.projections, ffnRows: ffnRows, width: d, input: input, rowCount: n, state: state,
        pool: pool)
      tk_swiglu_parallel(
        pool.raw, state.gate.pointer, state.up.pointer, state.hb.pointer, Int32(n),
        Int32(ffnRows.count))

      // Down projection, one partial per FFN unit, folded into x   [units, n, d]
      hidden.quantize(rows: n, pool)
      ForwardBlocks.downPartials(
        layer.projections, shard: shard, units: units, width: d, hidden: hidden, rowCount: n,
        state: state, pool: pool)
      if let exchange,
        !exchange.exchange(
          .ffn, layer: shard.layers.lowerBound + local, localUnits: shard.ffnUnits,
          unitCount: units.ffnUnitCount, rows: n, width: d, partials: state.partials.pointer)
      {
        return false
      }
      ForwardBlocks.fold(
        into: x, unitCount: units.ffnUnitCount, rowCount: n, width: d, state: state)
    }
    return true
  }

  public func logits(
    rows: [Int], state: RunState, pool: ComputePool, into out: UnsafeMutablePointer<Float>
  ) {
    guard let output, let outputNorm, let vocabulary = shard.vocabulary, !rows.isEmpty else {
      return
    }
    ForwardBlocks.logits(
      rows: rows, output: output, outputNorm: outputNorm, vocabulary: vocabulary,
      config: config, state: state, pool: pool, into: out)
  }

  // MARK: Steps

  var headDimension: Int { config.headDimension }
}

/// Activation rows of a product, quantized and f32, covering `columns` of the model's
/// numbering (a shard's query or FFN columns, or all of d).
struct Activations {
  var q8: UnsafeMutablePointer<UInt8>
  var f32: UnsafeMutablePointer<Float>
  var columns: Range<Int>

  /// Quantizes the first `rows` f32 rows into the q8 buffer, rows split across the pool.
  func quantize(rows: Int, _ pool: ComputePool) {
    tk_quantize_rows_q8_parallel(pool.raw, f32, Int32(rows), Int32(columns.count), q8)
  }
}

/// out[b][r] = W[rows][columns] · x[b][columns] for the first `batch` rows of x; `out` has one
/// row of `rows.count` per activation row.
func product(
  _ weight: PackedMatrix, rows: Range<Int>, columns: Range<Int>, _ x: Activations, _ batch: Int,
  _ out: UnsafeMutablePointer<Float>
) -> tk_matmul_desc {
  tk_matmul_desc(
    type: Int32(weight.type.rawValue), weight: weight.base.assumingMemoryBound(to: UInt8.self),
    stride_bytes: weight.strideBytes, row_elements: Int32(weight.columns.count),
    col_begin: Int32(columns.lowerBound - weight.columns.lowerBound),
    col_count: Int32(columns.count), row_begin: Int32(rows.lowerBound - weight.rows.lowerBound),
    row_count: Int32(rows.count), batch: Int32(batch), xq: x.q8, xf: x.f32,
    x_row_elements: Int32(x.columns.count),
    x_col_begin: Int32(columns.lowerBound - x.columns.lowerBound), out: out,
    out_stride: Int32(rows.count))
}
