import Core
import Transport

/// One assignment's work: the shard's model and engine (KV cache, scratch, threads), and the
/// step loop's stage logic — take the residual stream from the embedding (first stage) or the
/// previous stage, run the layers exchanging unit partials with the stage's other ranks,
/// then pass the stream on (or, on the last stage, answer with logits).
final class ShardRunner: PartialExchange {
  let assignment: Assignment
  let engine: InferenceEngine
  let data: DataPlane
  let peerTimeout: Double
  private let log: Log
  private var currentStep: UInt64 = 0
  private var exchangeFailure: WorkerError?
  /// What the steps cost, for the summary a worker logs when it stops.
  private(set) var stats = Stats()

  struct Stats {
    var steps = 0
    var rows = 0
    var stepSeconds = 0.0
    /// Time spent waiting for the previous stage or for the stage's other ranks.
    var waitSeconds = 0.0
    var bytesSent = 0
  }

  /// Runs `assignment` on `model` (its shard, packed) with a fresh KV cache.
  init(
    assignment: Assignment, model: any LanguageModel, threads: Int, data: DataPlane,
    context: ZMQContext, peerTimeout: Double, log: Log
  ) throws(WorkerError) {
    engine = InferenceEngine(
      model: model, threads: threads, maxBatch: assignment.maxBatch,
      kvTokens: assignment.kvTokens)
    do {
      try data.connect(context: context, assignment: assignment)
    } catch {
      throw .transport(error)
    }
    self.assignment = assignment
    self.data = data
    self.peerTimeout = peerTimeout
    self.log = log
  }

  var planID: UInt64 { assignment.planID }
  /// The last step run (0: none yet).
  var lastStepID: UInt64 { currentStep }
  var isLastStage: Bool { assignment.shard.vocabulary != nil }

  /// Runs one step; returns the logits reply on the last stage.
  func run(_ step: StepCommand) throws(WorkerError) -> LogitsReply? {
    currentStep = step.stepID
    let start = SystemClock.now()
    defer {
      data.forget(throughStep: step.stepID)
      stats.steps += 1
      stats.rows += step.rowCount
      stats.stepSeconds += SystemClock.now() - start
    }
    for sequence in step.releases { engine.release(sequence: sequence) }
    let entries = step.entries
    let logitRows: [Int]
    do {
      logitRows = try engine.prepare(entries)
    } catch {
      throw .model(error)
    }
    let rows = step.rowCount
    let width = engine.model.config.embeddingLength
    if assignment.shard.holdsEmbedding {
      do {
        try engine.embed(entries)
      } catch {
        throw .model(error)
      }
    } else {
      let hidden = try data.await(
        "hidden states of step \(step.stepID)", planID: planID,
        timeout: peerTimeout
      ) { message -> HiddenStates? in
        guard case .hidden(let hidden) = message, hidden.planID == planID,
          hidden.stepID == step.stepID
        else { return nil }
        return hidden
      }
      guard hidden.rows == rows, hidden.width == width else {
        throw .wire(.outOfRange("hidden states of \(hidden.rows)×\(hidden.width)"))
      }
      copy(hidden.values, to: engine.residualStream)
    }
    let exchange: (any PartialExchange)? = assignment.tensorParallel > 1 ? self : nil
    guard engine.runLayers(rowCount: rows, exchange: exchange) else {
      throw exchangeFailure ?? .peerTimeout("unit partials")
    }
    if assignment.nextStage != nil {
      let values = Array(UnsafeBufferPointer(start: engine.residualStream, count: rows * width))
      do {
        stats.bytesSent += try data.sendToNextStage(
          .hidden(
            HiddenStates(
              planID: planID, stepID: step.stepID, rows: rows, width: width, values: values)))
      } catch {
        throw .transport(error)
      }
    }
    guard let vocabulary = assignment.shard.vocabulary else { return nil }
    let logits = engine.computeLogits(rows: logitRows)
    let argmaxOnly = entries.flatMap { entry in entry.logitRows.map { _ in entry.argmaxOnly } }
    guard argmaxOnly.contains(true) else {
      return LogitsReply(
        planID: planID, stepID: step.stepID, slot: assignment.slot, vocabulary: vocabulary,
        rows: logitRows.count, values: Array(logits))
    }
    // Rows the router samples greedily go back as their slice's largest value and its id.
    let slice = vocabulary.count
    var values: [Float] = []
    var best: [LogitsReply.Best] = []
    for (row, compact) in argmaxOnly.enumerated() {
      let rowLogits = UnsafeBufferPointer(rebasing: logits[(row * slice)..<((row + 1) * slice)])
      if compact {
        best.append(.of(rowLogits, firstID: vocabulary.lowerBound))
      } else {
        values += rowLogits
      }
    }
    return LogitsReply(
      planID: planID, stepID: step.stepID, slot: assignment.slot, vocabulary: vocabulary,
      rows: values.count / max(slice, 1), values: values, best: best)
  }

  // MARK: PartialExchange

  func exchange(
    _ reduction: Reduction, layer: Int, localUnits: Range<Int>, unitCount: Int, rows: Int,
    width: Int, partials: UnsafeMutablePointer<Float>
  ) -> Bool {
    let unitSize = rows * width
    let mine = Array(
      UnsafeBufferPointer(
        start: partials + localUnits.lowerBound * unitSize, count: localUnits.count * unitSize))
    let step = currentStep
    let waitStart = SystemClock.now()
    defer { stats.waitSeconds += SystemClock.now() - waitStart }
    do {
      stats.bytesSent += try data.sendToStagePeers(
        .partials(
          UnitPartials(
            planID: planID, stepID: step, layer: layer, reduction: reduction, units: localUnits,
            rows: rows, width: width, values: mine)))
    } catch {
      exchangeFailure = .transport(error)
      return false
    }
    do {
      var have = localUnits.count
      var seen = Set<Int>()
      while have < unitCount {
        let received = try data.await(
          "layer \(layer) \(reduction) partials of step \(step)", planID: planID,
          timeout: peerTimeout
        ) { message -> UnitPartials? in
          guard case .partials(let partials) = message, partials.planID == planID,
            partials.stepID == step, partials.layer == layer, partials.reduction == reduction
          else { return nil }
          return partials
        }
        guard received.rows == rows, received.width == width, !received.units.isEmpty,
          received.units.upperBound <= unitCount, !received.units.overlaps(localUnits),
          seen.isDisjoint(with: received.units)
        else {
          log.warning("dropped unit partials \(received.units) that do not fit this step")
          continue
        }
        seen.formUnion(received.units)
        copy(received.values, to: partials + received.units.lowerBound * unitSize)
        have += received.units.count
      }
      return true
    } catch {
      exchangeFailure = error
    }
    return false
  }
}

/// Copies `values` to `destination` (nothing for an empty array).
private func copy(_ values: [Float], to destination: UnsafeMutablePointer<Float>) {
  values.withUnsafeBufferPointer { source in
    if let base = source.baseAddress { destination.update(from: base, count: source.count) }
  }
}
