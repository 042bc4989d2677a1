public import ContextCache
public import Core

/// A request as the serving loop takes it: the spec, where its events go, and what the intake
/// found out beforehand (its deadline, its cached prefix, where a taken-over request stands).
public struct Submission: Sendable {
  public var spec: RequestSpec
  public var events: any GenerationSink
  /// Monotonic seconds (the loop's clock) after which the request fails with `.timedOut`.
  public var deadline: Double
  /// Whether to send a `.checkpoint` after each sampled token (for request state).
  public var checkpoints: Bool
  /// Choices taken over part-way (by index): each carries on from its progress, its
  /// generated tokens computed again after the prompt (through the fragment cache for the
  /// prompt's blocks).
  public var resumed: [Int: ResumePoint]
  public var prefix: CachedPrefix

  public init(
    spec: RequestSpec, events: any GenerationSink, deadline: Double, checkpoints: Bool = false,
    resumed: [Int: ResumePoint] = [:], prefix: CachedPrefix = .none
  ) {
    self.spec = spec
    self.events = events
    self.deadline = deadline
    self.checkpoints = checkpoints
    self.resumed = resumed
    self.prefix = prefix
  }
}

/// How much of a prompt the context-fragment cache holds, found before the request reaches
/// the loop (the lookup may wait on Redis; the loop must not).
public struct CachedPrefix: Sendable {
  /// The ids of the prompt's whole blocks (before its last token).
  public var ids: [FragmentID]
  /// How many of those blocks, from the first, the cache promises: loaded, not computed.
  public var blockCount: Int
  /// Their parts, when the router found them itself (one process); workers fetch their own.
  public var blocks: [[FragmentPart.Address: FragmentPart]]

  public init(ids: [FragmentID], blockCount: Int, blocks: [[FragmentPart.Address: FragmentPart]]) {
    self.ids = ids
    self.blockCount = blockCount
    self.blocks = blocks
  }

  /// Nothing cached (or no cache).
  public static let none = CachedPrefix(ids: [], blockCount: 0, blocks: [])
}
