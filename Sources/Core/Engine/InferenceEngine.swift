/// The single-process engine: one shard holding the whole model (the TP=1, PP=1 case of the
/// distributed one), its KV cache, scratch and threads. Runs steps that mix any number of
/// sequences, each contributing one or more tokens.
///
/// Not thread-safe: one caller drives it (the CLI, or the router's step loop).
public final class InferenceEngine {
  public let model: any LanguageModel
  public let pool: ComputePool
  public let cache: PagedKVCache
  /// Most tokens one step may carry; longer prompts are fed in chunks of this size.
  public let maxBatch: Int
  /// The longest a sequence may grow (at most the model's context length).
  public let contextLength: Int
  let state: RunState
  private var logits = ScratchBuffer<Float>(count: 0, zero: 0)
  private var decodeToken: [TokenID] = [0]
  private let firstRow = [0]

  /// One sequence's part of a step (also what a step message carries to workers).
  public struct Entry: Sendable, Equatable {
    public var sequence: Int
    public var tokens: [TokenID]
    /// Indices into `tokens` whose next-token logits the caller wants.
    public var logitRows: [Int]
    /// The caller needs only each logit row's largest value and where it is (greedy sampling
    /// without penalties or logprobs): a cluster's last stage then sends those, not its
    /// vocabulary slice, and the row comes back −∞ everywhere else — the same argmax.
    public var argmaxOnly: Bool

    public init(sequence: Int, tokens: [TokenID], logitRows: [Int], argmaxOnly: Bool = false) {
      self.sequence = sequence
      self.tokens = tokens
      self.logitRows = logitRows
      self.argmaxOnly = argmaxOnly
    }
  }

  /// - Parameters:
  ///   - kvTokens: KV cache capacity in tokens over all sequences (default: the model's context).
  ///   - contextLength: the longest a sequence may grow (default and most: the model's).
  public init(
    model: any LanguageModel, threads: Int, maxBatch: Int = 256, kvTokens: Int? = nil,
    contextLength: Int? = nil
  ) {
    self.model = model
    self.maxBatch = maxBatch
    self.contextLength = min(
      contextLength ?? model.config.contextLength, model.config.contextLength)
    pool = ComputePool(threadCount: threads)
    let config = model.config
    let capacity = kvTokens ?? config.contextLength
    let blockSize = PagedKVCache.defaultBlockSize
    cache = PagedKVCache(
      blockSize: blockSize, blockCount: (capacity + blockSize - 1) / blockSize,
      layerCount: model.shard.layers.count,
      kvDimension: model.shard.kvGroups.count * config.headDimension,
      window: config.slidingWindow,
      windowedLayers: model.shard.layers.map { config.isWindowed(layer: $0) })
    state = model.makeRunState(capacity: maxBatch, threadCount: pool.threadCount)
  }

  public var vocabularySize: Int { model.shard.vocabulary?.count ?? 0 }

  /// Runs one step. Returns the logits of every requested row, entry by entry and row by row
  /// in the order asked, as one flat `[rows, vocabularySize]` array.
  public func step(_ entries: [Entry]) throws(ModelError) -> [Float] {
    Array(try stepKeepingLogits(entries))
  }

  /// Like `step`, but the logits stay in a buffer the engine reuses, valid until the next
  /// step: a decode step then allocates nothing for its vocabulary-sized row of logits.
  public func stepKeepingLogits(_ entries: [Entry]) throws(ModelError)
    -> UnsafeBufferPointer<Float>
  {
    let logitRows = try prepare(entries)
    try embed(entries)
    runLayers(rowCount: preparedRowCount, exchange: nil)
    return computeLogits(rows: logitRows)
  }

  // MARK: A step's phases, for workers that hold one shard of a distributed model

  /// Rows in the step `prepare` set up last.
  public private(set) var preparedRowCount = 0

  /// Checks a step and reserves its tokens' KV slots (positions, slots and block tables go
  /// into the run state). Returns the step rows whose logits are wanted. Nothing changes if
  /// it throws.
  public func prepare(_ entries: [Entry]) throws(ModelError) -> [Int] {
    let rowCount = entries.reduce(0) { $0 + $1.tokens.count }
    guard rowCount <= maxBatch else {
      throw .invalidConfig("step of \(rowCount) tokens exceeds the batch limit \(maxBatch)")
    }
    // Check everything that can fail before the cache changes: a failed step leaves no trace.
    let vocabulary = model.config.vocabularySize
    for entry in entries {
      if let bad = entry.tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
        throw .invalidToken(bad)
      }
      let end = cache.length(of: entry.sequence) + entry.tokens.count
      guard end <= contextLength else {
        throw .contextFull(sequenceLength: end, limit: contextLength)
      }
    }
    let blocksNeeded = entries.reduce(0) {
      $0 + cache.blocksNeeded(for: $1.sequence, adding: $1.tokens.count)
    }
    guard blocksNeeded <= cache.allocator.freeCount,
      Set(entries.map(\.sequence)).count == entries.count
    else { throw .outOfKVBlocks }

