/// Text to token ids, as the model's vocabulary says: byte-level BPE (GGUF's `gpt2`
/// tokenizer model, SmolLM2) or SentencePiece (`llama`, Gemma). Everything that tokenizes —
/// the router's intake, `generate`, `tokenize` — holds `any Tokenizer` from
/// `Vocabulary.tokenizer`, never a particular kind.
public protocol Tokenizer: Sendable {
  var vocabulary: Vocabulary { get }

  /// Token ids of `text`. `addSpecial` frames it as the vocabulary asks (BOS once — not
  /// again when the text starts with it — and EOS if asked for); `parseSpecial` turns
  /// special-token text (`<|im_start|>`, `<start_of_turn>`) into those tokens.
  func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [TokenID]
}

extension Tokenizer {
  /// `encode(text, addSpecial: false, parseSpecial: true)`.
  public func encode(_ text: String) -> [TokenID] {
    encode(text, addSpecial: false, parseSpecial: true)
  }
}

extension Vocabulary {
  /// The tokenizer of this vocabulary's kind.
  public var tokenizer: any Tokenizer {
    switch kind {
    case .bytePairs: BPETokenizer(vocabulary: self)
    case .sentencePiece: SentencePieceTokenizer(vocabulary: self)
    }
  }

  /// A piece of text between special tokens, or a special token cut out of it.
  enum Fragment: Equatable {
    case special(TokenID)
    case text(ArraySlice<UInt8>)
  }

  /// Cuts special tokens out of the text, longest text first, as llama.cpp does before
  /// either tokenizer sees it. Works on bytes; special texts are whole UTF-8 strings, so a
  /// match never splits a character.
  func splitSpecials(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
    var fragments: [Fragment] = [.text(bytes[...])]
    for special in textMatchedSpecials
    where special.type.isMatchedInText(parseSpecial: parseSpecial) {
      // Most specials appear nowhere: skip them without touching the fragments.
      guard
        fragments.contains(where: {
          if case .text(let rest) = $0 {
            Self.firstRange(of: special.text, in: rest) != nil
          } else {
            false
          }
        })
      else { continue }
      var next: [Fragment] = []
      next.reserveCapacity(fragments.count + 2)
      for fragment in fragments {
        guard case .text(var rest) = fragment else {
          next.append(fragment)
          continue
        }
        while let range = Self.firstRange(of: special.text, in: rest) {
          if range.lowerBound > rest.startIndex { next.append(.text(rest[..<range.lowerBound])) }
          next.append(.special(special.id))
          rest = rest[range.upperBound...]
        }
        if !rest.isEmpty { next.append(.text(rest)) }
      }
      fragments = next
    }
    return fragments
  }

  /// BOS before and EOS after, as the vocabulary's flags ask; a BOS the text already
  /// starts with (a chat template's `<bos>`) is not doubled.
  func framed(_ ids: [TokenID]) -> [TokenID] {
    var output = ids
    if addBOS, let bos = bosID, output.first != bos { output.insert(bos, at: 0) }
    if addEOS, let eos = eosID { output.append(eos) }
    return output
  }

  private static func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>?
  {
    guard let first = needle.first, haystack.count >= needle.count else { return nil }
    var start = haystack.startIndex
    let last = haystack.endIndex - needle.count
    while start <= last {
      guard let candidate = haystack[start...last].firstIndex(of: first) else { return nil }
      if haystack[candidate..<candidate + needle.count].elementsEqual(needle) {
        return candidate..<candidate + needle.count
      }
      start = candidate + 1
    }
    return nil
  }
}
