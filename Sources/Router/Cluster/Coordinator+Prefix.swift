public import Core

/// Cached prompt prefixes on the workers: each loads (and keeps) its own parts of the blocks
/// the router names, and they agree on how far all of them got.
extension Coordinator {
  /// Starts `sequence` on every worker with the longest prefix of the cached blocks `ids`
  /// that all of them could load (each fetches its own parts), and returns its length in
  /// blocks. When some worker loaded fewer, the others cut back to that, so every stage and
  /// rank starts computing at the same token.
  /// `releases` are freed on every worker first.
  public func loadPrefix(
    sequence: Int, ids: [FragmentID], releases: [Int] = [], timeout: Double = 30
  ) throws(ClusterError) -> Int {
    var agreed = try prefixRound(
      sequence: sequence, ids: ids, releases: releases, timeout: timeout)
    if agreed.min != agreed.max {
      agreed = try prefixRound(
        sequence: sequence, ids: Array(ids[..<agreed.min]), releases: [], timeout: timeout)
    }
    return agreed.min
  }

  /// Tells every worker to keep `sequence`'s blocks from `firstBlock` on (ids `ids`) in the
  /// fragment cache; false if there was no plan to tell.
  @discardableResult
  public func keepPrefix(sequence: Int, firstBlock: Int, ids: [FragmentID]) throws(ClusterError)
    -> Bool
  {
    guard isReady, !ids.isEmpty else { return false }
    let bytes = WireMessage.prefixKeep(
      PrefixKeep(planID: planID, sequence: sequence, firstBlock: firstBlock, ids: ids)
    ).encoded()
    for member in membership.assigned { try send(bytes, to: member.id) }
    return true
  }

  func prefixRound(
    sequence: Int, ids: [FragmentID], releases: [Int], timeout: Double
  ) throws(ClusterError) -> (min: Int, max: Int) {
    guard isReady else { throw .noPlan }
    prefixReplies = (sequence, [:])
    defer { prefixReplies = nil }
    let bytes = WireMessage.prefixLoad(
      PrefixLoad(planID: planID, releases: releases, sequence: sequence, ids: ids)
    ).encoded()
    for member in membership.assigned { try send(bytes, to: member.id) }
    let start = clock.now()
    while (prefixReplies?.blocks.count ?? 0) < plan.workerCount {
      guard isReady else { throw .noPlan }
      guard clock.now() - start < timeout else {
        lose([], reason: "hung", detail: "no answer to the prefix load of \(sequence)")
        throw .planLost("the prefix load of sequence \(sequence) passed its deadline")
      }
      try pump(timeoutMilliseconds: 200, spinMicroseconds: spinMicroseconds)
    }
    let counts = prefixReplies?.blocks.values.map { $0 } ?? [0]
    return (counts.min() ?? 0, counts.max() ?? 0)
  }
}
