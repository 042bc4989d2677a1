/// Byte-level BPE tokenization in llama.cpp's order:
///
/// 1. Special tokens are cut out of the raw text first (longest text first); with
///    `parseSpecial` control tokens such as `<|im_start|>` count, without it only
///    user-defined ones do.
/// 2. Each remaining stretch of text is split by the pre-tokenizer.
/// 3. Each piece's bytes start as single-byte tokens and are merged by BPE: repeatedly apply
///    the lowest-ranked merge among adjacent pairs (leftmost first on ties). Pairs wait in a
///    binary heap; a pair whose symbols have changed since it was queued is skipped when it
///    surfaces (lazy deletion), so a piece of n bytes costs O(n log n), not O(n²).
public struct BPETokenizer: Tokenizer {
  public let vocabulary: Vocabulary

  public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

  public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true)
    -> [TokenID]
  {
    var output: [TokenID] = []
    var session = MergeSession()
    for fragment in vocabulary.splitSpecials(Array(text.utf8), parseSpecial: parseSpecial) {
      switch fragment {
      case .special(let id): output.append(id)
      case .text(let bytes): encodeText(bytes, into: &output, session: &session)
      }
    }
    return addSpecial ? vocabulary.framed(output) : output
  }

  private func encodeText(
    _ bytes: ArraySlice<UInt8>, into output: inout [TokenID], session: inout MergeSession
  ) {
    // Invalid UTF-8 cannot come from a Swift String; decoding is lossless here.
    let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
    var scalarStart = 0
    for length in vocabulary.preTokenizer.split(scalars) {
      var piece: [UInt8] = []
      for scalar in scalars[scalarStart..<scalarStart + length] {
        piece.append(contentsOf: String(scalar).utf8)
      }
      scalarStart += length
      session.merge(piece, vocabulary: vocabulary, into: &output)
    }
  }
}

/// Per-call scratch state for BPE merging, reused across pieces so a long text does not
/// allocate per piece.
struct MergeSession {
  private struct Pair: Comparable {
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftToken: TokenID
    var rightToken: TokenID
    static func < (a: Pair, b: Pair) -> Bool {
      a.rank != b.rank ? a.rank < b.rank : a.left < b.left
    }
  }

  private var symbols: [TokenID] = []
  private var next: [Int32] = []
  private var previous: [Int32] = []
  private var heap = MinHeap<Pair>()

  mutating func merge(_ piece: [UInt8], vocabulary: Vocabulary, into output: inout [TokenID]) {
    guard !piece.isEmpty else { return }
    symbols.removeAll(keepingCapacity: true)
    next.removeAll(keepingCapacity: true)
    previous.removeAll(keepingCapacity: true)
    heap.removeAll()
    for (index, byte) in piece.enumerated() {
      symbols.append(vocabulary.byteTokens[Int(byte)])
      previous.append(Int32(index) - 1)
      next.append(index + 1 < piece.count ? Int32(index + 1) : -1)
    }
    for index in 0..<(piece.count - 1) { queuePair(Int32(index), Int32(index + 1), vocabulary) }

    while let pair = heap.popMin() {
      let l = Int(pair.left)
      let r = Int(pair.right)
      // Stale: one side was merged away or changed since the pair was queued.
      guard symbols[l] == pair.leftToken, symbols[r] == pair.rightToken, next[l] == pair.right,
        let merged = vocabulary.merges[Self.key(pair.leftToken, pair.rightToken)]
      else { continue }
      symbols[l] = merged.result
      symbols[r] = -2  // removed
      next[l] = next[r]
      if next[r] >= 0 { previous[Int(next[r])] = Int32(l) }
      if previous[l] >= 0 { queuePair(previous[l], Int32(l), vocabulary) }
      if next[l] >= 0 { queuePair(Int32(l), next[l], vocabulary) }
    }

    var index: Int32 = 0
    while index >= 0 {
      let token = symbols[Int(index)]
      if token >= 0 { output.append(token) }  // -1: a byte the vocabulary lacks is dropped
      index = next[Int(index)]
    }
  }

  private mutating func queuePair(_ left: Int32, _ right: Int32, _ vocabulary: Vocabulary) {
    let l = symbols[Int(left)]
    let r = symbols[Int(right)]
    guard l >= 0, r >= 0, let merge = vocabulary.merges[Self.key(l, r)] else { return }
    heap.insert(Pair(rank: merge.rank, left: left, right: right, leftToken: l, rightToken: r))
  }

  private static func key(_ left: TokenID, _ right: TokenID) -> UInt64 {
    UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
  }
}

/// A binary min-heap.
struct MinHeap<Element: Comparable> {
  private var items: [Element] = []

  var isEmpty: Bool { items.isEmpty }

  mutating func removeAll() { items.removeAll(keepingCapacity: true) }

  mutating func insert(_ element: Element) {
    items.append(element)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard items[child] < items[parent] else { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  mutating func popMin() -> Element? {
    guard let last = items.popLast() else { return nil }
    guard !items.isEmpty else { return last }
    let top = items[0]
    items[0] = last
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var smallest = parent
      if left < items.count, items[left] < items[smallest] { smallest = left }
      if right < items.count, items[right] < items[smallest] { smallest = right }
      if smallest == parent { break }
      items.swapAt(parent, smallest)
      parent = smallest
    }
    return top
  }
}
