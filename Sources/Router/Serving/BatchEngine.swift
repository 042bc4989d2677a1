public import Core

/// What the serving loop runs steps on: one process's `InferenceEngine` or a cluster.
public protocol BatchEngine: AnyObject {
  var config: ModelConfig { get }
  /// KV blocks and tokens per block, which the scheduler mirrors.
  var kvBlockCount: Int { get }
  var kvBlockSize: Int { get }
  /// Most tokens one step may carry.
  var maxStepTokens: Int { get }
  /// Workers of the plan that are ready (0 for one process).
  var workersUp: Int { get }
  /// Every worker the router knows, for `/v1/cluster` (empty for one process).
  func workerReports(now: Double) -> [WorkerReport]
  /// Starts an empty sequence with whole cached blocks (every part this engine holds);
  /// returns how many it loaded.
  func loadCachedPrefix(sequence: Int, blocks: [[FragmentPart.Address: FragmentPart]]) throws
    -> Int
  /// The parts this engine holds of a sequence's computed blocks, block by block.
  func fragmentParts(sequence: Int, blocks: Range<Int>) -> [[FragmentPart]]
  /// Frees `releases`, runs one step; returns the wanted rows' logits, `[rows, vocabulary]`,
  /// valid until the next call.
  func run(releases: [Int], entries: [InferenceEngine.Entry]) throws -> UnsafeBufferPointer<Float>
  /// Called after a step, before the loop samples and sends: local compute threads may sleep
  /// until the next step rather than spin, leaving their cores to the HTTP threads.
  func rest()
}

extension InferenceEngine: BatchEngine {
  public var config: ModelConfig { model.config }
  public var kvBlockCount: Int { cache.allocator.blockCount }
  public var kvBlockSize: Int { cache.blockSize }
  public var maxStepTokens: Int { maxBatch }
  public var workersUp: Int { 0 }
  public func rest() { pool.rest() }
  public func workerReports(now: Double) -> [WorkerReport] { [] }

  private var fragments: KVFragments {
    KVFragments(shard: model.shard, headDimension: model.config.headDimension)
  }

  public func loadCachedPrefix(sequence: Int, blocks: [[FragmentPart.Address: FragmentPart]])
    throws -> Int
  {
    try fragments.load(blocks, into: cache, sequence: sequence)
  }

  public func fragmentParts(sequence: Int, blocks: Range<Int>) -> [[FragmentPart]] {
    let fragments = self.fragments
    return blocks.map { fragments.parts(of: sequence, block: $0, in: cache) }
  }

  public func run(releases: [Int], entries: [InferenceEngine.Entry]) throws
    -> UnsafeBufferPointer<Float>
  {
    for sequence in releases { release(sequence: sequence) }
    guard !entries.isEmpty else { return UnsafeBufferPointer(start: nil, count: 0) }
    return try stepKeepingLogits(entries)
  }
}

extension ClusterEngine: BatchEngine {
  public var config: ModelConfig { coordinator.config }
  public var kvBlockCount: Int {
    (coordinator.kvTokens + PagedKVCache.defaultBlockSize - 1) / PagedKVCache.defaultBlockSize
  }
  public var kvBlockSize: Int { PagedKVCache.defaultBlockSize }
  public var maxStepTokens: Int { coordinator.maxBatch }
  public var workersUp: Int { coordinator.membership.assigned.filter(\.ready).count }
  public func rest() {}  // the compute runs in the workers
  public func workerReports(now: Double) -> [WorkerReport] {
    coordinator.membership.members.map { WorkerReport($0, now: now) }
  }

  // The workers will load and store their own parts (the router tells them which blocks);
  // until then a cluster neither loads nor keeps fragments.
  public func loadCachedPrefix(sequence: Int, blocks: [[FragmentPart.Address: FragmentPart]])
    throws -> Int
  { 0 }

  public func fragmentParts(sequence: Int, blocks: Range<Int>) -> [[FragmentPart]] { [] }

  public func run(releases: [Int], entries: [InferenceEngine.Entry]) throws
    -> UnsafeBufferPointer<Float>
  {
    for sequence in releases { release(sequence: sequence) }
    guard !entries.isEmpty else { return UnsafeBufferPointer(start: nil, count: 0) }
    return try stepKeepingLogits(entries)
  }
}
