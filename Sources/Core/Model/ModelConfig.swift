/// A model's hyperparameters, read from GGUF metadata (`<arch>.…` keys).
/// Field names mirror the GGUF keys; the key strings live in `ModelConfig.Key`.
public struct ModelConfig: Sendable, Equatable, Codable {
  public var architecture: String
  /// `block_count`
  public var layerCount: Int
  /// `embedding_length` (d)
  public var embeddingLength: Int
  /// `feed_forward_length`
  public var feedForwardLength: Int
  /// `attention.head_count`
  public var headCount: Int
  /// `attention.head_count_kv`
  public var headCountKV: Int
  /// `context_length`
  public var contextLength: Int
  /// `rope.freq_base`
  public var ropeFreqBase: Float
  /// `rope.dimension_count` (defaults to the head dimension)
  public var ropeDimensionCount: Int
  /// `attention.layer_norm_rms_epsilon`
  public var rmsNormEpsilon: Float
  public var vocabularySize: Int
  /// `attention.key_length`: stored, since it need not be d / heads (Gemma 3: 256 with
  /// d = 640 and 4 heads); defaults to d / heads.
  public var headDimension: Int
  /// `attention.sliding_window`: positions a sliding-window layer sees, its own included
  /// (0: every layer sees every position).
  public var slidingWindow = 0
  /// `attention.sliding_window_pattern`: every n-th layer (n - 1, 2n - 1, …) sees every
  /// position and the others the window (Gemma 3: 6, its default when a file has no key).
  public var globalLayerEvery = 1

  /// Whether layer `layer` attends only to the sliding window.
  public func isWindowed(layer: Int) -> Bool {
    slidingWindow > 0 && layer % globalLayerEvery != globalLayerEvery - 1
  }

  public var queryDimension: Int { headCount * headDimension }
  public var kvDimension: Int { headCountKV * headDimension }
  /// Query heads that share one KV head.
  public var headsPerKVGroup: Int { headCount / headCountKV }

  enum Key {
    static let architecture = "general.architecture"
    static func of(_ architecture: String, _ suffix: String) -> String {
      "\(architecture).\(suffix)"
    }
    static let blockCount = "block_count"
    static let embeddingLength = "embedding_length"
    static let feedForwardLength = "feed_forward_length"
    static let headCount = "attention.head_count"
    static let headCountKV = "attention.head_count_kv"
    static let contextLength = "context_length"
    static let ropeFreqBase = "rope.freq_base"
    static let ropeDimensionCount = "rope.dimension_count"
    static let rmsEpsilon = "attention.layer_norm_rms_epsilon"
    static let vocabSize = "vocab_size"
    static let keyLength = "attention.key_length"
    static let valueLength = "attention.value_length"
    static let slidingWindow = "attention.sliding_window"
    static let slidingWindowPattern = "attention.sliding_window_pattern"
  }

  public init(
    architecture: String, layerCount: Int, embeddingLength: Int, feedForwardLength: Int,
    headCount: Int, headCountKV: Int, contextLength: Int, ropeFreqBase: Float,
    ropeDimensionCount: Int, rmsNormEpsilon: Float, vocabularySize: Int,
    headDimension: Int? = nil
  ) {
    self.architecture = architecture
    self.layerCount = layerCount
    self.embeddingLength = embeddingLength
    self.feedForwardLength = feedForwardLength
    self.headCount = headCount
    self.headCountKV = headCountKV
    self.contextLength = contextLength
    self.ropeFreqBase = ropeFreqBase
    self.ropeDimensionCount = ropeDimensionCount
    self.rmsNormEpsilon = rmsNormEpsilon
    self.vocabularySize = vocabularySize
    self.headDimension = headDimension ?? embeddingLength / max(headCount, 1)
  }

