import CKernels

/// The Gemma 3 forward pass, read top to bottom (compare Llama+Forward.swift). n = rows in
/// this step, d = embedding length, h = head dimension.
extension Gemma3Model {
  public func embed(_ tokens: ArraySlice<TokenID>, state: RunState, at first: Int)
    throws(ModelError)
  {
    guard let embedding else { throw .invalidConfig("this shard holds no token embedding") }
    let d = config.embeddingLength
    // ggml scales the embedding rows by √d (in f32) as its first operation.
    let scale = Float(d).squareRoot()
    for (row, token) in tokens.enumerated() {
      guard embedding.rows.contains(Int(token)) else { throw .invalidToken(token) }
      let out = state.x.pointer + (first + row) * d
      embedding.dequantize(row: Int(token), into: out)
      for i in 0..<d { out[i] = out[i] * scale }
    }
  }

  @discardableResult
  public func forwardLayers(
    rowCount n: Int, state: RunState, cache: PagedKVCache, pool: ComputePool,
    exchange: (any PartialExchange)? = nil
  ) -> Bool {
    let d = config.embeddingLength
    let h = config.headDimension
    let epsilon = config.rmsNormEpsilon
    let x = state.x.pointer  // [n, d] residual stream
    let xb = state.xb.pointer  // [n, d]
    let queryRows = geometry.queryRows
    let kvRows = geometry.kvRows
    let ffnRows = geometry.ffnRows
    let kvHeads = shard.kvGroups.count
    let localHeads = shard.queryHeads.count
    let input = Activations(q8: state.xq.pointer, f32: xb, columns: 0..<d)
    let attended = Activations(q8: state.attq.pointer, f32: state.att.pointer, columns: queryRows)
    let hidden = Activations(q8: state.hq.pointer, f32: state.hb.pointer, columns: ffnRows)
    let products = state.products

    for (local, layer) in layers.enumerated() {
      let global = shard.layers.lowerBound + local
      // Attention: xb = rmsnorm(x); q, k, v = xb·Wq, xb·Wk, xb·Wv; each q and k head normed
      tk_rmsnorm_parallel(pool.raw, x, layer.attentionNorm.base, xb, Int32(n), Int32(d), epsilon)
      input.quantize(rows: n, pool)
      products.run(pool) { add in
        add(
          product(
            layer.projections.query, rows: queryRows, columns: 0..<d, input, n, state.q.pointer))
        add(product(layer.projections.key, rows: kvRows, columns: 0..<d, input, n, state.k.pointer))
        add(
          product(layer.projections.value, rows: kvRows, columns: 0..<d, input, n, state.v.pointer))
      }
      tk_rmsnorm(
        state.q.pointer, layer.queryNorm.base, state.q.pointer, Int32(n * localHeads), Int32(h),
        epsilon)
      tk_rmsnorm(
        state.k.pointer, layer.keyNorm.base, state.k.pointer, Int32(n * kvHeads), Int32(h),
        epsilon)
      let base = layer.isGlobal ? config.ropeFreqBase : localRopeBase
      tk_rope_neox(
        state.q.pointer, state.positions.pointer, Int32(n), Int32(localHeads), Int32(h),
        Int32(config.ropeDimensionCount), base)
      tk_rope_neox(
        state.k.pointer, state.positions.pointer, Int32(n), Int32(kvHeads), Int32(h),
        Int32(config.ropeDimensionCount), base)
      cache.store(
        layer: local, k: state.k.pointer, v: state.v.pointer, state: state, rows: n)
      ForwardBlocks.attend(
        layer: local, window: layer.isGlobal ? 0 : config.slidingWindow, rowCount: n,
        shard: shard, group: config.headsPerKVGroup, headDimension: h, state: state,
        cache: cache, pool: pool)

      // Output projection, one partial per unit; their sum normed, then added to x
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
          .attention, layer: global, localUnits: units.attentionUnits(of: shard),
          unitCount: units.attentionUnitCount, rows: n, width: d, partials: state.partials.pointer)
      {
        return false
      }
      addNormed(
        unitCount: units.attentionUnitCount, norm: layer.postAttentionNorm, rowCount: n,
        state: state)

      // FFN: xb = rmsnorm(x); h = gelu(xb·Wgate) * (xb·Wup)
      tk_rmsnorm_parallel(pool.raw, x, layer.ffnNorm.base, xb, Int32(n), Int32(d), epsilon)
      input.quantize(rows: n, pool)
      ForwardBlocks.gateAndUp(
        layer.projections, ffnRows: ffnRows, width: d, input: input, rowCount: n, state: state,
        pool: pool)
      tk_geglu_parallel(
        pool.raw, state.gate.pointer, state.up.pointer, state.hb.pointer, Int32(n),
        Int32(ffnRows.count))

      // Down projection, one partial per FFN unit; their sum normed, then added to x
      hidden.quantize(rows: n, pool)
      ForwardBlocks.downPartials(
        layer.projections, shard: shard, units: units, width: d, hidden: hidden, rowCount: n,
        state: state, pool: pool)
      if let exchange,
        !exchange.exchange(
          .ffn, layer: global, localUnits: shard.ffnUnits, unitCount: units.ffnUnitCount,
          rows: n, width: d, partials: state.partials.pointer)
      {
        return false
      }
      addNormed(unitCount: units.ffnUnitCount, norm: layer.postFFNNorm, rowCount: n, state: state)
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

  /// x[t] += rmsnorm(Σ_u partials[u][t]) · norm: the units summed in canonical order (into xb),
  /// then normed as a whole — Gemma's norm after a sublayer.
  private func addNormed(unitCount: Int, norm: PackedVector, rowCount n: Int, state: RunState) {
    let d = config.embeddingLength
    let xb = state.xb.pointer
    xb.update(repeating: 0, count: n * d)
    ForwardBlocks.fold(into: xb, unitCount: unitCount, rowCount: n, width: d, state: state)
    tk_rmsnorm(xb, norm.base, xb, Int32(n), Int32(d), config.rmsNormEpsilon)
    for row in 0..<n {
      tk_fold_partials(state.x.pointer + row * d, xb + row * d, 1, n * d, Int32(d))
    }
  }
}
