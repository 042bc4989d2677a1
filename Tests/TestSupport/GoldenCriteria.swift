public import Core

/// The four criteria of `../shared/golden/README.md`, applied to one case's teacher-forced
/// logits: `logits[j]` is the engine's full vocabulary row predicting step j.
public struct GoldenCriteria: Sendable {
  public struct Report: Sendable, CustomStringConvertible {
    public var steps = 0
    public var agreed = 0
    public var clearSteps = 0
    public var clearAgreed = 0
    public var maxLogitDifference: Float = 0

    public var agreement: Double { steps == 0 ? 1 : Double(agreed) / Double(steps) }
    public var description: String {
      "argmax \(agreed)/\(steps), clear decisions \(clearAgreed)/\(clearSteps), "
        + "max |Δlogit| \(maxLogitDifference)"
    }
  }

  public let closeness: Float

  public init(closeness: Float = 1.5) { self.closeness = closeness }

  public func evaluate(steps: [Golden.Step], logits: [[Float]]) -> Report {
    var report = Report()
    for (step, row) in zip(steps, logits) {
      report.steps += 1
      let argmax = Self.argmax(row)
      if argmax == step.id { report.agreed += 1 }
      if step.top.count >= 2, step.top[0].logit - step.top[1].logit >= 0.5 {
        report.clearSteps += 1
        if argmax == step.id { report.clearAgreed += 1 }
      }
      for candidate in step.top {
        report.maxLogitDifference = max(
          report.maxLogitDifference, abs(row[Int(candidate.id)] - candidate.logit))
      }
    }
    return report
  }

  /// Whether a report meets all criteria.
  public func passes(_ report: Report) -> Bool {
    report.clearAgreed == report.clearSteps && report.agreement >= 0.9
      && report.maxLogitDifference <= closeness
  }

  /// The first index of the largest value (ties → lowest id, as greedy sampling does).
  public static func argmax(_ row: [Float]) -> Int32 {
    var best = 0
    for index in row.indices where row[index] > row[best] { best = index }
    return Int32(best)
  }
}

extension GoldenCriteria {
  /// One case's outcome: whether its prompt tokenizes to llama.cpp's ids, and the criteria.
  public struct CaseOutcome: Sendable {
    public let name: String
    public let promptTokens: Int
    public let tokenizesAlike: Bool
    public let report: Report
  }

  /// Every case of `golden` on `engine`: its prompt through `tokenizer` (BOS as the model
  /// asks when `addSpecial`), then scored teacher-forced on llama.cpp's ids.
  public func outcomes(
    of golden: Golden, engine: InferenceEngine, tokenizer: any Tokenizer, addSpecial: Bool
  ) throws -> [CaseOutcome] {
    try golden.cases.map { goldenCase in
      let ids = tokenizer.encode(goldenCase.prompt, addSpecial: addSpecial, parseSpecial: true)
      let logits = try Engines.score(
        engine, prompt: goldenCase.promptIDs, continuation: goldenCase.steps.map(\.id))
      return CaseOutcome(
        name: goldenCase.name, promptTokens: goldenCase.promptIDs.count,
        tokenizesAlike: ids == goldenCase.promptIDs,
        report: evaluate(steps: goldenCase.steps, logits: logits))
    }
  }
}
