// The stochastic part of sampling, after penalties: top-k → top-p → min-p → temperature →
// draw, llama.cpp's default chain.
//
// Every stage keeps a prefix of the candidate order (CandidateOrder: logit descending, id
// ascending), and the draw walks that prefix, so the pipeline needs the order but never a full
// sort of the vocabulary:
// - top-k > 0 selects and sorts the first k candidates with a size-k heap (O(n log k));
// - otherwise a counting sort puts every finite candidate into buckets by distance from the
//   largest logit (1/8 nat wide up to 32 nats, then one bucket for the rest). Buckets follow
//   the order, and a bucket is heap-sorted only when a walk has to look inside it: a walk
//   adds whole-bucket masses until the one where its threshold falls. The result is that of
//   walking a fully sorted list, at the cost of two O(n) passes and a few small sorts.
//
// Probabilities at temperature 1 (for top-p and min-p) are w = exp(logit - max) in Double,
// normalized by Z = Σ w over the candidates. top-p keeps the shortest prefix whose Σ w reaches
// topP · Z (at least one token); min-p keeps the prefix with w ≥ minP (w of the first candidate
// is exactly 1, so this is p ≥ minP · pmax). Temperature then reweights the survivors to
// q = exp((logit - max) / T), and the draw is the inverse CDF: the first candidate whose
// running Σ q exceeds u · Σ q, with u from CounterRNG. A candidate of weight 0 is never drawn.
// Sums run in a fixed order, so they are the same bits on every machine: a total over the whole
// row in id order when no stage has cut it, whole buckets' masses over their members, both in
// the eight-lane order of tk_exp_sum (vectorized), and a walk inside a bucket one by one.

import CKernels

/// The stochastic pipeline and its scratch, reused across calls.
struct SamplingPipeline {
  /// Buckets per nat of logit distance from the maximum.
  private static let bucketsPerNat: Float = 8
  /// Buckets of width 1/8 nat, covering 32 nats; one more holds every farther candidate.
  private static let nearBucketCount = 256
  private static let bucketCount = nearBucketCount + 1

  /// Candidate ids, bucket by bucket. `[vocabularyCount]`
  private var candidates: [Int32] = []
  /// Bucket `b` is `candidates[bucketStart[b]..<bucketStart[b + 1]]`. `[bucketCount + 1]`
  private var bucketStart = [Int](repeating: 0, count: bucketCount + 1)
  /// The counting sort's scratch: bucket starts as C writes them, and each id's bucket.
  /// `[bucketCount + 1]`, `[vocabularyCount]`
  private var bucketStart32 = [Int32](repeating: 0, count: bucketCount + 1)
  private var bucketOfID: [UInt16] = []
  /// Whether a bucket's members are in candidate order. `[bucketCount]`
  private var bucketIsSorted = [Bool](repeating: false, count: bucketCount)
  /// Cached Σ w (temperature 1) and Σ q (the call's temperature) of whole buckets; NaN until
  /// computed. `[bucketCount]`
  private var bucketMass = [Double](repeating: .nan, count: bucketCount)
  private var bucketTemperedMass = [Double](repeating: .nan, count: bucketCount)
  /// How many buckets the current call uses.
  private var activeBucketCount = 0

