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
      guard token >= 0, Int(token) < embedding.rows else { throw .invalidToken(token) }
      tk_dequantize_row(
        Int32(embedding.type.rawValue), embedding.base + Int(token) * embedding.rowByteCount,
        Int32(d), state.x.pointer + (first + row) * d)
    }
  }

  public func forwardLayers(
    rowCount n: Int, state: RunState, cache: PagedKVCache, pool: ComputePool
  ) {
    let d = config.embeddingLength
    let x = state.x.pointer  // [n, d] residual stream
    let xb = state.xb.pointer  // [n, d]
    let qLocal = queryRows.count
    let kvLocal = kvRows.count
    let ffLocal = ffnRows.count
    let localHeads = shard.kvGroups.count * config.headsPerKVGroup

    for (local, layer) in layers.enumerated() {
      // Attention: xb = rmsnorm(x); q, k, v = xb·Wq, xb·Wk, xb·Wv   [n, qLocal], [n, kvLocal]
      tk_rmsnorm(x, layer.attentionNorm.base, xb, Int32(n), Int32(d), config.rmsNormEpsilon)
      tk_quantize_q8(xb, Int32(n * d), state.xq.pointer)
      let input = Activations(q8: state.xq.pointer, f32: xb, stride: d)
      multiply(
        [
          product(layer.query, rows: queryRows, columns: 0..<d, input, n, state.q.pointer, qLocal),
          product(layer.key, rows: kvRows, columns: 0..<d, input, n, state.k.pointer, kvLocal),
          product(layer.value, rows: kvRows, columns: 0..<d, input, n, state.v.pointer, kvLocal),
        ], pool)
      tk_rope(
        state.q.pointer, state.positions.pointer, Int32(n), Int32(localHeads),
        Int32(headDimension), Int32(config.ropeDimensionCount), config.ropeFreqBase)
      tk_rope(
        state.k.pointer, state.positions.pointer, Int32(n), Int32(shard.kvGroups.count),
        Int32(headDimension), Int32(config.ropeDimensionCount), config.ropeFreqBase)
      cache.store(
        layer: local, k: state.k.pointer, v: state.v.pointer, slots: state.slots.pointer, rows: n)
      attend(layer: local, rowCount: n, heads: localHeads, state: state, cache: cache, pool: pool)

      // Output projection, one partial per KV-head group, folded into x   [units, n, d]
      tk_quantize_q8(state.att.pointer, Int32(n * qLocal), state.attq.pointer)
      let attended = Activations(q8: state.attq.pointer, f32: state.att.pointer, stride: qLocal)
      multiply(
        shard.kvGroups.map { unit in
          let columns = units.attentionUnitColumns[unit]
          return product(
            layer.attentionOutput, rows: 0..<d, columns: columns,
            attended.offset(by: columns.lowerBound - queryRows.lowerBound), n,
            state.partials.pointer + unit * n * d, d)
        }, pool)
      fold(unitCount: units.attentionUnitCount, rowCount: n, state: state)

      // FFN: xb = rmsnorm(x); h = silu(xb·Wgate) * (xb·Wup)   [n, ffLocal]
      tk_rmsnorm(x, layer.ffnNorm.base, xb, Int32(n), Int32(d), config.rmsNormEpsilon)
      tk_quantize_q8(xb, Int32(n * d), state.xq.pointer)
      multiply(
        [
          product(layer.gate, rows: ffnRows, columns: 0..<d, input, n, state.gate.pointer, ffLocal),
          product(layer.up, rows: ffnRows, columns: 0..<d, input, n, state.up.pointer, ffLocal),
        ], pool)
      tk_swiglu(state.gate.pointer, state.up.pointer, state.hb.pointer, Int32(n * ffLocal))

      // Down projection, one partial per FFN unit, folded into x   [units, n, d]
      tk_quantize_q8(state.hb.pointer, Int32(n * ffLocal), state.hq.pointer)
      let hidden = Activations(q8: state.hq.pointer, f32: state.hb.pointer, stride: ffLocal)
      multiply(
        shard.ffnUnits.map { unit in
          let columns = units.ffnUnitColumns[unit]
          return product(
            layer.down, rows: 0..<d, columns: columns,
            hidden.offset(by: columns.lowerBound - ffnRows.lowerBound), n,
            state.partials.pointer + unit * n * d, d)
        }, pool)
      fold(unitCount: units.ffnUnitCount, rowCount: n, state: state)
    }
  }

  public func logits(
    rows: [Int], state: RunState, pool: ComputePool, into out: UnsafeMutablePointer<Float>
  ) {
    guard let output, let outputNorm, let vocabulary = shard.vocabulary, !rows.isEmpty else {
      return
    }
    let d = config.embeddingLength
    // Gather the wanted rows' normed states into xb   [rows, d]
    for (index, row) in rows.enumerated() {
      tk_rmsnorm(
        state.x.pointer + row * d, outputNorm.base, state.xb.pointer + index * d, 1, Int32(d),
        config.rmsNormEpsilon)
    }
    tk_quantize_q8(state.xb.pointer, Int32(rows.count * d), state.xq.pointer)
    let input = Activations(q8: state.xq.pointer, f32: state.xb.pointer, stride: d)
    multiply(
      [product(output, rows: vocabulary, columns: 0..<d, input, rows.count, out, vocabulary.count)],
      pool)
  }

  // MARK: Steps

  private func attend(
    layer: Int, rowCount n: Int, heads: Int, state: RunState, cache: PagedKVCache,
    pool: ComputePool
  ) {
    state.blockTables.withUnsafeBufferPointer { tables in
      var desc = tk_attention_desc(
        layer: cache.layer(layer), q: state.q.pointer, out: state.att.pointer, rows: Int32(n),
        head_count: Int32(heads), kv_head_count: Int32(shard.kvGroups.count),
        head_dim: Int32(headDimension), positions: state.positions.pointer,
        block_tables: tables.baseAddress, table_offsets: state.tableOffsets.pointer,
        scratch: state.scores.pointer, max_keys: Int32(state.maxKeys))
      tk_attention(pool.raw, &desc)
    }
  }

  /// x[t] += Σ_u partials[u][t] for every row, the units added in canonical order.
  private func fold(unitCount: Int, rowCount n: Int, state: RunState) {
    let d = config.embeddingLength
    for row in 0..<n {
      tk_fold_partials(
        state.x.pointer + row * d, state.partials.pointer + row * d, Int32(unitCount), n * d,
        Int32(d))
    }
  }

  private func multiply(_ products: [tk_matmul_desc], _ pool: ComputePool) {
    products.withUnsafeBufferPointer { tk_matmul(pool.raw, $0.baseAddress, Int32($0.count)) }
  }
}

/// Activations of a product: quantized and f32 forms of the same rows, `stride` apart.
struct Activations {
  var q8: UnsafePointer<tk_block_q8>
  var f32: UnsafePointer<Float>
  var stride: Int

  /// The same rows starting `columns` further in (a multiple of 32).
  func offset(by columns: Int) -> Activations {
    Activations(q8: q8 + columns / 32, f32: f32 + columns, stride: stride)
  }
}

/// out[b][r] = W[rows][columns] · x[b] for the first `batch` rows of x.
func product(
  _ weight: WeightMatrix, rows: Range<Int>, columns: Range<Int>, _ x: Activations, _ batch: Int,
  _ out: UnsafeMutablePointer<Float>, _ outStride: Int
) -> tk_matmul_desc {
  tk_matmul_desc(
    type: Int32(weight.type.rawValue), weight: weight.base.assumingMemoryBound(to: UInt8.self),
    row_bytes: weight.rowByteCount, col_begin: Int32(columns.lowerBound),
    col_count: Int32(columns.count), row_begin: Int32(rows.lowerBound),
    row_count: Int32(rows.count), batch: Int32(batch), xq: x.q8, xf: x.f32,
    x_stride: Int32(x.stride), out: out, out_stride: Int32(outStride))
}
