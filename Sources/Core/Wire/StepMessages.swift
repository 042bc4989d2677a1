/// Router → every worker of a plan: one forward step. Every worker applies the same steps in
/// the same order, so their KV caches agree on every sequence's blocks.
public struct StepCommand: Equatable, Sendable {
  public typealias Entry = InferenceEngine.Entry

  public var planID: UInt64
  public var stepID: UInt64
  /// Sequences to free before the step runs.
  public var releases: [Int]
  public var entries: [Entry]

  public init(planID: UInt64, stepID: UInt64, releases: [Int], entries: [Entry]) {
    self.planID = planID
    self.stepID = stepID
    self.releases = releases
    self.entries = entries
  }

  public var rowCount: Int { entries.reduce(0) { $0 + $1.tokens.count } }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(stepID)
    writer.write(array: releases.map { Int64($0) })
    writer.write(UInt32(entries.count))
    for entry in entries {
      writer.write(entry.sequence)
      writer.write(array: entry.tokens)
      writer.write(array: entry.logitRows.map { UInt32($0) })
      writer.write(entry.argmaxOnly)
    }
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    stepID = try reader.read(UInt64.self, "step id")
    releases = try reader.readArray(Int64.self, "releases").map { Int($0) }
    guard releases.allSatisfy({ $0 >= 0 }) else { throw .outOfRange("released sequence") }
    let count = try reader.readCount("entries", elementSize: 16)
    entries = []
    var rows = 0
    for _ in 0..<count {
      let sequence = try reader.readInt("sequence", in: 0...Int(Int64.max))
      let tokens = try reader.readArray(Int32.self, "tokens")
      let logitRows = try reader.readArray(UInt32.self, "logit rows").map { Int($0) }
      guard logitRows.allSatisfy({ $0 < tokens.count }) else { throw .outOfRange("logit row") }
      let argmaxOnly = try reader.readBool("argmax flag")
      rows += tokens.count
      guard rows <= WireLimits.tokens else { throw .outOfRange("step tokens") }
      entries.append(
        Entry(sequence: sequence, tokens: tokens, logitRows: logitRows, argmaxOnly: argmaxOnly))
    }
  }
}

/// Last stage → router: for the vocabulary slice `vocabulary`, the logit rows the step asked
/// for whole (`rows` of them, in order), then the largest value and its id of each row it
/// asked only the argmax of (`best`, in order).
public struct LogitsReply: Equatable, Sendable {
  /// A slice's largest logit and its (global) id: the lowest id holding it, −∞ at the
  /// slice's first id when every value is −∞ or NaN.
  public struct Best: Equatable, Sendable {
    public var id: Int32
    public var value: Float

    public init(id: Int32, value: Float) {
      self.id = id
      self.value = value
    }

    /// A vocabulary slice's (`row`, its first id `firstID`) largest logit and its id, as the
    /// sampler's argmax finds it: NaN counts as −∞, and the lowest id holding it wins.
    public static func of(_ row: UnsafeBufferPointer<Float>, firstID: Int) -> Best {
      var index = 0
      var value = -Float.infinity
      for (at, logit) in row.enumerated() where logit > value {
        index = at
        value = logit
      }
      return Best(id: Int32(firstID + index), value: value)
    }
  }

  public var planID: UInt64
  public var stepID: UInt64
  public var slot: Slot
  public var vocabulary: Range<Int>
  public var rows: Int
  public var values: [Float]
  public var best: [Best]

