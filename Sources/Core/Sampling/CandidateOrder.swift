// The one order in which sampling looks at candidates — higher logit first, ties to the lower
// token id — and in-place heap routines over it. Every truncation (top-k, top-p, min-p) keeps
// a prefix of this order and the draw walks it, so the order is total and the same on every
// machine. The heaps sort in place: std's sort may allocate a temporary buffer, and sampling
// must not allocate in the steady state. The order is total, so heapsort's instability does
// not matter.

/// The candidate order over one row of logits; NaN ranks as -infinity.
struct CandidateOrder {
  /// The logits row, indexed by token id.
  let logits: UnsafeBufferPointer<Float>

  /// The logit of `id`, with NaN read as -infinity.
  @inline(__always)
  func logit(_ id: Int32) -> Float {
    let value = logits[Int(id)]
    return value.isNaN ? -.infinity : value
  }

  /// Whether `a` comes before `b`: a higher logit, or an equal logit and a lower id.
  @inline(__always)
  func precedes(_ a: Int32, _ b: Int32) -> Bool {
    let la = logit(a)
    let lb = logit(b)
    return la > lb || (la == lb && a < b)
  }

  /// Restores the heap property below `start` in `heap[0..<end]`, where every parent comes
  /// after its children (the root is the last element in candidate order).
  func siftDown(_ heap: UnsafeMutableBufferPointer<Int32>, from start: Int, end: Int) {
    var parent = start
    while true {
      let left = 2 * parent + 1
      if left >= end { return }
      var child = left
      if left + 1 < end, precedes(heap[left], heap[left + 1]) { child = left + 1 }
      if !precedes(heap[parent], heap[child]) { return }
      heap.swapAt(parent, child)
      parent = child
    }
  }

  /// Arranges `heap[0..<count]` as a heap whose root is the last in candidate order.
  func heapify(_ heap: UnsafeMutableBufferPointer<Int32>, count: Int) {
    var start = count / 2 - 1
    while start >= 0 {
      siftDown(heap, from: start, end: count)
      start -= 1
    }
  }

  /// Sorts a heap built by `heapify` into candidate order, first candidate first.
  func sortHeap(_ heap: UnsafeMutableBufferPointer<Int32>, count: Int) {
    var end = count - 1
    while end > 0 {
      heap.swapAt(0, end)
      siftDown(heap, from: 0, end: end)
      end -= 1
    }
  }

  /// Sorts `ids` into candidate order in place, in O(n log n) without allocating.
  func sort(_ ids: UnsafeMutableBufferPointer<Int32>) {
    heapify(ids, count: ids.count)
    sortHeap(ids, count: ids.count)
  }

  /// Writes the first `k` token ids in candidate order to `output[0..<k]`, sorted, in
  /// O(n log k) time; `k` must be in 1...logits.count and `output` at least `k` long.
  func selectFirst(_ k: Int, into output: UnsafeMutableBufferPointer<Int32>) {
    for id in 0..<k { output[id] = Int32(id) }
    heapify(output, count: k)
    for id in k..<logits.count where precedes(Int32(id), output[0]) {
      output[0] = Int32(id)
      siftDown(output, from: 0, end: k)
    }
    sortHeap(output, count: k)
  }
}
