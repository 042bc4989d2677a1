// Literal lexing with Python's rules: integers in decimal, 0b/0o/0x with `_` separators; floats
// need a fractional part or an exponent (`1.` is the integer 1 then `.`); strings in either
// quote with Python escapes (`\n`, `\xHH`, `\uHHHH`, octal; unknown escapes are kept).

extension TemplateLexer {
  /// The end of `\d+(_\d+)*` starting at `start`, or `start` if there is no digit.
  private func digitsEnd(from start: Int, isDigit: (Unicode.Scalar) -> Bool) -> Int {
    var index = start
    while index < scalars.count {
      if isDigit(scalars[index]) {
        index += 1
      } else if scalars[index] == "_", index > start, index + 1 < scalars.count,
        isDigit(scalars[index + 1])
      {
        index += 1
      } else {
        break
      }
    }
    return index
  }

  mutating func lexNumber() throws(ChatTemplateError) {
    let here = position
    let decimal: (Unicode.Scalar) -> Bool = { ("0"..."9").contains($0) }
    if scalars[here] == "0", here + 1 < scalars.count {
      let radixes: [Unicode.Scalar: Int] = ["b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16]
      if let radix = radixes[scalars[here + 1]] {
        let isDigit: (Unicode.Scalar) -> Bool = {
          $0.isASCII && Int(String($0), radix: radix) != nil
        }
        var start = here + 2
        if start < scalars.count, scalars[start] == "_" { start += 1 }
        let end = digitsEnd(from: start, isDigit: isDigit)
        if end > start {
          let digits = string(start..<end).filter { $0 != "_" }
          guard let value = Int(digits, radix: radix) else {
            throw .unsupported("integer literal too large", at: location(of: here))
          }
          append(.integer(value), at: here)
          position = end
          return
        }
      }
    }
    var end = digitsEnd(from: here, isDigit: decimal)
    var isFloat = false
    let afterDot = here > 0 && scalars[here - 1] == "."
    if !afterDot, end + 1 < scalars.count, scalars[end] == ".", decimal(scalars[end + 1]) {
      end = digitsEnd(from: end + 1, isDigit: decimal)
      isFloat = true
    }
    if !afterDot, end < scalars.count, scalars[end] == "e" || scalars[end] == "E" {
      var exponentStart = end + 1
      if exponentStart < scalars.count,
        scalars[exponentStart] == "+" || scalars[exponentStart] == "-"
      {
        exponentStart += 1
      }
      let exponentEnd = digitsEnd(from: exponentStart, isDigit: decimal)
      if exponentEnd > exponentStart {
        end = exponentEnd
        isFloat = true
      }
    }
    let text = string(here..<end).filter { $0 != "_" }
    if isFloat {
      guard let value = Double(text) else {
        throw .syntax("invalid float literal", at: location(of: here))
      }
      append(.float(value), at: here)
    } else {
      guard let value = Int(text) else {
        throw .unsupported("integer literal too large", at: location(of: here))
      }
      append(.integer(value), at: here)
    }
    position = end
  }

  mutating func lexString() throws(ChatTemplateError) {
    let here = position
    let quote = scalars[here]
    var index = here + 1
    var value = String.UnicodeScalarView()
    while index < scalars.count, scalars[index] != quote {
      if scalars[index] == "\\", index + 1 < scalars.count {
        index = try appendEscape(at: index, to: &value)
      } else {
        value.append(scalars[index])
        index += 1
      }
    }
    guard index < scalars.count else {
      throw .syntax("unterminated string literal", at: location(of: here))
    }
    append(.string(String(value)), at: here)
    position = index + 1
  }

  /// Decodes the Python escape at `index` (a backslash); returns the index after it.
  private func appendEscape(
    at index: Int, to value: inout String.UnicodeScalarView
  ) throws(ChatTemplateError) -> Int {
    let escaped = scalars[index + 1]
    let simple: [Unicode.Scalar: Unicode.Scalar] = [
      "\\": "\\", "'": "'", "\"": "\"", "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}",
      "n": "\n", "r": "\r", "t": "\t", "v": "\u{0B}",
    ]
    if let replacement = simple[escaped] {
      value.append(replacement)
      return index + 2
    }
    if escaped == "\n" { return index + 2 }
    let hexLength: [Unicode.Scalar: Int] = ["x": 2, "u": 4, "U": 8]
    if let length = hexLength[escaped] {
      let start = index + 2
      guard start + length <= scalars.count,
        let code = UInt32(string(start..<start + length), radix: 16),
        let scalar = Unicode.Scalar(code)
      else {
        throw .syntax("invalid \\\(escaped) escape in string literal", at: location(of: index))
      }
      value.append(scalar)
      return start + length
    }
    if ("0"..."7").contains(escaped) {
      var end = index + 1
      while end < scalars.count, end < index + 4, ("0"..."7").contains(scalars[end]) { end += 1 }
      if let code = UInt32(string(index + 1..<end), radix: 8), let scalar = Unicode.Scalar(code) {
        value.append(scalar)
      }
      return end
    }
    if escaped == "N" {
      throw .unsupported("\\N{…} escape in string literal", at: location(of: index))
    }
    value.append("\\")
    value.append(escaped)
    return index + 2
  }
}
