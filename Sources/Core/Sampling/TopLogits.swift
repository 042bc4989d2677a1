/// The highest logits of a row, largest first (ties: lower token id first).
public enum TopLogits {
  public static func of(_ logits: [Float], count: Int) -> [(id: TokenID, logit: Float)] {
    var best: [(id: TokenID, logit: Float)] = []
    best.reserveCapacity(count + 1)
    for (index, logit) in logits.enumerated() {
      if best.count == count, let last = best.last, !(logit > last.logit) { continue }
      // Insert keeping descending order; equal logits keep the earlier (lower) id first.
      var position = best.count
      while position > 0, logit > best[position - 1].logit { position -= 1 }
      best.insert((TokenID(index), logit), at: position)
      if best.count > count { best.removeLast() }
    }
    return best
  }
}
