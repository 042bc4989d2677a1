// A step in flight and how its logits are put together from the last stage's slices.
import Core

extension Coordinator {
  struct PendingStep {
    var rows: Int
    /// Per logit row: whether only its argmax was asked for.
    var argmaxOnly: [Bool] = []
    var fullRows: Int { argmaxOnly.count - argmaxOnly.filter { $0 }.count }
    var slices: [LogitsReply] = []
    var failure: ClusterError?
  }

  /// The step's logit rows from its slices: whole rows copied slice by slice; a row asked
  /// only for its argmax is −∞ but for the largest of the slices' best values (the lowest id
  /// on a tie), which the sampler's argmax then finds.
  func assemble(_ step: PendingStep, into out: inout [Float]) {
    Self.assemble(step, vocabulary: config.vocabularySize, into: &out)
  }

  static func assemble(_ step: PendingStep, vocabulary: Int, into out: inout [Float]) {
    let count = step.rows * vocabulary
    if out.count != count { out = [Float](repeating: 0, count: count) }
    out.withUnsafeMutableBufferPointer { buffer in
      guard let destination = buffer.baseAddress else { return }
      var full = 0
      var compact = 0
      for row in 0..<step.rows {
        let target = destination + row * vocabulary
        if row < step.argmaxOnly.count, step.argmaxOnly[row] {
          target.update(repeating: -.infinity, count: vocabulary)
          var best = LogitsReply.Best(id: Int32.max, value: -.infinity)
          for slice in step.slices {
            let candidate = slice.best[compact]
            if candidate.value > best.value
              || (candidate.value == best.value && candidate.id < best.id)
            {
              best = candidate
            }
          }
          if best.id != Int32.max { target[Int(best.id)] = best.value }
          compact += 1
          continue
        }
        for slice in step.slices {
          let width = slice.vocabulary.count
          slice.values.withUnsafeBufferPointer { values in
            guard let source = values.baseAddress else { return }
            (target + slice.vocabulary.lowerBound).update(from: source + full * width, count: width)
          }
        }
        full += 1
      }
    }
  }
}