  public init(
    planID: UInt64, stepID: UInt64, slot: Slot, vocabulary: Range<Int>, rows: Int,
    values: [Float], best: [Best] = []
  ) {
    self.planID = planID
    self.stepID = stepID
    self.slot = slot
    self.vocabulary = vocabulary
    self.rows = rows
    self.values = values
    self.best = best
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(stepID)
    writer.write(slot)
    writer.write(vocabulary)
    writer.write(rows)
    values.withUnsafeBufferPointer { writer.write(floats: $0) }
    writer.write(array: best.map(\.id))
    best.map(\.value).withUnsafeBufferPointer { writer.write(floats: $0) }
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    stepID = try reader.read(UInt64.self, "step id")
    slot = try reader.readSlot()
    vocabulary = try reader.readRange("vocabulary", limit: 1 << 24)
    rows = try reader.readInt("rows", in: 0...WireLimits.rows)
    values = try reader.readFloats("logits")
    guard values.count == rows * vocabulary.count else { throw .outOfRange("logits count") }
    let ids = try reader.readArray(Int32.self, "argmax ids")
    let bestValues = try reader.readFloats("argmax values")
    let slice = vocabulary
    guard ids.count == bestValues.count, ids.count <= WireLimits.rows,
      ids.allSatisfy({ slice.contains(Int($0)) })
    else { throw .outOfRange("argmax rows") }
    best = zip(ids, bestValues).map { Best(id: $0, value: $1) }
  }
}

/// Stage s rank r → stage s+1 rank r: the residual stream, `[rows, width]`.
public struct HiddenStates: Equatable, Sendable {
  public var planID: UInt64
  public var stepID: UInt64
  public var rows: Int
  public var width: Int
  public var values: [Float]

  public init(planID: UInt64, stepID: UInt64, rows: Int, width: Int, values: [Float]) {
    self.planID = planID
    self.stepID = stepID
    self.rows = rows
    self.width = width
    self.values = values
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(stepID)
    writer.write(rows)
    writer.write(width)
    values.withUnsafeBufferPointer { writer.write(floats: $0) }
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    stepID = try reader.read(UInt64.self, "step id")
    rows = try reader.readInt("rows", in: 0...WireLimits.rows)
    width = try reader.readInt("width", in: 0...WireLimits.width)
    values = try reader.readFloats("hidden states")
    guard values.count == rows * width else { throw .outOfRange("hidden states count") }
  }
}

/// Which of a layer's two tensor-parallel reductions a partial belongs to.
public enum Reduction: UInt8, Sendable, CaseIterable {
  case attention = 0
  case ffn = 1
}

/// Rank → the other ranks of its stage: partial sums of canonical units `units` of one
/// reduction of one layer, `[units, rows, width]`.
public struct UnitPartials: Equatable, Sendable {
  public var planID: UInt64
  public var stepID: UInt64
  public var layer: Int
  public var reduction: Reduction
  public var units: Range<Int>
  public var rows: Int
  public var width: Int
  public var values: [Float]

  public init(
    planID: UInt64, stepID: UInt64, layer: Int, reduction: Reduction, units: Range<Int>,
    rows: Int, width: Int, values: [Float]
  ) {
    self.planID = planID
    self.stepID = stepID
    self.layer = layer
    self.reduction = reduction
    self.units = units
    self.rows = rows
    self.width = width
    self.values = values
  }

  func encode(_ writer: inout WireWriter) {
    writer.write(planID)
    writer.write(stepID)
    writer.write(layer)
    writer.write(reduction.rawValue)
    writer.write(units)
    writer.write(rows)
    writer.write(width)
    values.withUnsafeBufferPointer { writer.write(floats: $0) }
  }

  init(_ reader: inout WireReader) throws(WireError) {
    planID = try reader.read(UInt64.self, "plan id")
    stepID = try reader.read(UInt64.self, "step id")
    layer = try reader.readInt("layer", in: 0...WireLimits.layers)
    guard let reduction = Reduction(rawValue: try reader.read(UInt8.self, "reduction")) else {
      throw .outOfRange("reduction")
    }
    self.reduction = reduction
    units = try reader.readRange("units", limit: WireLimits.layers)
    rows = try reader.readInt("rows", in: 0...WireLimits.rows)
    width = try reader.readInt("width", in: 0...WireLimits.width)
    values = try reader.readFloats("partials")
    guard values.count == units.count * rows * width else { throw .outOfRange("partials count") }
  }
}
