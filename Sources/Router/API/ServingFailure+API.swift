extension APIError {
  /// What a client is told when the serving loop could not finish its request.
  public init(_ failure: ServingFailure) {
    switch failure {
    case .emptyPrompt: self = .invalid("The prompt is empty", param: "prompt")
    case .queueFull: self = .queueFull
    case .tooLarge(let needed, let total):
      self = .invalid(
        "The prompt and max_tokens need \(needed) KV blocks; the server has \(total)",
        param: "max_tokens", code: "context_length_exceeded")
    case .timedOut: self = .timeout
    case .engine(let failure): self = .unavailable("the model could not run a step: \(failure)")
    case .noPlan(let reason): self = .unavailable("no worker plan could run: \(reason)")
    case .prefixUnavailable: self = .unavailable("the cached prompt prefix could not be loaded")
    case .shuttingDown: self = .unavailable("the server is shutting down")
    case .unusableState(let reason): self = .unavailable(reason)
    }
  }
}
