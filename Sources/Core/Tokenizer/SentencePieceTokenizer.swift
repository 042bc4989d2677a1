/// SentencePiece tokenization as llama.cpp does it for GGUF's `llama` tokenizer model
/// (Gemma):
///
/// 1. Special tokens are cut out of the raw text first, as for BPE.
/// 2. In each remaining stretch, spaces become `▁` (U+2581) — with one more `▁` in front
///    after a special token (or at the start) when the vocabulary asks for a space prefix.
/// 3. The stretch starts as one symbol per character; the adjacent pair whose joined text is
///    the token with the highest score is merged (leftmost first on ties), again and again,
///    until no pair forms a token. Pairs wait in a binary heap; one whose sides have changed
///    since it was queued is skipped when it surfaces.
/// 4. Each final symbol is its token; a character that is no token falls back to its UTF-8
///    bytes as `<0xNN>` tokens.
public struct SentencePieceTokenizer: Tokenizer {
  public let vocabulary: Vocabulary

  public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

  public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true)
    -> [TokenID]
  {
    var output: [TokenID] = []
    var session = PieceSession()
    var afterSpecial = true
    for fragment in vocabulary.splitSpecials(Array(text.utf8), parseSpecial: parseSpecial) {
      switch fragment {
      case .special(let id):
        output.append(id)
        afterSpecial = true
      case .text(let bytes):
        var escaped: [UInt8] = []
        escaped.reserveCapacity(bytes.count + 3)
        if vocabulary.addSpacePrefix, afterSpecial { escaped += Self.spaceMark }
        for byte in bytes {
          if byte == 0x20 { escaped += Self.spaceMark } else { escaped.append(byte) }
        }
        session.tokenize(escaped, vocabulary: vocabulary, into: &output)
        afterSpecial = false
      }
    }
    return addSpecial ? vocabulary.framed(output) : output
  }

  /// `▁` in UTF-8: what a space is inside SentencePiece tokens.
  static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]
}

/// Per-call scratch state of the SentencePiece merge, reused across stretches of text.
struct PieceSession {
  private struct Symbol {
    var start: Int
    var length: Int
    var previous: Int
    var next: Int
  }

  /// A candidate merge; the heap's minimum is the highest score, then the leftmost.
  private struct Pair: Comparable {
    var score: Float
    var left: Int
    var right: Int
    var length: Int
    static func < (a: Pair, b: Pair) -> Bool {
      a.score != b.score ? a.score > b.score : a.left < b.left
    }
  }

  private var symbols: [Symbol] = []
  private var heap = MinHeap<Pair>()

  mutating func tokenize(_ text: [UInt8], vocabulary: Vocabulary, into output: inout [TokenID]) {
    guard !text.isEmpty else { return }
    symbols.removeAll(keepingCapacity: true)
    heap.removeAll()
    var offset = 0
    while offset < text.count {
      let length = min(Self.utf8Length(lead: text[offset]), text.count - offset)
      let index = symbols.count
      symbols.append(
        Symbol(
          start: offset, length: length, previous: index - 1,
          next: offset + length == text.count ? -1 : index + 1))
      offset += length
    }
    for index in 1..<symbols.count { queue(index - 1, index, text, vocabulary) }

    while let pair = heap.popMin() {
      let left = symbols[pair.left]
      let right = symbols[pair.right]
      // Stale: a side was merged into another symbol since the pair was queued.
      guard left.length > 0, right.length > 0, left.length + right.length == pair.length
      else { continue }
      symbols[pair.left].length += right.length
      symbols[pair.right].length = 0
      symbols[pair.left].next = right.next
      if right.next >= 0 { symbols[right.next].previous = pair.left }
      queue(symbols[pair.left].previous, pair.left, text, vocabulary)
      queue(pair.left, symbols[pair.left].next, text, vocabulary)
    }

    var index = 0
    while index >= 0 {
      let symbol = symbols[index]
      let piece = text[symbol.start..<symbol.start + symbol.length]
      // A merged symbol is always a token (only pairs that are tokens merge); a single
      // character may not be, and falls back to its bytes.
      if let id = vocabulary.id(ofBytes: piece) {
        output.append(id)
      } else {
        for byte in piece {
          let id = vocabulary.byteTokens[Int(byte)]
          if id >= 0 {
            output.append(id)
          } else if let unknown = vocabulary.unknownID {
            output.append(unknown)
          }
        }
      }
      index = symbol.next
    }
  }

  private mutating func queue(_ left: Int, _ right: Int, _ text: [UInt8], _ vocabulary: Vocabulary)
  {
    guard left >= 0, right >= 0 else { return }
    let start = symbols[left].start
    let length = symbols[left].length + symbols[right].length
    guard let id = vocabulary.id(ofBytes: text[start..<start + length]) else { return }
    heap.insert(Pair(score: vocabulary.scores[Int(id)], left: left, right: right, length: length))
  }

  /// The byte length of the UTF-8 character that starts with `lead` (1 for a stray byte).
  static func utf8Length(lead: UInt8) -> Int {
    switch lead {
    case 0xF0...: 4
    case 0xE0...: 3
    case 0xC0...: 2
    default: 1
    }
  }
}
