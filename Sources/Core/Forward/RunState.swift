import CKernels

/// Preallocated scratch for one forward pass of up to `capacity` tokens on one shard.
/// Shapes use the shard's local sizes: qLocal = its query heads × head dim, kvLocal = its KV
/// heads × head dim, ffLocal = its FFN units' columns.
public final class RunState {
  public let capacity: Int
  let x: ScratchBuffer<Float>  // [capacity, d] residual stream
  let xb: ScratchBuffer<Float>  // [capacity, d] normed input of a sublayer
  let xq: ScratchBuffer<UInt8>  // [capacity] quantized rows of xb (tk_q8_row_bytes(d) each)
  let q: ScratchBuffer<Float>  // [capacity, qLocal]
  let k: ScratchBuffer<Float>  // [capacity, kvLocal]
  let v: ScratchBuffer<Float>  // [capacity, kvLocal]
  let att: ScratchBuffer<Float>  // [capacity, qLocal] attention output
  let attq: ScratchBuffer<UInt8>  // [capacity] quantized rows of att
  let partials: ScratchBuffer<Float>  // [units, capacity, d] canonical-unit partial sums
  let gate: ScratchBuffer<Float>  // [capacity, ffLocal]
  let up: ScratchBuffer<Float>  // [capacity, ffLocal]
  let hb: ScratchBuffer<Float>  // [capacity, ffLocal] silu(gate) * up
  let hq: ScratchBuffer<UInt8>  // [capacity] quantized rows of hb
  let scores: ScratchBuffer<Float>  // [threads, tile queries, maxKeys] attention scores
  let maxKeys: Int
  // Per-step token bookkeeping, reused across steps.
  let positions: ScratchBuffer<Int32>  // [capacity]
  /// Where the step's tokens go in the KV cache's full pool, and the tables attention reads.
  let full: StepTables
  /// The same in the window pool (sliding-window layers).
  let window: StepTables
  let products: ProductBatch

  init(
    capacity: Int, config: ModelConfig, shard: ShardSpec, units: CanonicalUnits,
    threadCount: Int, maxKeys: Int
  ) {
    let d = config.embeddingLength
    let qLocal = shard.queryHeads.count * config.headDimension
    let kvLocal = shard.kvGroups.count * config.headDimension
    let ffLocal = shard.ffnUnits.reduce(0) { $0 + units.ffnUnitColumns[$1].count }
    let unitCount = max(units.attentionUnitCount, units.ffnUnitCount)
    func q8Bytes(_ elements: Int) -> Int { capacity * tk_q8_row_bytes(Int32(elements)) }
    self.capacity = capacity
    self.maxKeys = maxKeys
    x = ScratchBuffer(count: capacity * d, zero: 0)
    xb = ScratchBuffer(count: capacity * d, zero: 0)
    xq = ScratchBuffer(count: q8Bytes(d), zero: 0)
    q = ScratchBuffer(count: capacity * qLocal, zero: 0)
    k = ScratchBuffer(count: capacity * kvLocal, zero: 0)
    v = ScratchBuffer(count: capacity * kvLocal, zero: 0)
    att = ScratchBuffer(count: capacity * qLocal, zero: 0)
    attq = ScratchBuffer(count: q8Bytes(qLocal), zero: 0)
    partials = ScratchBuffer(count: unitCount * capacity * d, zero: 0)
    gate = ScratchBuffer(count: capacity * ffLocal, zero: 0)
    up = ScratchBuffer(count: capacity * ffLocal, zero: 0)
    hb = ScratchBuffer(count: capacity * ffLocal, zero: 0)
    hq = ScratchBuffer(count: q8Bytes(ffLocal), zero: 0)
    // Attention runs up to four query rows at once per thread.
    scores = ScratchBuffer(count: threadCount * Int(TK_ATTENTION_TILE_QUERIES) * maxKeys, zero: 0)
    positions = ScratchBuffer(count: capacity, zero: 0)
    full = StepTables(capacity: capacity)
    window = StepTables(capacity: capacity)
    products = ProductBatch(capacity: unitCount + 4)
  }

  /// The residual stream: the hidden state a pipeline stage receives and passes on.
  public var hidden: UnsafeMutablePointer<Float> { x.pointer }
}

/// One KV pool's part of a step: each token's slot, where its sequence's block table starts,
/// and the step's sequences' tables, concatenated.
final class StepTables {
  let slots: ScratchBuffer<Int32>  // [capacity]
  let tableOffsets: ScratchBuffer<Int32>  // [capacity]
  var blockTables: [Int32] = []

  init(capacity: Int) {
    slots = ScratchBuffer(count: capacity, zero: 0)
    tableOffsets = ScratchBuffer(count: capacity, zero: 0)
  }
}

/// Matrix products handed to the kernels in one dispatch, from a buffer allocated once.
final class ProductBatch {
  private let descriptions: ScratchBuffer<tk_matmul_desc>

  init(capacity: Int) {
    descriptions = ScratchBuffer(count: capacity, zero: tk_matmul_desc())
  }

  /// Collects the products `build` adds, then runs them all in one pool dispatch.
  func run(_ pool: ComputePool, _ build: ((tk_matmul_desc) -> Void) -> Void) {
    var count = 0
    build { description in
      precondition(count < descriptions.count, "more products than the batch holds")
      descriptions.pointer[count] = description
      count += 1
    }
    tk_matmul(pool.raw, descriptions.pointer, Int32(count))
  }
}
