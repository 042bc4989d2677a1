// The `tojson` filter as jinja2 implements it: `json.dumps(value, sort_keys=True,
// indent=indent)` (ASCII-only output, `", "` / `": "` separators without indent, `","` with),
// then `<`, `>`, `&` and `'` replaced by `\u003c`, `\u003e`, `\u0026`, `\u0027` so the result
// is HTML-safe.

enum TemplateJSON {
  static func encode(_ value: TemplateValue, indent: Int?) -> String {
    var output = ""
    write(value, indent: indent, level: 0, to: &output)
    return output
  }

  private static func write(
    _ value: TemplateValue, indent: Int?, level: Int, to output: inout String
  ) {
    switch value {
    case .none: output += "null"
    case .bool(let flag): output += flag ? "true" : "false"
    case .int(let number): output += String(number)
    case .double(let number):
      if number.isNaN {
        output += "NaN"
      } else if number.isInfinite {
        output += number < 0 ? "-Infinity" : "Infinity"
      } else {
        output += TemplateValue.pythonFloatRepr(number)
      }
    case .string(let text): writeString(text, to: &output)
    case .array(let items):
      writeContainer(
        open: "[", close: "]", count: items.count, indent: indent, level: level,
        to: &output
      ) { index, output in
        write(items[index], indent: indent, level: level + 1, to: &output)
      }
    case .dictionary(let dictionary):
      let keys = dictionary.keys.sorted { a, b in
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
      }
      writeContainer(
        open: "{", close: "}", count: keys.count, indent: indent, level: level,
        to: &output
      ) { index, output in
        writeString(keys[index], to: &output)
        output += ": "
        write(dictionary[keys[index]] ?? .none, indent: indent, level: level + 1, to: &output)
      }
    }
  }

  private static func writeContainer(
    open: String, close: String, count: Int, indent: Int?, level: Int, to output: inout String,
    element: (Int, inout String) -> Void
  ) {
    guard count > 0 else {
      output += open + close
      return
    }
    output += open
    let inner = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) }
    for index in 0..<count {
      if index > 0 { output += indent == nil ? ", " : "," }
      if let inner { output += inner }
      element(index, &output)
    }
    if let indent { output += "\n" + String(repeating: " ", count: indent * level) }
    output += close
  }

  private static func writeString(_ text: String, to output: inout String) {
    output += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": output += "\\\""
      case "\\": output += "\\\\"
      case "\n": output += "\\n"
      case "\r": output += "\\r"
      case "\t": output += "\\t"
      case "\u{08}": output += "\\b"
      case "\u{0C}": output += "\\f"
      case "<", ">", "&", "'": output += "\\u" + TemplateValue.hex(scalar.value, digits: 4)
      default:
        if scalar.value < 0x20 {
          output += "\\u" + TemplateValue.hex(scalar.value, digits: 4)
        } else if scalar.value < 0x80 {
          output.unicodeScalars.append(scalar)
        } else if scalar.value < 0x10000 {
          output += "\\u" + TemplateValue.hex(scalar.value, digits: 4)
        } else {
          let offset = scalar.value - 0x10000
          output += "\\u" + TemplateValue.hex(0xD800 + (offset >> 10), digits: 4)
          output += "\\u" + TemplateValue.hex(0xDC00 + (offset & 0x3FF), digits: 4)
        }
      }
    }
    output += "\""
  }
}
