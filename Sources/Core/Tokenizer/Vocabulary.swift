/// An immutable vocabulary: token texts and types, merge ranks (byte-level BPE) or scores
/// (SentencePiece), the special tokens and the flags that say how to frame a sequence. Built
/// once per model and shared by every tokenization (each call keeps its own scratch state).
public struct Vocabulary: Sendable {
  /// How text becomes tokens (GGUF's `tokenizer.ggml.model`).
  public enum Kind: String, Sendable {
    /// `gpt2`: byte-level BPE with ranked merges (SmolLM2).
    case bytePairs = "gpt2"
    /// `llama`: SentencePiece, `▁` for spaces, merges by token score, `<0xNN>` byte
    /// fallback (Gemma).
    case sentencePiece = "llama"
  }

  public let kind: Kind
  /// Token texts as stored in the model (byte-level encoded for BPE's normal tokens).
  public let tokens: [String]
  public let types: [TokenType]
  public let preTokenizer: PreTokenizer
  public let bosID: TokenID?
  public let eosID: TokenID?
  public let unknownID: TokenID?
  public let paddingID: TokenID?
  public let addBOS: Bool
  public let addEOS: Bool
  /// SentencePiece: a `▁` goes before text at the start and after each special token.
  public let addSpacePrefix: Bool
  /// SentencePiece: each token's score (higher merges first); empty for BPE.
  let scores: [Float]
  /// Tokens that end a generation (EOS, EOT and the usual end-of-turn markers).
  public let endOfGenerationIDs: Set<TokenID>

  /// The bytes each token stands for when printed (control tokens: their text).
  let tokenBytes: [[UInt8]]
  /// The token of each single byte, or -1 when the vocabulary lacks it.
  let byteTokens: [TokenID]
  /// Merge rank and result for a pair of adjacent tokens, keyed by `left << 32 | right`.
  let merges: [UInt64: (rank: Int32, result: TokenID)]
  /// Tokens matched in raw text before pre-tokenization, longest text first.
  let textMatchedSpecials: [(id: TokenID, text: [UInt8], type: TokenType)]
  let idByText: [String: TokenID]
  /// SentencePiece: ids by the exact bytes of their text. (Swift `String` keys compare by
  /// canonical equivalence, so `o` + U+0301 would find the token of `ó`; llama.cpp looks up
  /// bytes.) Empty for BPE.
  let idByBytes: [ArraySlice<UInt8>: TokenID]

  public var count: Int { tokens.count }

  /// Builds a vocabulary from its parts, as GGUF's `tokenizer.ggml.*` keys hold them.
  public init(
    kind: Kind = .bytePairs, tokens: [String], types: [TokenType], merges: [String] = [],
    scores: [Float] = [], preTokenizer: PreTokenizer, bosID: TokenID? = nil,
    eosID: TokenID? = nil, eotID: TokenID? = nil, unknownID: TokenID? = nil,
    paddingID: TokenID? = nil, addBOS: Bool = false, addEOS: Bool = false,
    addSpacePrefix: Bool = false
  ) throws(TokenizerError) {
    guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
      throw .inconsistentVocabulary("vocabulary has \(tokens.count) tokens")
    }
    guard types.count == tokens.count else {
      throw .inconsistentVocabulary("\(types.count) token types for \(tokens.count) tokens")
    }
    for (name, id) in [("bos", bosID), ("eos", eosID), ("eot", eotID), ("unknown", unknownID)] {
      if let id, !(0..<TokenID(tokens.count)).contains(id) {
        throw .inconsistentVocabulary("\(name) token id \(id) is outside the vocabulary")
      }
    }
    guard kind == .bytePairs || scores.count == tokens.count else {
      throw .inconsistentVocabulary("\(scores.count) scores for \(tokens.count) tokens")
    }
    // End-of-generation tokens by text, as llama.cpp finds them; it makes each a control
    // token whatever the file says (so `</s>`, user-defined in Gemma 3, is not matched in
    // text without special parsing and prints only as special).
    var types = types
    var endOfGeneration = Set([eosID, eotID].compactMap { $0 })
    for (index, text) in tokens.enumerated() where Self.endOfGenerationTexts.contains(text) {
      endOfGeneration.insert(TokenID(index))
      types[index] = .control
    }
    self.endOfGenerationIDs = endOfGeneration
    self.kind = kind
    self.scores = scores
    self.addSpacePrefix = addSpacePrefix
    self.tokens = tokens
    self.types = types
    self.preTokenizer = preTokenizer
    self.bosID = bosID
    self.eosID = eosID
    self.unknownID = unknownID
    self.paddingID = paddingID
    self.addBOS = addBOS
    self.addEOS = addEOS