    var logitRows: [Int] = []
    var row = 0
    state.full.blockTables.removeAll(keepingCapacity: true)
    state.window.blockTables.removeAll(keepingCapacity: true)
    for entry in entries {
      try cache.reserveRows(entry.sequence, tokenCount: entry.tokens.count, in: state, at: row)
      logitRows += entry.logitRows.map { row + $0 }
      row += entry.tokens.count
    }
    preparedRowCount = rowCount
    return logitRows
  }

  /// Writes the step's token embeddings into the residual stream (first stage only).
  public func embed(_ entries: [Entry]) throws(ModelError) {
    var first = 0
    for entry in entries {
      try model.embed(entry.tokens[...], state: state, at: first)
      first += entry.tokens.count
    }
  }

  /// The residual stream, `[maxBatch, embeddingLength]`: where a later stage's input goes and
  /// where a stage's output is read.
  public var residualStream: UnsafeMutablePointer<Float> { state.x.pointer }

  /// Runs the shard's layers over the step's rows; false if an exchange failed.
  @discardableResult
  public func runLayers(rowCount: Int, exchange: (any PartialExchange)?) -> Bool {
    model.forwardLayers(
      rowCount: rowCount, state: state, cache: cache, pool: pool, exchange: exchange)
  }

  /// Feeds a sequence's tokens in chunks of `maxBatch`; returns the logits of the given
  /// indices into `tokens`, `[indices.count, vocabularySize]`.
  public func feed(sequence: Int, tokens: [TokenID], logitsAt indices: [Int]) throws(ModelError)
    -> [Float]
  {
    var logits: [Float] = []
    var start = 0
    while start < tokens.count {
      let end = min(start + maxBatch, tokens.count)
      let rows = indices.filter { (start..<end).contains($0) }.map { $0 - start }
      logits += try step([
        Entry(sequence: sequence, tokens: Array(tokens[start..<end]), logitRows: rows)
      ])
      start = end
    }
    return logits
  }

  /// One decode step of one sequence: appends `token` and returns the logits predicting the
  /// next one, in the engine's reused buffer (valid until the next step). In the steady state
  /// it allocates nothing on the heap (a new KV block every `blockSize` tokens aside); the
  /// general `step` builds arrays per call.
  public func decode(sequence: Int, token: TokenID) throws(ModelError)
    -> UnsafeBufferPointer<Float>
  {
    guard token >= 0, Int(token) < model.config.vocabularySize else { throw .invalidToken(token) }
    let position = cache.length(of: sequence)
    guard position < contextLength else {
      throw .contextFull(sequenceLength: position + 1, limit: contextLength)
    }
    let (slot, windowSlot) = try cache.appendOne(to: sequence)
    state.positions.pointer[0] = Int32(position)
    for (tables, slot, windowed) in [(state.full, slot, false), (state.window, windowSlot, true)] {
      tables.slots.pointer[0] = slot
      tables.tableOffsets.pointer[0] = 0
      tables.blockTables.removeAll(keepingCapacity: true)
      cache.withBlockTable(of: sequence, windowed: windowed) {
        tables.blockTables.append(contentsOf: $0)
      }
    }
    decodeToken[0] = token
    try model.embed(decodeToken[...], state: state, at: 0)
    model.forwardLayers(rowCount: 1, state: state, cache: cache, pool: pool, exchange: nil)
    return computeLogits(rows: firstRow)
  }

  /// Feeds a prompt in chunks and returns the logits after its last token, in the engine's
  /// reused buffer (valid until the next step).
  public func prefill(sequence: Int, tokens: [TokenID]) throws(ModelError)
    -> UnsafeBufferPointer<Float>
  {
    guard !tokens.isEmpty else { throw .invalidConfig("nothing to prefill") }
    let lastChunk = (tokens.count - 1) / maxBatch * maxBatch
    if lastChunk > 0 {
      _ = try feed(sequence: sequence, tokens: Array(tokens[..<lastChunk]), logitsAt: [])
    }
    let tail = Array(tokens[lastChunk...])
    return try stepKeepingLogits([
      Entry(sequence: sequence, tokens: tail, logitRows: [tail.count - 1])
    ])
  }

  /// The logits (this shard's vocabulary slice) of the given rows of the step just run, in
  /// the reused buffer (grown, never per step, when a step asks for more rows than any before).
  public func computeLogits(rows: [Int]) -> UnsafeBufferPointer<Float> {
    let count = rows.count * vocabularySize
    if logits.count < count { logits = ScratchBuffer(count: count, zero: 0) }
    model.logits(rows: rows, state: state, pool: pool, into: logits.pointer)
    return UnsafeBufferPointer(start: logits.pointer, count: count)
  }

  /// Frees a sequence's KV blocks.
  public func release(sequence: Int) { cache.remove(sequence) }
}