  /// Runs top-k, top-p, min-p and temperature over `row`, whose largest logit `maxLogit` is
  /// finite, then draws with `uniform` in [0, 1).
  mutating func draw(
    _ row: CandidateOrder, maxLogit: Float, parameters: SamplingParameters, uniform: Double
  ) -> TokenID {
    let vocabularyCount = row.logits.count
    if candidates.count != vocabularyCount {
      candidates = [Int32](repeating: 0, count: vocabularyCount)
    }
    let walk = Walk(row: row, maxLogit: maxLogit, temperature: Double(parameters.temperature))
    let usesTopK = parameters.topK > 0 && parameters.topK < vocabularyCount
    if usesTopK {
      candidates.withUnsafeMutableBufferPointer { row.selectFirst(parameters.topK, into: $0) }
      activeBucketCount = 1
      bucketStart[0] = 0
      bucketStart[1] = parameters.topK
      bucketIsSorted[0] = true
    } else {
      fillBuckets(walk)
    }
    for bucket in 0..<activeBucketCount {
      bucketMass[bucket] = .nan
      bucketTemperedMass[bucket] = .nan
    }
    var keptEnd = bucketStart[activeBucketCount]
    // Every finite logit of the row is a candidate (no top-k): totals may then run over the row.
    let everyCandidate = usesTopK ? -1 : keptEnd
    if parameters.topP < 1 {
      let total = totalMass(
        end: keptEnd, tempered: false, wholeRow: keptEnd == everyCandidate, walk)
      let crossing = firstCrossing(
        end: keptEnd, threshold: Double(parameters.topP) * total, tempered: false,
        inclusive: true, walk)
      keptEnd = (crossing ?? keptEnd - 1) + 1
    }
    if parameters.minP > 0 {
      keptEnd = minPEnd(Double(parameters.minP), end: keptEnd, walk)
    }
    let total = totalMass(end: keptEnd, tempered: true, wholeRow: keptEnd == everyCandidate, walk)
    if let index = firstCrossing(
      end: keptEnd, threshold: uniform * total, tempered: true, inclusive: false, walk)
    {
      return candidates[index]
    }
    // Only reachable when rounding leaves the walked sum just below u · Σ q: take the most
    // likely member of the last bucket with mass.
    let last = (0..<activeBucketCount).last {
      bucketStart[$0] < keptEnd && mass(ofBucket: $0, end: keptEnd, tempered: true, walk) > 0
    }
    sortBucket(last ?? 0, walk)
    return candidates[bucketStart[last ?? 0]]
  }

  /// What a walk needs to know about the row.
  private struct Walk {
    let row: CandidateOrder
    let maxLogit: Float
    let temperature: Double

    /// w = exp(logit - max) at temperature 1, or q = exp((logit - max) / T) if `tempered`
    /// (dividing by T = 1 changes nothing).
    func weight(_ id: Int32, tempered: Bool) -> Double {
      let distance = Double(row.logit(id)) - Double(maxLogit)
      return DeterministicMath.exp(tempered ? distance / temperature : distance)
    }
  }

  /// Counting-sorts every finite candidate into the buckets, members in id order (in C: the
  /// two passes over the vocabulary are most of a draw's time). The maximum is finite, so the
  /// first bucket is never empty.
  private mutating func fillBuckets(_ walk: Walk) {
    let row = walk.row
    if bucketOfID.count != row.logits.count {
      bucketOfID = [UInt16](repeating: 0, count: row.logits.count)
    }
    bucketOfID.withUnsafeMutableBufferPointer { scratch in
      candidates.withUnsafeMutableBufferPointer { output in
        bucketStart32.withUnsafeMutableBufferPointer { start in
          _ = tk_bucket_candidates(
            row.logits.baseAddress, Int32(row.logits.count), walk.maxLogit, Self.bucketsPerNat,
            Int32(Self.nearBucketCount), scratch.baseAddress, start.baseAddress,
            output.baseAddress)
        }
      }
    }
    for bucket in 0...Self.bucketCount { bucketStart[bucket] = Int(bucketStart32[bucket]) }
    // Walks stop after the last non-empty bucket.
    activeBucketCount = (0..<Self.bucketCount).last { bucketStart[$0 + 1] > bucketStart[$0] }! + 1
    for bucket in 0..<activeBucketCount {
      bucketIsSorted[bucket] = bucketStart[bucket + 1] - bucketStart[bucket] <= 1
    }
  }

  /// Puts bucket `bucket` in candidate order, once.
  private mutating func sortBucket(_ bucket: Int, _ walk: Walk) {
    guard !bucketIsSorted[bucket] else { return }
    let range = bucketStart[bucket]..<bucketStart[bucket + 1]
    candidates.withUnsafeMutableBufferPointer { ids in
      walk.row.sort(UnsafeMutableBufferPointer(rebasing: ids[range]))
    }
    bucketIsSorted[bucket] = true
  }