  /// Reads and validates the hyperparameters of a GGUF model.
  public init(gguf file: GGUFFile) throws(ModelError) {
    do throws(GGUFError) {
      let arch = try file.required(Key.architecture, as: String.self)
      func int(_ suffix: String) throws(GGUFError) -> Int {
        try file.required(Key.of(arch, suffix), as: Int.self)
      }
      let embedding = try int(Key.embeddingLength)
      let heads = try int(Key.headCount)
      let tokenCount = try file.optional("tokenizer.ggml.tokens", as: [String].self)?.count
      let keyLength = try file.optional(Key.of(arch, Key.keyLength), as: Int.self)
      let valueLength = try file.optional(Key.of(arch, Key.valueLength), as: Int.self)
      guard valueLength == nil || valueLength == keyLength else {
        throw GGUFError.valueOutOfRange(
          key: Key.of(arch, Key.valueLength), value: "\(valueLength ?? 0) (≠ key_length)")
      }
      self.init(
        architecture: arch,
        layerCount: try int(Key.blockCount),
        embeddingLength: embedding,
        feedForwardLength: try int(Key.feedForwardLength),
        headCount: heads,
        headCountKV: try file.optional(Key.of(arch, Key.headCountKV), as: Int.self) ?? heads,
        contextLength: try int(Key.contextLength),
        ropeFreqBase: try file.optional(Key.of(arch, Key.ropeFreqBase), as: Float.self) ?? 10000,
        ropeDimensionCount: try file.optional(Key.of(arch, Key.ropeDimensionCount), as: Int.self)
          ?? keyLength ?? embedding / max(heads, 1),
        rmsNormEpsilon: try file.optional(Key.of(arch, Key.rmsEpsilon), as: Float.self) ?? 1e-5,
        vocabularySize: try file.optional(Key.of(arch, Key.vocabSize), as: Int.self)
          ?? tokenCount ?? 0, headDimension: keyLength)
      // Gemma 3's files name the window but not always the pattern (every 6th is global).
      let isGemma3 = arch == "gemma3"
      slidingWindow =
        try file.optional(Key.of(arch, Key.slidingWindow), as: Int.self) ?? (isGemma3 ? 512 : 0)
      globalLayerEvery =
        try file.optional(Key.of(arch, Key.slidingWindowPattern), as: Int.self)
        ?? (isGemma3 ? 6 : 1)
    } catch {
      throw .gguf(error)
    }
    try validate()
  }

  /// Rejects shapes the forward pass cannot run, with the reason.
  public func validate() throws(ModelError) {
    func require(_ condition: Bool, _ reason: String) throws(ModelError) {
      if !condition { throw .invalidConfig(reason) }
    }
    try require((1...1024).contains(layerCount), "block_count \(layerCount)")
    try require(headCount >= 1 && headCountKV >= 1, "head counts \(headCount)/\(headCountKV)")
    try require(
      headCount % headCountKV == 0,
      "head_count \(headCount) not a multiple of head_count_kv \(headCountKV)")
    try require(
      headDimension > 0 && headDimension * headCount <= 1 << 16,
      "head dimension \(headDimension) × \(headCount) heads")
    try require(
      embeddingLength % 32 == 0 && embeddingLength <= 65536, "embedding_length \(embeddingLength)")
    try require(
      feedForwardLength % 32 == 0 && feedForwardLength > 0 && feedForwardLength <= 1 << 18,
      "feed_forward_length \(feedForwardLength)")
    try require(
      headDimension % 32 == 0 && headDimension <= 512,
      "head dimension \(headDimension) (a multiple of 32 up to 512)")
    try require(
      ropeDimensionCount > 0 && ropeDimensionCount <= headDimension && ropeDimensionCount % 2 == 0,
      "rope.dimension_count \(ropeDimensionCount)")
    try require(vocabularySize > 0, "vocabulary size \(vocabularySize)")
    try require(contextLength > 0, "context_length \(contextLength)")
    try require(rmsNormEpsilon.isFinite && rmsNormEpsilon > 0, "rms epsilon \(rmsNormEpsilon)")
    try require(
      slidingWindow >= 0 && globalLayerEvery >= 1,
      "sliding window \(slidingWindow), pattern \(globalLayerEvery)")
    try require(ropeFreqBase.isFinite && ropeFreqBase > 0, "rope.freq_base \(ropeFreqBase)")
  }
}
