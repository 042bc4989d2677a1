// Python `str` methods that Jinja templates lean on, over Unicode scalars as Python counts them.

enum TemplateText {
  /// `str.strip(chars)` / `lstrip` / `rstrip`; `chars == nil` strips Python whitespace.
  static func strip(
    _ text: String, characters: String?, leading: Bool = true, trailing: Bool = true
  ) -> String {
    let set = characters.map { Set($0.unicodeScalars) }
    let strippable: (Unicode.Scalar) -> Bool = { scalar in
      set.map { $0.contains(scalar) } ?? scalar.isPythonWhitespace
    }
    let scalars = Array(text.unicodeScalars)
    var start = 0
    var end = scalars.count
    if leading { while start < end, strippable(scalars[start]) { start += 1 } }
    if trailing { while end > start, strippable(scalars[end - 1]) { end -= 1 } }
    return string(scalars[start..<end])
  }

  static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars)
    return String(view)
  }

  /// `str.split(separator, maxsplit)`; `separator == nil` splits on whitespace runs.
  static func split(_ text: String, separator: String?, maxSplits: Int) -> [String] {
    let scalars = Array(text.unicodeScalars)
    var parts: [String] = []
    guard let separator else {
      var index = 0
      while true {
        while index < scalars.count, scalars[index].isPythonWhitespace { index += 1 }
        if index == scalars.count { break }
        if maxSplits >= 0, parts.count == maxSplits {
          var end = scalars.count
          while end > index, scalars[end - 1].isPythonWhitespace { end -= 1 }
          parts.append(string(scalars[index..<end]))
          break
        }
        let start = index
        while index < scalars.count, !scalars[index].isPythonWhitespace { index += 1 }
        parts.append(string(scalars[start..<index]))
      }
      return parts
    }
    let needle = Array(separator.unicodeScalars)
    var start = 0
    var index = 0
    while index + needle.count <= scalars.count, maxSplits < 0 || parts.count < maxSplits {
      if scalars[index..<index + needle.count].elementsEqual(needle) {
        parts.append(string(scalars[start..<index]))
        index += needle.count
        start = index
      } else {
        index += 1
      }
    }
    parts.append(string(scalars[start...]))
    return parts
  }

  /// `str.replace(old, new, count)`.
  static func replace(_ text: String, _ old: String, _ new: String, count: Int) -> String {
    let scalars = Array(text.unicodeScalars)
    let needle = Array(old.unicodeScalars)
    var result = String.UnicodeScalarView()
    var replaced = 0
    var index = 0
    if needle.isEmpty {
      for scalar in scalars {
        if count < 0 || replaced < count {
          result.append(contentsOf: new.unicodeScalars)
          replaced += 1
        }
        result.append(scalar)
      }
      if count < 0 || replaced < count { result.append(contentsOf: new.unicodeScalars) }
      return String(result)
    }
    while index < scalars.count {
      if count < 0 || replaced < count, index + needle.count <= scalars.count,
        scalars[index..<index + needle.count].elementsEqual(needle)
      {
        result.append(contentsOf: new.unicodeScalars)
        index += needle.count
        replaced += 1
      } else {
        result.append(scalars[index])
        index += 1
      }
    }
    return String(result)
  }

  /// Jinja's `title` filter: upper-cases the first letter after `-`, whitespace, `(`, `{`,
  /// `[` or `<`, lower-cases the rest.
  static func title(_ text: String) -> String {
    let isSeparator: (Unicode.Scalar) -> Bool = {
      $0.isPythonWhitespace || "-({[<".unicodeScalars.contains($0)
    }
    var result = ""
    var run = String.UnicodeScalarView()
    var runIsSeparator: Bool?
    for scalar in text.unicodeScalars {
      if runIsSeparator != isSeparator(scalar) {
        result += capitalize(String(run))
        run = String.UnicodeScalarView()
        runIsSeparator = isSeparator(scalar)
      }
      run.append(scalar)
    }
    return result + capitalize(String(run))
  }

  /// `str.capitalize()`.
  static func capitalize(_ text: String) -> String {
    guard let first = text.unicodeScalars.first else { return "" }
    return String(first).uppercased() + string(text.unicodeScalars.dropFirst()).lowercased()
  }

  /// `str.splitlines()`.
  static func splitLines(_ text: String) -> [String] {
    let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
    let scalars = Array(text.unicodeScalars)
    var lines: [String] = []
    var start = 0
    var index = 0
    while index < scalars.count {
      if breaks.contains(scalars[index].value) {
        lines.append(string(scalars[start..<index]))
        if scalars[index] == "\r", index + 1 < scalars.count, scalars[index + 1] == "\n" {
          index += 1
        }
        start = index + 1
      }
      index += 1
    }
    if start < scalars.count { lines.append(string(scalars[start...])) }
    return lines
  }

  /// Markupsafe's HTML escape, as the `escape` filter applies it.
  static func htmlEscape(_ text: String) -> String {
    var result = ""
    for character in text.unicodeScalars {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&#34;"
      case "'": result += "&#39;"
      default: result.unicodeScalars.append(character)
      }
    }
    return result
  }
}