  /// Σ weight over the candidates before `end`: over the whole row in id order when every
  /// finite logit is a candidate (contiguous: the fastest pass; -inf adds 0), otherwise
  /// bucket by bucket. The walks add bucket masses in another order, so their sums may differ
  /// from this total in the last bits; `draw` handles a walk that ends just short of it.
  private mutating func totalMass(end: Int, tempered: Bool, wholeRow: Bool, _ walk: Walk)
    -> Double
  {
    if wholeRow {
      return DeterministicMath.expSum(
        walk.row.logits, ids: nil, maxLogit: walk.maxLogit, divisor: tempered ? walk.temperature : 1
      )
    }
    return (0..<activeBucketCount).reduce(0.0) {
      $0 + mass(ofBucket: $1, end: end, tempered: tempered, walk)
    }
  }

  /// Σ weight over the members of `bucket` before `end`, in their current order; cached for
  /// whole buckets. A bucket cut by `end` is already sorted (a walk cut it).
  private mutating func mass(ofBucket bucket: Int, end: Int, tempered: Bool, _ walk: Walk)
    -> Double
  {
    let start = bucketStart[bucket]
    let stop = min(bucketStart[bucket + 1], end)
    guard start < stop else { return 0 }
    let isWhole = stop == bucketStart[bucket + 1]
    if isWhole {
      let cached = tempered ? bucketTemperedMass[bucket] : bucketMass[bucket]
      if !cached.isNaN { return cached }
    }
    let sum = candidates.withUnsafeBufferPointer { ids in
      DeterministicMath.expSum(
        walk.row.logits, ids: UnsafeBufferPointer(rebasing: ids[start..<stop]),
        maxLogit: walk.maxLogit, divisor: tempered ? walk.temperature : 1)
    }
    if isWhole {
      if tempered { bucketTemperedMass[bucket] = sum } else { bucketMass[bucket] = sum }
    }
    return sum
  }

  /// The first index before `end`, in candidate order, where the running Σ weight reaches
  /// (`inclusive`) or exceeds `threshold`; nil if it never does. Whole buckets before the
  /// crossing are added by their masses, unsorted.
  private mutating func firstCrossing(
    end: Int, threshold: Double, tempered: Bool, inclusive: Bool, _ walk: Walk
  ) -> Int? {
    func crosses(_ sum: Double) -> Bool { inclusive ? sum >= threshold : sum > threshold }
    var cumulative = 0.0
    for bucket in 0..<activeBucketCount {
      let start = bucketStart[bucket]
      let stop = min(bucketStart[bucket + 1], end)
      if start >= stop { continue }
      let bucketTotal = mass(ofBucket: bucket, end: end, tempered: tempered, walk)
      if !crosses(cumulative + bucketTotal) {
        cumulative += bucketTotal
        continue
      }
      sortBucket(bucket, walk)
      for index in start..<stop {
        cumulative += walk.weight(candidates[index], tempered: tempered)
        if crosses(cumulative) { return index }
      }
    }
    return nil
  }

  /// The end of the prefix before `end` whose weights are all ≥ minP, at least 1.
  private mutating func minPEnd(_ minP: Double, end: Int, _ walk: Walk) -> Int {
    for bucket in 0..<activeBucketCount {
      let start = bucketStart[bucket]
      let stop = min(bucketStart[bucket + 1], end)
      if start >= stop { continue }
      let allKept = (start..<stop).allSatisfy {
        walk.weight(candidates[$0], tempered: false) >= minP
      }
      if allKept { continue }
      sortBucket(bucket, walk)
      var index = start
      while index < stop, walk.weight(candidates[index], tempered: false) >= minP { index += 1 }
      return max(index, 1)
    }
    return end
  }
}
