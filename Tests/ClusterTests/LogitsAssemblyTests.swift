import Core
import Testing

@testable import Router

/// The router's assembly of a step's logit rows from the last stage's vocabulary slices,
/// with rows asked only for their argmax: the sampler then picks exactly what it would from
/// the whole row (the largest value, the lowest id on a tie, NaN never), whoever held it.
@Suite struct LogitsAssemblyTests {
  /// A row of 8 ids cut into slices 0..<3, 3..<6, 6..<8, as a TP3 last stage sends it.
  func assembled(_ row: [Float], argmaxOnly: Bool) -> [Float] {
    let cuts = [0..<3, 3..<6, 6..<8]
    let slices = cuts.enumerated().map { rank, cut in
      let values = Array(row[cut])
      let best = values.withUnsafeBufferPointer { LogitsReply.Best.of($0, firstID: cut.lowerBound) }
      return LogitsReply(
        planID: 1, stepID: 1, slot: Slot(stage: 0, rank: rank), vocabulary: cut,
        rows: argmaxOnly ? 0 : 1, values: argmaxOnly ? [] : values,
        best: argmaxOnly ? [best] : [])
    }
    var out: [Float] = []
    Coordinator.assemble(
      Coordinator.PendingStep(rows: 1, argmaxOnly: [argmaxOnly], slices: slices), vocabulary: 8,
      into: &out)
    return out
  }

  func greedy(_ row: [Float]) -> TokenID {
    var sampler = Sampler(parameters: SamplingParameters(temperature: 0))
    return row.withUnsafeBufferPointer {
      sampler.sample(logits: $0, history: [], choiceIndex: 0, position: 0)
    }
  }

  @Test(
    arguments: [
      [0.5, 2, 1, 3, -1, 3, 0, 2.5],  // a tie across the middle slice: the lower id
      [4, 1, 4, 0, 0, 0, 0, 4],  // ties in one slice and across slices
      [.nan, 1, 0, 0, 5, .nan, 5, 0],  // NaN never wins; 5 first at id 4
      [
        -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity,
        -.infinity,
      ],
      [.nan, .nan, .nan, -.infinity, .nan, -.infinity, .nan, .nan],
      [1, 2, 3, 4, 5, 6, 7, .infinity],
    ] as [[Float]])
  func theArgmaxRowSamplesAsTheWholeRow(row: [Float]) {
    let whole = assembled(row, argmaxOnly: false)
    #expect(whole.map(\.bitPattern) == row.map(\.bitPattern))
    let compact = assembled(row, argmaxOnly: true)
    #expect(greedy(compact) == greedy(row), "\(row) → \(compact)")
  }
}
