/// How the next token is chosen from a row of logits: penalties, truncation (top-k, top-p,
/// min-p), temperature and the seed of the counter-based draw.
///
/// The defaults turn every stage off and make sampling greedy. A value decoded from JSON or
/// built by hand is not checked; call `validated()` before sampling with it.
public struct SamplingParameters: Sendable, Equatable, Codable {
  /// Softmax temperature; 0 means greedy (argmax, ties to the lowest token id).
  public var temperature: Float
  /// Keep only the `topK` most likely tokens; 0 turns it off.
  public var topK: Int
  /// Keep the smallest most-likely prefix whose probability mass is at least `topP`; 1 turns
  /// it off.
  public var topP: Float
  /// Keep tokens whose probability is at least `minP` times the most likely token's; 0 turns
  /// it off.
  public var minP: Float
  /// llama.cpp's repetition penalty: a positive logit is divided by it, any other multiplied,
  /// once per distinct token in the penalty window; 1 turns it off.
  public var repetitionPenalty: Float
  /// OpenAI's presence penalty: subtracted once from the logit of every token that occurs in
  /// the penalty window; 0 turns it off.
  public var presencePenalty: Float
  /// OpenAI's frequency penalty: subtracted from a token's logit once per occurrence in the
  /// penalty window; 0 turns it off.
  public var frequencyPenalty: Float
  /// How many of the most recent tokens (prompt and generated) the penalties look at; -1 means
  /// all of them and 0 none.
  public var penaltyWindow: Int
  /// The key of the counter-based random draws (see `CounterRNG`).
  public var seed: UInt64

  /// Creates parameters; every default leaves its stage off.
  public init(
    temperature: Float = 0,
    topK: Int = 0,
    topP: Float = 1,
    minP: Float = 0,
    repetitionPenalty: Float = 1,
    presencePenalty: Float = 0,
    frequencyPenalty: Float = 0,
    penaltyWindow: Int = 64,
    seed: UInt64 = 0
  ) {
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.minP = minP
    self.repetitionPenalty = repetitionPenalty
    self.presencePenalty = presencePenalty
    self.frequencyPenalty = frequencyPenalty
    self.penaltyWindow = penaltyWindow
    self.seed = seed
  }

  private enum CodingKeys: String, CodingKey {
    case temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty
    case penaltyWindow, seed
  }

  /// Decodes parameters; a missing key takes its default, so records written before a field
  /// existed still decode.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = SamplingParameters()
    func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
      try container.decodeIfPresent(T.self, forKey: key) ?? fallback
    }
    self.init(
      temperature: try value(.temperature, defaults.temperature),
      topK: try value(.topK, defaults.topK),
      topP: try value(.topP, defaults.topP),
      minP: try value(.minP, defaults.minP),
      repetitionPenalty: try value(.repetitionPenalty, defaults.repetitionPenalty),
      presencePenalty: try value(.presencePenalty, defaults.presencePenalty),
      frequencyPenalty: try value(.frequencyPenalty, defaults.frequencyPenalty),
      penaltyWindow: try value(.penaltyWindow, defaults.penaltyWindow),
      seed: try value(.seed, defaults.seed))
  }

  /// Whether sampling is a plain argmax (after penalties) that draws no random number.
  public var isGreedy: Bool { temperature == 0 }

  /// Whether the token chosen is the argmax of the raw logits: greedy, and no penalty moves
  /// a logit. Only the largest logit and its id matter then.
  public var dependsOnlyOnTheArgmax: Bool {
    isGreedy && repetitionPenalty == 1 && presencePenalty == 0 && frequencyPenalty == 0
  }

  /// Whether top-k, top-p or min-p cut the candidates of a vocabulary this size.
  public func truncates(vocabularyCount: Int) -> Bool {
    (topK > 0 && topK < vocabularyCount) || topP < 1 || minP > 0
  }

  /// Returns `self` if every parameter lies in its domain, or throws naming the first that
  /// does not: `temperature` finite and ≥ 0; `topK` ≥ 0; `topP` in (0, 1]; `minP` in [0, 1];
  /// `repetitionPenalty` finite and > 0; `presencePenalty` and `frequencyPenalty` in [-2, 2]
  /// (OpenAI's range); `penaltyWindow` ≥ -1. NaN is rejected everywhere.
  public func validated() throws(SamplingError) -> SamplingParameters {
    func reject(_ name: String, _ value: some CustomStringConvertible, _ reason: String)
      -> SamplingError
    {
      .invalidParameter(name: name, value: value.description, reason: reason)
    }
    guard temperature.isFinite, temperature >= 0 else {
      throw reject("temperature", temperature, "must be finite and >= 0 (0 = greedy)")
    }
    guard topK >= 0 else { throw reject("topK", topK, "must be >= 0 (0 = off)") }
    guard topP > 0, topP <= 1 else { throw reject("topP", topP, "must be in (0, 1] (1 = off)") }
    guard minP >= 0, minP <= 1 else { throw reject("minP", minP, "must be in [0, 1] (0 = off)") }
    guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
      throw reject("repetitionPenalty", repetitionPenalty, "must be finite and > 0 (1 = off)")
    }
    guard presencePenalty >= -2, presencePenalty <= 2 else {
      throw reject("presencePenalty", presencePenalty, "must be in [-2, 2] (0 = off)")
    }
    guard frequencyPenalty >= -2, frequencyPenalty <= 2 else {
      throw reject("frequencyPenalty", frequencyPenalty, "must be in [-2, 2] (0 = off)")
    }
    guard penaltyWindow >= -1 else {
      throw reject("penaltyWindow", penaltyWindow, "must be >= -1 (-1 = all tokens, 0 = none)")
    }
    return self
  }
}
