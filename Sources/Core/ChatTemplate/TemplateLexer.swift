// Template lexer: splits Jinja source into text and tag tokens, applying whitespace control.
//
// It mirrors jinja2's `Lexer.tokeniter`: newlines are normalised to "\n" and, unless
// `keepTrailingNewline`, one trailing newline is dropped; `{%-`/`{{-`/`{#-` strip all whitespace
// before a tag and `-%}`/`-}}`/`-#}` all whitespace after it; with `trimBlocks` the first newline
// after a block or comment tag is removed; with `lstripBlocks` spaces and tabs from the start of
// a line up to a block or comment tag are removed (`{%+` opts out). Inside tags, `}}`/`%}` only
// end the tag while brackets are balanced, as in jinja2.

/// Turns template source into ``TemplateToken``s.
struct TemplateLexer {
  let scalars: [Unicode.Scalar]
  private let options: ChatTemplateOptions
  private var lineStarts: [Int] = [0]
  var position = 0
  private var tokens: [TemplateToken] = []
  /// Whether the last thing consumed ended with a newline (jinja2's `line_starting`).
  private var lineStarting = true
  private var balancing: [Unicode.Scalar] = []

  init(source: String, options: ChatTemplateOptions) {
    var normalized: [Unicode.Scalar] = []
    normalized.reserveCapacity(source.unicodeScalars.count)
    var previousWasCR = false
    for scalar in source.unicodeScalars {
      if scalar == "\n" && previousWasCR {
        previousWasCR = false
        continue
      }
      previousWasCR = scalar == "\r"
      normalized.append(previousWasCR ? "\n" : scalar)
    }
    if !options.keepTrailingNewline, normalized.last == "\n" { normalized.removeLast() }
    scalars = normalized
    self.options = options
    for (index, scalar) in scalars.enumerated() where scalar == "\n" {
      lineStarts.append(index + 1)
    }
  }

  /// Lexes the whole source.
  mutating func tokenize() throws(ChatTemplateError) -> [TemplateToken] {
    while position < scalars.count {
      guard let tagStart = nextTagStart(from: position) else {
        emitText(position..<scalars.count)
        position = scalars.count
        break
      }
      let opener = scalars[tagStart + 1]
      var afterOpener = tagStart + 2
      var sign: Unicode.Scalar?
      if afterOpener < scalars.count, scalars[afterOpener] == "-" || scalars[afterOpener] == "+" {
        sign = scalars[afterOpener]
        afterOpener += 1
      }
      let rawEnd = opener == "%" ? rawBeginEnd(from: afterOpener) : nil
      emitText(controlledText(position..<tagStart, sign: sign, isVariable: opener == "{"))
      position = afterOpener
      switch opener {
      case "#": try lexComment(start: tagStart)
      case "{": try lexTag(start: tagStart, isBlock: false)
      default:
        if let rawEnd {
          position = rawEnd
          try lexRawBody(start: tagStart)
        } else {
          try lexTag(start: tagStart, isBlock: true)
        }
      }
    }
    tokens.append(TemplateToken(kind: .endOfInput, location: location(of: scalars.count)))
    return tokens
  }

  // MARK: - Text and whitespace control

  private func nextTagStart(from start: Int) -> Int? {
    var index = start
    while index + 1 < scalars.count {
      if scalars[index] == "{" {
        let next = scalars[index + 1]
        if next == "{" || next == "%" || next == "#" { return index }
      }
      index += 1
    }
    return nil
  }

  /// The text before a tag after `-` stripping or `lstripBlocks`.
  private func controlledText(
    _ range: Range<Int>, sign: Unicode.Scalar?, isVariable: Bool
  ) -> Range<Int> {
    if sign == "-" {
      var end = range.upperBound
      while end > range.lowerBound, scalars[end - 1].isPythonWhitespace { end -= 1 }
      return range.lowerBound..<end
    }
    guard sign != "+", options.lstripBlocks, !isVariable else { return range }
    var lineStart = range.upperBound
    while lineStart > range.lowerBound, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
    guard lineStart > range.lowerBound || lineStarting, lineStart < range.upperBound else {
      return range
    }
    let onlyWhitespace = scalars[lineStart..<range.upperBound].allSatisfy(\.isPythonWhitespace)
    return onlyWhitespace ? range.lowerBound..<lineStart : range
  }

