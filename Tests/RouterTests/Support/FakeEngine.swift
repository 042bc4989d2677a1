import ContextCache
import Core
import Dispatch
import Synchronization

@testable import Router

/// An engine with no model: each logits row is a pure function of the sequence's whole token
/// history (every token the engine was given for it, in order). A replay that lost, doubled
/// or reordered a token gives other logits, so other output: the serving-loop tests compare
/// outputs and see it. A sequence is started by its first tokens and forgotten when released,
/// so a release the loop forgot shows too (a recomputed sequence would extend its old
/// history).
final class FakeEngine: @unchecked Sendable {
  /// The tiny vocabulary the fake speaks: letters, a space, punctuation, a newline, a few
  /// longer pieces, the two halves of "é" (so the detokenizer holds bytes back) and an
  /// end-of-text token.
  static let vocabulary: Vocabulary = {
    let normal =
      ["Ġ"] + "abcdefghijklmnopqrstuvwxyz".map(String.init)
      + [".", ",", "Ċ", "Ġthe", "ing", "Ġand", "er", "Ã", "©"]
    let tokens = normal + ["<|endoftext|>"]
    let types = Array(repeating: TokenType.normal, count: normal.count) + [.control]
    do {
      return try Vocabulary(
        tokens: tokens, types: types, merges: [], preTokenizer: PreTokenizer(name: "gpt2"),
        eosID: TokenID(normal.count))
    } catch {
      preconditionFailure("the fake vocabulary is valid: \(error)")
    }
  }()

  let vocabularySize = FakeEngine.vocabulary.count
  let blockCount: Int
  let blockSize: Int
  let stepTokens: Int

  /// Each live sequence's history.
  private(set) var histories: [Int: [TokenID]] = [:]
  private(set) var stepCount = 0
  /// Steps (counted from 1) that fail instead of running, with the failure they throw.
  var failingSteps: [Int: EngineFailure] = [:]
  /// The steps that failed (a test checks its fault happened).
  private(set) var failedSteps: [Int] = []
  private var logits: [Float] = []
  /// After this many steps the engine holds the next one until `resume()` (the test then
  /// knows what runs and what waits); nil: it never holds.
  var holdAfterStep: Int?
  /// Signalled when the engine starts holding.
  let holding = DispatchSemaphore(value: 0)
  private let resumed = DispatchSemaphore(value: 0)

  /// Lets a held step run (and every later one).
  func resume() { resumed.signal() }

  /// What `maintain` answers (a test sets it from its own thread). A new generation loses
  /// every sequence's history, as a cluster's new plan loses its KV caches.
  private let readiness = Mutex(EngineReadiness.ready(generation: 0))
  private var generation: UInt64 = 0
  /// The readiness answers given, in order (a test checks its fault was seen).
  let answered = Mutex<[EngineReadiness]>([])

  func setReadiness(_ value: EngineReadiness) { readiness.withLock { $0 = value } }

  /// Steps (counted from 1) after which the engine re-plans, as a cluster that lost a worker
  /// between steps: it answers `maintain` with `.recovering` that many times, then with a new
  /// generation. `permanently` keeps it recovering.
  var newPlanAfterStep: [Int: Int] = [:]
  private var recoveringAnswers = 0
  var permanently = false

  func currentReadiness() -> EngineReadiness {
    if recoveringAnswers > 0 || permanently {
      recoveringAnswers -= 1
      let answer = EngineReadiness.recovering("waiting for 1 of 2 workers")
      answered.withLock { if $0.last != answer { $0.append(answer) } }
      if recoveringAnswers == 0 && !permanently {
        readiness.withLock { $0 = .ready(generation: generation + 1) }
      }
      return answer
    }
    let value = readiness.withLock { $0 }
    if case .ready(let current) = value, current != generation {
      generation = current
      histories = [:]
    }
    answered.withLock { if $0.last != value { $0.append(value) } }
    return value
  }

  init(blockCount: Int = 64, blockSize: Int = 16, stepTokens: Int = 24) {
    self.blockCount = blockCount
    self.blockSize = blockSize
    self.stepTokens = stepTokens
  }

  /// The logits after `history`: a hash of the whole history seeds each token's value, and
  /// some histories strongly favour the end-of-text token (so greedy choices end by
  /// themselves, at points that depend on everything before).
  static func logits(after history: [TokenID], into row: inout [Float], at offset: Int) {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for token in history {
      hash = (hash ^ UInt64(UInt32(bitPattern: token))) &* 0x0000_0100_0000_01b3
    }
    let count = vocabulary.count
    for token in 0..<count {
      var z = hash &+ UInt64(token) &* 0x9e37_79b9_7f4a_7c15
      z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
      z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
      z ^= z >> 31
      row[offset + token] = Float(z % 4096) / 512 - 4
    }
    if hash % 23 == 0 { row[offset + count - 1] = 6 }
  }

  func step(_ entries: [InferenceEngine.Entry]) throws(EngineFailure)
    -> UnsafeBufferPointer<Float>
  {
    if let hold = holdAfterStep, stepCount == hold {
      holding.signal()
      resumed.wait()
    }
    stepCount += 1
    let rows = entries.reduce(0) { $0 + $1.logitRows.count }
    if logits.count < rows * vocabularySize {
      logits = Array(repeating: 0, count: rows * vocabularySize)
    }
    var row = 0
    for entry in entries {
      var history = histories[entry.sequence] ?? []
      let start = history.count
      history += entry.tokens
      histories[entry.sequence] = history
      for index in entry.logitRows {
        Self.logits(
          after: Array(history[..<(start + index + 1)]), into: &logits, at: row * vocabularySize)
        row += 1
      }
    }
    if let answers = newPlanAfterStep[stepCount] {
      recoveringAnswers = max(answers, 1)
    }
    // A failing step fails after its work reached the histories, as a step that died half-way
    // would leave a worker's cache: only a release makes the sequence start afresh.
    if let failure = failingSteps[stepCount] {
      failedSteps.append(stepCount)
      throw failure
    }
    return logits.withUnsafeBufferPointer { buffer in
      UnsafeBufferPointer(rebasing: buffer[..<(rows * vocabularySize)])
    }
  }

  func release(_ sequence: Int) {
    histories[sequence] = nil
  }

  /// KV blocks the engine holds: what its sequences' histories take.
  var blocksHeld: Int {
    histories.values.reduce(0) { $0 + ($1.count + blockSize - 1) / blockSize }
  }
}
