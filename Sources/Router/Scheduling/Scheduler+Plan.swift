public import Core

/// The scheduler's vocabulary: its limits, the sequences it tracks, and the plan of a step.
extension Scheduler {
  public struct Limits: Sendable, Equatable {
    /// Most sequences in the running batch.
    public var maxRunning: Int
    /// Most requests waiting to be admitted; more are refused (429).
    public var maxQueued: Int
    /// Most tokens one step carries (decode tokens plus prefill chunks).
    public var stepTokens: Int
    public var blockSize: Int
    public var totalBlocks: Int

    public init(maxRunning: Int, maxQueued: Int, stepTokens: Int, blockSize: Int, totalBlocks: Int)
    {
      self.maxRunning = maxRunning
      self.maxQueued = maxQueued
      self.stepTokens = stepTokens
      self.blockSize = blockSize
      self.totalBlocks = totalBlocks
    }
  }

  /// A sequence the scheduler tracks: one choice of one request.
  public struct Sequence: Sendable, Equatable {
    public let id: Int
    /// Prompt, then generated tokens.
    public private(set) var tokens: [TokenID]
    public let promptCount: Int
    /// Tokens whose keys and values are in the cache.
    public internal(set) var computed = 0
    public let maxNewTokens: Int
    /// Prompt tokens the engine loads from the context-fragment cache when the sequence is
    /// admitted, instead of computing them (0 after a preemption: recomputed then).
    public internal(set) var cachedTokens = 0
    var admission = 0

    public var generatedCount: Int { tokens.count - promptCount }
    var pending: Int { tokens.count - computed }

    mutating func append(_ token: TokenID) { tokens.append(token) }
  }

  public enum SubmitOutcome: Equatable, Sendable {
    case queued
    case emptyPrompt
    /// The queue is full (429).
    case queueFull
    /// The prompt and output could never fit the KV cache, even alone.
    case tooLarge(blocksNeeded: Int, totalBlocks: Int)
  }

  /// One sequence's part of a step.
  public struct Slice: Sendable, Equatable {
    public var sequence: Int
    public var tokens: [TokenID]
    /// Whether the step's logits for this sequence's last token are wanted (it reaches the
    /// end of what the sequence has: a token is sampled afterwards).
    public var wantsLogits: Bool
    /// Tokens to load from the fragment cache before this slice (its tokens follow them).
    public var loadsCachedTokens = 0

    public init(sequence: Int, tokens: [TokenID], wantsLogits: Bool) {
      self.sequence = sequence
      self.tokens = tokens
      self.wantsLogits = wantsLogits
    }
  }

  /// What the engine runs next.
  public struct StepPlan: Sendable, Equatable {
    /// Sequences whose KV blocks the engine frees before the step (finished, cancelled or
    /// preempted).
    public var releases: [Int] = []
    public var slices: [Slice] = []
    /// Sequences sent back to the queue to be recomputed.
    public var preempted: [Int] = []

    public var isEmpty: Bool { slices.isEmpty && releases.isEmpty }
  }
}
