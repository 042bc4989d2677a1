/// Splits text into the pieces BPE merges within, as `tokenizer.ggml.pre` names them.
///
/// Each pre-tokenizer is a list of stages applied in turn; each stage splits every piece the
/// previous one produced and never merges across pieces (llama.cpp's `unicode_regex_split`).
///
/// - `isolateDigits` is the pattern `\p{N}`: every numeric code point becomes its own piece,
///   text between them stays whole.
/// - `gpt2` is GPT-2's pattern
///   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
///   hand-coded as a scanner (no regex engine, linear time).
///
/// `smollm` (and the StarCoder family that shares its pattern) is `isolateDigits` then `gpt2`.
public struct PreTokenizer: Sendable, Equatable {
  enum Stage: Sendable, Equatable {
    case isolateDigits
    case gpt2
  }

  let stages: [Stage]

  static let byName: [String: [Stage]] = [
    "gpt2": [.gpt2],
    "mpt": [.gpt2],
    "olmo": [.gpt2],
    "jais": [.gpt2],
    "smollm": [.isolateDigits, .gpt2],
    "starcoder": [.isolateDigits, .gpt2],
    "refact": [.isolateDigits, .gpt2],
    "command-r": [.isolateDigits, .gpt2],
    "codeshell": [.isolateDigits, .gpt2],
    "exaone": [.isolateDigits, .gpt2],
    "minerva-7b": [.isolateDigits, .gpt2],
  ]

  /// The `tokenizer.ggml.pre` values this build understands.
  public static var supportedNames: [String] { byName.keys.sorted() }

  init(stages: [Stage]) { self.stages = stages }

  /// No splitting: SentencePiece merges over the whole stretch between special tokens.
  static let sentencePiece = PreTokenizer(stages: [])

  public init(name: String) throws(TokenizerError) {
    guard let stages = Self.byName[name] else { throw .unsupportedPreTokenizer(name) }
    self.stages = stages
  }

  /// Splits `scalars` into pieces; returns their lengths in code points, in order.
  func split(_ scalars: [Unicode.Scalar]) -> [Int] {
    var classes = [CodepointClass]()
    classes.reserveCapacity(scalars.count)
    for scalar in scalars { classes.append(.of(scalar)) }
    var lengths = scalars.isEmpty ? [] : [scalars.count]
    for stage in stages {
      var next: [Int] = []
      next.reserveCapacity(lengths.count * 2)
      var start = 0
      for length in lengths {
        switch stage {
        case .isolateDigits: Self.isolateDigits(classes, start, start + length, into: &next)
        case .gpt2: Self.gpt2(scalars, classes, start, start + length, into: &next)
        }
        start += length
      }
      lengths = next
    }
    return lengths
  }

  private static func isolateDigits(
    _ classes: [CodepointClass], _ start: Int, _ end: Int, into out: inout [Int]
  ) {
    var pending = 0
    for position in start..<end {
      if classes[position].contains(.number) {
        if pending > 0 { out.append(pending) }
        out.append(1)
        pending = 0
      } else {
        pending += 1
      }
    }
    if pending > 0 { out.append(pending) }
  }

  private static func gpt2(
    _ scalars: [Unicode.Scalar], _ classes: [CodepointClass], _ start: Int, _ end: Int,
    into out: inout [Int]
  ) {
    // Reads past the piece give no class and no code point, as the pattern sees end of text.
    func cls(_ position: Int) -> CodepointClass { position < end ? classes[position] : [] }
    func char(_ position: Int) -> UInt32? { position < end ? scalars[position].value : nil }
    let apostrophe: UInt32 = 0x27
    let space: UInt32 = 0x20

    var tokenStart = start
    var position = start
    func emit(_ tokenEnd: Int) {
      if tokenEnd > tokenStart { out.append(tokenEnd - tokenStart) }
      tokenStart = tokenEnd
      position = tokenEnd
    }

    while position < end {
      let c = scalars[position].value
      // 's 't 're 've 'm 'll 'd (lower case only, as in the pattern)
      if c == apostrophe, let n1 = char(position + 1) {
        if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {
          emit(position + 2)
          continue
        }
        if let n2 = char(position + 2),
          (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C)
        {
          emit(position + 3)
          continue
        }
      }
      // An optional leading space joins the letters, digits or symbols that follow it.
      let lead = c == space ? 1 : 0
      let first = cls(position + lead)
      if first.contains(.letter) {
        var p = position + lead
        while cls(p).contains(.letter) { p += 1 }
        emit(p)
        continue
      }
      if first.contains(.number) {
        var p = position + lead
        while cls(p).contains(.number) { p += 1 }
        emit(p)
        continue
      }
      func isOther(_ k: CodepointClass) -> Bool {
        k.contains(.assigned) && k.isDisjoint(with: [.whitespace, .letter, .number])
      }
      if isOther(first) {
        var p = position + lead
        while isOther(cls(p)) { p += 1 }
        emit(p)
        continue
      }
      var spaces = 0
      while cls(position + spaces).contains(.whitespace) { spaces += 1 }
      // \s+(?!\S): a run of whitespace followed by more text leaves its last one for that text.
      if spaces > 1 && position + spaces < end {
        emit(position + spaces - 1)
        continue
      }
      if spaces > 0 {
        emit(position + spaces)
        continue
      }
      emit(position + 1)
    }
  }
}