    var idByText: [String: TokenID] = [:]
    idByText.reserveCapacity(tokens.count)
    var tokenBytes: [[UInt8]] = []
    tokenBytes.reserveCapacity(tokens.count)
    for (index, text) in tokens.enumerated() {
      // The first of duplicate texts wins, as in llama.cpp's `token_to_id`.
      if idByText[text] == nil { idByText[text] = TokenID(index) }
      tokenBytes.append(Self.printedBytes(text, types[index], kind))
    }
    self.idByText = idByText
    var idByBytes: [ArraySlice<UInt8>: TokenID] = [:]
    if kind == .sentencePiece {
      idByBytes.reserveCapacity(tokens.count)
      for (index, text) in tokens.enumerated() where idByBytes[Array(text.utf8)[...]] == nil {
        idByBytes[Array(text.utf8)[...]] = TokenID(index)
      }
    }
    self.idByBytes = idByBytes
    self.tokenBytes = tokenBytes
    switch kind {
    case .bytePairs:
      self.byteTokens = ByteLevel.scalarForByte.map { idByText[String(Character($0))] ?? -1 }
      self.merges = try Self.mergeTable(merges, idByText)
    case .sentencePiece:
      // `<0xNN>`, or else the byte as a one-character token (ASCII), as llama.cpp looks up.
      self.byteTokens = (0...255).map { (byte: Int) -> TokenID in
        let hex = String(byte, radix: 16, uppercase: true)
        if let id = idByText["<0x\(hex.count == 1 ? "0" + hex : hex)>"] { return id }  // ASCII
        return byte < 0x80 ? (idByText[String(UnicodeScalar(UInt8(byte)))] ?? -1) : -1
      }
      self.merges = [:]
    }

    var specials: [(id: TokenID, text: [UInt8], type: TokenType)] = []
    for (index, type) in types.enumerated() where [.control, .unknown, .userDefined].contains(type)
    {
      let text = Array(tokens[index].utf8)
      if !text.isEmpty { specials.append((TokenID(index), text, type)) }
    }
    specials.sort { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
    self.textMatchedSpecials = specials

  }

  /// End-of-turn markers (and fill-in-the-middle pad/repo/separator tokens) that llama.cpp
  /// treats as end of generation wherever they are in the vocabulary.
  static let endOfGenerationTexts: Set<String> = [
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<|fim_pad|>", "<fim-pad>", "<|fim_repo|>",
    "<|repo_name|>", "<fim-repo>", "<reponame>", "<|file_sep|>",
  ]

  private static func mergeTable(
    _ merges: [String], _ idByText: [String: TokenID]
  ) throws(TokenizerError) -> [UInt64: (rank: Int32, result: TokenID)] {
    var table: [UInt64: (rank: Int32, result: TokenID)] = [:]
    table.reserveCapacity(merges.count)
    for (rank, merge) in merges.enumerated() {
      // "left right", split at the first space after the first character (a left part may
      // itself start with a space character only in byte-level-encoded form, which is "Ġ").
      guard let separator = merge.dropFirst().firstIndex(of: " ") else {
        throw .inconsistentVocabulary("merge #\(rank) '\(merge)' has no separator")
      }
      let left = String(merge[..<separator])
      let right = String(merge[merge.index(after: separator)...])
      // A merge whose parts or result are not tokens can never produce a token; skip it.
      guard let l = idByText[left], let r = idByText[right], let result = idByText[left + right]
      else { continue }
      let key = UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))
      if table[key] == nil { table[key] = (Int32(rank), result) }
    }
    return table
  }

  /// The token whose stored text is `text`, if any.
  public func id(of text: String) -> TokenID? { idByText[text] }

  /// The token whose stored text has these UTF-8 bytes, if any.
  func id(ofBytes bytes: ArraySlice<UInt8>) -> TokenID? { idByBytes[bytes] }

  /// The bytes a token prints as. BPE: normal tokens are byte-level encoded. SentencePiece:
  /// `▁` is a space, `<0xNN>` the byte NN, unused tokens print nothing.
  private static func printedBytes(_ text: String, _ type: TokenType, _ kind: Kind) -> [UInt8] {
    switch (kind, type) {
    case (.bytePairs, .normal), (.bytePairs, .undefined), (.bytePairs, .unused),
      (.bytePairs, .byte):
      return ByteLevel.bytes(ofEncoded: text) ?? Array(text.utf8)
    case (.sentencePiece, .normal):
      return Array(text.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
    case (.sentencePiece, .byte):
      let utf8 = Array(text.utf8)
      guard utf8.count == 6, utf8.starts(with: Array("<0x".utf8)), utf8.last == UInt8(ascii: ">"),
        let byte = UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
      else { return Array(text.utf8) }
      return [byte]
    case (.sentencePiece, .unused), (.sentencePiece, .undefined): return []
    default: return Array(text.utf8)
    }
  }

  /// The bytes a token stands for in generated text. Control tokens (such as `<|im_end|>`)
  /// contribute their text only when `includeSpecial` is set, as llama.cpp's `special` flag.
  public func bytes(of id: TokenID, includeSpecial: Bool = false) -> [UInt8] {
    guard id >= 0, Int(id) < tokenBytes.count else { return [] }
    switch types[Int(id)] {
    case .control, .unknown: return includeSpecial ? tokenBytes[Int(id)] : []
    default: return tokenBytes[Int(id)]
    }
  }
}
