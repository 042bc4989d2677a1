import Core

/// A request as Redis holds it: enough to report it, to resume its stream and to carry it on.
struct StoredRequest: Sendable {
  var spec: RequestSpec
  var status: RequestStatus
  /// How many events the stream has.
  var events: Int
  var progress: [ChoiceProgress?]
  var tokens: [[TokenID]]
  var texts: [String]
  var usage: StoredUsage?
  var error: String?

  /// The result as `GET /v1/requests/{id}` reports it (log-probabilities are in the events).
  var result: RequestResult {
    var result = RequestResult(choices: spec.choices)
    result.status = status
    result.texts = texts
    result.tokens = tokens
    result.reasons = progress.map { $0?.finishReason }
    result.usage = usage
    result.failure = error.map { APIError.unavailable($0) }
    return result
  }

  /// Where each unfinished choice stands, for the serving loop (choices with no token yet start
  /// afresh).
  var resumePoints: [Int: ResumePoint] {
    var points: [Int: ResumePoint] = [:]
    for (index, progress) in progress.enumerated() {
      if let progress { points[index] = ResumePoint(progress: progress, tokens: tokens[index]) }
    }
    return points
  }
}

/// Tokens as stored: 4 bytes each, little-endian.
enum TokenBytes {
  static func encode(_ tokens: some Collection<TokenID>) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(tokens.count * 4)
    for token in tokens {
      let value = UInt32(bitPattern: token)
      bytes += [
        UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
        UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24),
      ]
    }
    return bytes
  }

  /// nil when the length is not a whole number of tokens.
  static func decode(_ bytes: [UInt8]) -> [TokenID]? {
    guard bytes.count % 4 == 0 else { return nil }
    return stride(from: 0, to: bytes.count, by: 4).map { at in
      TokenID(
        bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
          | UInt32(bytes[at + 3]) << 24)
    }
  }
}

extension ChoiceProgress {
  /// Counts in range: what a record read from Redis must show before anything adds to them.
  func isPlausible(maxTokens: Int) -> Bool {
    let limit = StoredLimits.maxCount
    return (0...maxTokens).contains(generated) && (0...limit).contains(produced)
      && (0...produced).contains(sent) && detokenizerBytes.count <= 4
      && (0...limit).contains(logprobOffset)
      && pendingLogprobs.allSatisfy { (0...limit).contains($0.start) }
  }
}
