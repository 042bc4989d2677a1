/// Turns generated tokens into text as they arrive, never emitting a broken UTF-8 sequence.
///
/// A token may end in the middle of a multi-byte character (byte-level BPE splits emoji and
/// CJK across tokens). Bytes are held back until the character completes; a sequence that can
/// never complete becomes U+FFFD, so the output is always valid text and nothing is dropped.
public struct StreamingDetokenizer: Sendable {
  public let vocabulary: Vocabulary
  public let includeSpecial: Bool
  private var pending: [UInt8] = []

  /// - Parameter pending: Bytes a detokenizer held back (its `pendingBytes`), to carry on where
  ///   it stopped — a request taken over from another process.
  public init(vocabulary: Vocabulary, includeSpecial: Bool = false, pending: [UInt8] = []) {
    self.vocabulary = vocabulary
    self.includeSpecial = includeSpecial
    self.pending = pending
  }

  /// Bytes held back waiting for the rest of a character.
  public var pendingByteCount: Int { pending.count }
  /// Those bytes: with the vocabulary, the whole state of the detokenizer.
  public var pendingBytes: [UInt8] { pending }

  /// Adds one token; returns the text that is now complete (possibly empty).
  public mutating func append(_ token: TokenID) -> String {
    pending.append(contentsOf: vocabulary.bytes(of: token, includeSpecial: includeSpecial))
    let complete = Self.completePrefixLength(pending)
    guard complete > 0 else { return "" }
    let text = String(decoding: pending[..<complete], as: UTF8.self)
    pending.removeFirst(complete)
    return text
  }

  /// Ends the stream: whatever is still held back is emitted (as U+FFFD if incomplete).
  public mutating func finish() -> String {
    defer { pending.removeAll() }
    return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
  }

  /// The length of the longest prefix that does not end inside a character that could still
  /// be completed. Invalid bytes count as complete (they decode to U+FFFD).
  static func completePrefixLength(_ bytes: [UInt8]) -> Int {
    // Look back over at most the last 3 bytes for the start of a multi-byte sequence.
    var index = bytes.count - 1
    var continuation = 0
    while index >= 0, continuation < 3, bytes[index] & 0xC0 == 0x80 {
      continuation += 1
      index -= 1
    }
    guard index >= 0 else { return bytes.count }
    let lead = bytes[index]
    let needed: Int =
      switch lead {
      case 0xC2...0xDF: 1
      case 0xE0...0xEF: 2
      case 0xF0...0xF4: 3
      default: 0
      }
    // Held back only when the lead byte still waits for more continuation bytes.
    return needed > continuation ? index : bytes.count
  }
}
