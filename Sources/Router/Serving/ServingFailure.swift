/// Why the serving loop could not finish a request, in the loop's own terms: it knows no HTTP
/// and no OpenAI error shapes. `APIError(_:)` in API/ says what a client is told.
public enum ServingFailure: Error, Sendable, Equatable {
  case emptyPrompt
  /// The waiting queue is full.
  case queueFull
  /// The prompt and output could never fit the KV cache, even alone.
  case tooLarge(blocksNeeded: Int, totalBlocks: Int)
  /// The request ran past its deadline.
  case timedOut
  /// The engine could not run a step of it (`EngineFailure` says why).
  case engine(EngineFailure)
  /// No plan could run for the whole recovery timeout (every worker gone, say): the reason.
  case noPlan(String)
  /// The cached prompt prefix the intake promised could not be loaded.
  case prefixUnavailable
  /// The router stopped with the request unfinished (and no request state to carry it on).
  case shuttingDown
  /// Request state in the store could not be used to carry the request on.
  case unusableState(String)
}
