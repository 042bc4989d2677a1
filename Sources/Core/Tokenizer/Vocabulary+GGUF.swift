extension Vocabulary {
  /// GGUF keys of the tokenizer, in one place.
  enum Key {
    static let model = "tokenizer.ggml.model"
    static let pre = "tokenizer.ggml.pre"
    static let tokens = "tokenizer.ggml.tokens"
    static let tokenTypes = "tokenizer.ggml.token_type"
    static let merges = "tokenizer.ggml.merges"
    static let scores = "tokenizer.ggml.scores"
    static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
    static let bosID = "tokenizer.ggml.bos_token_id"
    static let eosID = "tokenizer.ggml.eos_token_id"
    static let eotID = "tokenizer.ggml.eot_token_id"
    static let unknownID = "tokenizer.ggml.unknown_token_id"
    static let paddingID = "tokenizer.ggml.padding_token_id"
    static let addBOS = "tokenizer.ggml.add_bos_token"
    static let addEOS = "tokenizer.ggml.add_eos_token"
    static let chatTemplate = "tokenizer.chat_template"
  }

  /// Reads the vocabulary a GGUF model carries (`tokenizer.ggml.*`).
  public init(gguf file: GGUFFile) throws(TokenizerError) {
    let model: String
    do throws(GGUFError) {
      model = try file.required(Key.model, as: String.self)
    } catch {
      throw .gguf(error)
    }
    guard let kind = Kind(rawValue: model) else { throw .unsupportedModel(model) }
    let parts: (tokens: [String], types: [TokenType]?, merges: [String], pre: String)
    let ids: [String: TokenID]
    let flags: (addBOS: Bool, addEOS: Bool, addSpacePrefix: Bool)
    var scores: [Float] = []
    do throws(GGUFError) {
      let tokens = try file.required(Key.tokens, as: [String].self)
      let rawTypes = try file.optional(Key.tokenTypes, as: [Int].self)
      let types = rawTypes?.map { TokenType(rawValue: Int32(clamping: $0)) ?? .undefined }
      let merges = try file.optional(Key.merges, as: [String].self) ?? []
      if kind == .sentencePiece {
        scores = try file.optional(Key.scores, as: [Float].self) ?? []
      }
      let pre = try file.optional(Key.pre, as: String.self) ?? "gpt2"
      func id(_ key: String) throws(GGUFError) -> TokenID? {
        guard let raw = try file.optional(key, as: Int.self) else { return nil }
        guard let id = TokenID(exactly: raw) else {
          throw .valueOutOfRange(key: key, value: String(raw))
        }
        return id
      }
      parts = (tokens, types, merges, pre)
      var found: [String: TokenID] = [:]
      for key in [Key.bosID, Key.eosID, Key.eotID, Key.unknownID, Key.paddingID] {
        found[key] = try id(key)
      }
      ids = found
      // llama.cpp's defaults for the kind, unless the file says otherwise.
      flags = (
        try file.optional(Key.addBOS, as: Bool.self) ?? (kind == .sentencePiece),
        try file.optional(Key.addEOS, as: Bool.self) ?? false,
        try file.optional(Key.addSpacePrefix, as: Bool.self) ?? (kind == .sentencePiece)
      )
    } catch {
      throw .gguf(error)
    }
    try self.init(
      kind: kind, tokens: parts.tokens,
      types: parts.types ?? Array(repeating: .normal, count: parts.tokens.count),
      merges: parts.merges, scores: scores,
      preTokenizer: kind == .sentencePiece ? .sentencePiece : PreTokenizer(name: parts.pre),
      bosID: ids[Key.bosID], eosID: ids[Key.eosID], eotID: ids[Key.eotID],
      unknownID: ids[Key.unknownID], paddingID: ids[Key.paddingID],
      addBOS: flags.addBOS, addEOS: flags.addEOS, addSpacePrefix: flags.addSpacePrefix)
  }
}
