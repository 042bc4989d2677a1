/// A decoder-only architecture. Each one lives in its own file under `Architectures/` and
/// runs the same three phases, so engines and workers drive any of them alike:
/// `embed` (first stage) → `forwardLayers` (every stage, on its layers) → `logits` (last stage).
public protocol LanguageModel: AnyObject, Sendable {
  var config: ModelConfig { get }
  var shard: ShardSpec { get }
  var units: CanonicalUnits { get }

  /// Bytes of weights this shard reads from the model file.
  var weightByteCount: Int { get }

  /// Writes the embeddings of `tokens` into rows `row...` of the residual stream of `state`.
  func embed(_ tokens: ArraySlice<TokenID>, state: RunState, at row: Int) throws(ModelError)

  /// Runs the shard's layers over the first `rowCount` rows of the residual stream. The
  /// step's positions, KV slots and block tables are already in `state`. With tensor
  /// parallelism, `exchange` supplies the other ranks' unit partials before each fold; the
  /// pass stops early, returning false, if it cannot.
  @discardableResult
  func forwardLayers(
    rowCount: Int, state: RunState, cache: PagedKVCache, pool: ComputePool,
    exchange: (any PartialExchange)?
  ) -> Bool

  /// Output logits (the shard's vocabulary slice) of the given rows, `[rows.count, slice]`.
  func logits(
    rows: [Int], state: RunState, pool: ComputePool, into out: UnsafeMutablePointer<Float>)
}

/// Opens the architecture a GGUF file names.
public enum ModelLoader {
  public static func load(_ file: GGUFFile, shard: ShardSpec? = nil) throws(ModelError)
    -> any LanguageModel
  {
    let config = try ModelConfig(gguf: file)
    switch config.architecture {
    case "llama": return try LlamaModel(file: file, config: config, shard: shard ?? .whole(config))
    case "gemma3":
      return try Gemma3Model(file: file, config: config, shard: shard ?? .whole(config))
    default: throw .unsupportedArchitecture(config.architecture)
    }
  }
}

extension LanguageModel {
  /// Scratch sized for this shard.
  public func makeRunState(capacity: Int, threadCount: Int) -> RunState {
    RunState(
      capacity: capacity, config: config, shard: shard, units: units, threadCount: threadCount,
      maxKeys: config.contextLength)
  }
}

/// Completes one of a layer's two tensor-parallel reductions: when called, the partial sums of
/// this shard's canonical units are in `partials` (`[unitCount][rows][width]`); on return,
/// those of every unit must be, so each rank folds all of them in unit order.
public protocol PartialExchange: AnyObject {
  /// Returns false if the other ranks' partials could not be had (the step is abandoned).
  func exchange(
    _ reduction: Reduction, layer: Int, localUnits: Range<Int>, unitCount: Int, rows: Int,
    width: Int, partials: UnsafeMutablePointer<Float>
  ) -> Bool
}
