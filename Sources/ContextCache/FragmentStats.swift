import Synchronization

/// Counters of the context-fragment cache, for `/metrics`.
public final class FragmentStats: Sendable {
  public let lookups = Counter()
  /// Prompt tokens served from the cache instead of computed.
  public let hitTokens = Counter()
  /// Lookups that promised more blocks than could be loaded (a part missing or damaged).
  public let partialMisses = Counter()
  public let missingParts = Counter()
  public let damagedParts = Counter()
  public let bytesRead = Counter()
  public let bytesWritten = Counter()
  public let redisErrors = Counter()
  public let roundTrips = Counter()
  /// Total seconds spent in Redis round trips, in microseconds.
  public let roundTripMicroseconds = Counter()
  /// Blocks found in the local (in-memory) tier.
  public let localHits = Counter()
  /// Blocks kept only locally because too many writes to Redis were waiting.
  public let skippedWrites = Counter()

  public init() {}

  func recordRoundTrip(seconds: Double) {
    roundTrips.add(1)
    roundTripMicroseconds.add(Int(seconds * 1e6))
  }

  /// A monotonic count shared by threads.
  public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public func add(_ amount: Int) { value.wrappingAdd(amount, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
  }
}
