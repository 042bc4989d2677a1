/// Finds stop sequences in streamed text, across token boundaries, and never lets them (or
/// anything after them) out: text that could still be the start of a stop sequence is held
/// back until the next piece shows whether it is.
public struct StopMatcher: Sendable {
  public let stops: [String]
  /// Text held back because it could still begin a stop sequence.
  public private(set) var held = ""
  public private(set) var stopped = false

  /// - Parameters:
  ///   - held: A matcher's `held` text and
  ///   - stopped: its `stopped`, to carry on where it stopped (a request taken over).
  public init(stops: [String], held: String = "", stopped: Bool = false) {
    self.stops = stops.filter { !$0.isEmpty }
    self.held = held
    self.stopped = stopped
  }

  /// Adds a piece of generated text; returns what may be shown now. After a stop sequence
  /// matched, `stopped` is true and nothing more is returned.
  public mutating func append(_ piece: String) -> String {
    guard !stopped else { return "" }
    held += piece
    if let match = earliestMatch() {
      stopped = true
      let text = String(held[..<match])
      held = ""
      return text
    }
    // Keep the longest tail that is a prefix of some stop sequence.
    let keep = longestHeldPrefix()
    let cut = held.index(held.endIndex, offsetBy: -keep)
    let text = String(held[..<cut])
    held = String(held[cut...])
    return text
  }

  /// At the end of generation: whatever was held back (it was not a stop sequence).
  public mutating func finish() -> String {
    defer { held = "" }
    return stopped ? "" : held
  }

  private func earliestMatch() -> String.Index? {
    stops.compactMap { held.range(of: $0)?.lowerBound }.min()
  }

  private func longestHeldPrefix() -> Int {
    var best = 0
    for stop in stops {
      var length = min(stop.count, held.count)
      while length > best {
        if stop.hasPrefix(held.suffix(length)) {
          best = length
          break
        }
        length -= 1
      }
    }
    return best
  }
}