  private mutating func emitText(_ range: Range<Int>) {
    guard !range.isEmpty else { return }
    var text = String.UnicodeScalarView()
    text.append(contentsOf: scalars[range])
    tokens.append(
      TemplateToken(kind: .text(String(text)), location: location(of: range.lowerBound)))
  }

  /// Consumes a tag end's trailing whitespace control and records `lineStarting`.
  private mutating func finishTagEnd(strip: Bool, trim: Bool) {
    if strip {
      while position < scalars.count, scalars[position].isPythonWhitespace { position += 1 }
    } else if trim, position < scalars.count, scalars[position] == "\n" {
      position += 1
    }
    lineStarting = position > 0 && scalars[position - 1] == "\n"
  }

  private func hasPrefix(_ literal: String, at index: Int) -> Bool {
    var cursor = index
    for scalar in literal.unicodeScalars {
      guard cursor < scalars.count, scalars[cursor] == scalar else { return false }
      cursor += 1
    }
    return true
  }

  // MARK: - Comments and raw blocks

  private mutating func lexComment(start: Int) throws(ChatTemplateError) {
    var index = position
    while index < scalars.count {
      if hasPrefix("+#}", at: index) || hasPrefix("-#}", at: index) {
        position = index + 3
        finishTagEnd(strip: scalars[index] == "-", trim: false)
        return
      }
      if hasPrefix("#}", at: index) {
        position = index + 2
        finishTagEnd(strip: false, trim: options.trimBlocks)
        return
      }
      index += 1
    }
    throw .syntax("missing end of comment tag", at: location(of: start))
  }

  /// If `{% raw %}` starts here (after `{%` and its sign), the index just past it.
  private func rawBeginEnd(from start: Int) -> Int? {
    var index = skipWhitespace(from: start)
    guard hasPrefix("raw", at: index) else { return nil }
    index = skipWhitespace(from: index + 3)
    if hasPrefix("-%}", at: index) { return skipWhitespace(from: index + 3) }
    return hasPrefix("%}", at: index) ? index + 2 : nil
  }

  private func skipWhitespace(from start: Int) -> Int {
    var index = start
    while index < scalars.count, scalars[index].isPythonWhitespace { index += 1 }
    return index
  }

  private mutating func lexRawBody(start: Int) throws(ChatTemplateError) {
    var index = position
    while index + 1 < scalars.count {
      if scalars[index] == "{", scalars[index + 1] == "%" {
        var cursor = index + 2
        var sign: Unicode.Scalar?
        if cursor < scalars.count, scalars[cursor] == "-" || scalars[cursor] == "+" {
          sign = scalars[cursor]
          cursor += 1
        }
        cursor = skipWhitespace(from: cursor)
        if hasPrefix("endraw", at: cursor) {
          cursor = skipWhitespace(from: cursor + 6)
          let endKind: (length: Int, strip: Bool, trim: Bool)? =
            if hasPrefix("+%}", at: cursor) {
              (3, false, false)
            } else if hasPrefix("-%}", at: cursor) {
              (3, true, false)
            } else if hasPrefix("%}", at: cursor) {
              (2, false, options.trimBlocks)
            } else { nil }
          if let endKind {
            emitText(controlledText(position..<index, sign: sign, isVariable: false))
            position = cursor + endKind.length
            finishTagEnd(strip: endKind.strip, trim: endKind.trim)
            return
          }
        }
      }
      index += 1
    }
    throw .syntax("missing end of raw directive", at: location(of: start))
  }

  // MARK: - Tags

  private mutating func lexTag(start: Int, isBlock: Bool) throws(ChatTemplateError) {
    tokens.append(
      TemplateToken(kind: isBlock ? .blockBegin : .variableBegin, location: location(of: start)))
    balancing.removeAll()
    while position < scalars.count {
      let here = position
      if balancing.isEmpty, try lexTagEnd(isBlock: isBlock) { return }
      let scalar = scalars[here]
      if scalar.isPythonWhitespace {
        position += 1
      } else if scalar.properties.numericType == .decimal, scalar.isASCII {
        try lexNumber()
      } else if scalar == "_" || scalar.properties.isXIDStart {
        var end = here + 1
        while end < scalars.count, scalars[end] == "_" || scalars[end].properties.isXIDContinue {
          end += 1
        }
        append(.name(string(here..<end)), at: here)
        position = end
      } else if scalar == "'" || scalar == "\"" {
        try lexString()
      } else {
        try lexOperator()
      }
    }
    let expected = isBlock ? "'%}'" : "'}}'"
    throw .syntax("unexpected end of template, expected \(expected)", at: location(of: start))
  }

  /// Lexes `%}` / `}}` (with `-`/`+`) if it is next; returns whether it did.
  private mutating func lexTagEnd(isBlock: Bool) throws(ChatTemplateError) -> Bool {
    let here = position
    let closer = isBlock ? "%}" : "}}"
    let kind: TemplateToken.Kind = isBlock ? .blockEnd : .variableEnd
    if hasPrefix("-" + closer, at: here) {
      position += 3
      finishTagEnd(strip: true, trim: false)
    } else if isBlock, hasPrefix("+" + closer, at: here) {
      position += 3
      finishTagEnd(strip: false, trim: false)
    } else if hasPrefix(closer, at: here) {
      position += 2
      finishTagEnd(strip: false, trim: isBlock && options.trimBlocks)
    } else {
      return false
    }
    append(kind, at: here)
    return true
  }

  private static let twoCharacterOperators: Set<String> = ["//", "**", "==", "!=", ">=", "<="]
  private static let oneCharacterOperators = Set("+-/*%~[](){}><=.:|,;".unicodeScalars)

  private mutating func lexOperator() throws(ChatTemplateError) {
    let here = position
    if here + 1 < scalars.count {
      let pair = string(here..<here + 2)
      if Self.twoCharacterOperators.contains(pair) {
        append(.op(pair), at: here)
        position += 2
        return
      }
    }
    let scalar = scalars[here]
    guard Self.oneCharacterOperators.contains(scalar) else {
      throw .syntax("unexpected character '\(scalar)'", at: location(of: here))
    }
    switch scalar {
    case "(": balancing.append(")")
    case "[": balancing.append("]")
    case "{": balancing.append("}")
    case ")", "]", "}":
      guard let expected = balancing.popLast() else {
        throw .syntax("unexpected '\(scalar)'", at: location(of: here))
      }
      guard expected == scalar else {
        throw .syntax("unexpected '\(scalar)', expected '\(expected)'", at: location(of: here))
      }
    default: break
    }
    append(.op(String(scalar)), at: here)
    position += 1
  }

  // MARK: - Helpers

  func string(_ range: Range<Int>) -> String {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars[range])
    return String(view)
  }

  mutating func append(_ kind: TemplateToken.Kind, at index: Int) {
    tokens.append(TemplateToken(kind: kind, location: location(of: index)))
  }

  func location(of index: Int) -> TemplateSourceLocation {
    var low = 0
    var high = lineStarts.count - 1
    while low < high {
      let middle = (low + high + 1) / 2
      if lineStarts[middle] <= index { low = middle } else { high = middle - 1 }
    }
    return TemplateSourceLocation(line: low + 1, column: index - lineStarts[low] + 1)
  }
}

extension Unicode.Scalar {
  /// Python's `str.isspace()` for one code point (Unicode White_Space plus U+001C…U+001F).
  var isPythonWhitespace: Bool {
    properties.isWhitespace || (0x1C...0x1F).contains(value)
  }
}
