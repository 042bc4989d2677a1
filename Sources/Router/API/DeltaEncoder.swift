import Foundation

/// Writes the one event a stream sends per token — a text delta without log-probabilities —
/// straight into bytes: the same JSON JSONEncoder gives for that chunk, without building and
/// encoding a chunk value each time. The fixed parts are encoded once per response.
/// Every other event (role, finish, usage, logprobs, errors) goes through JSONEncoder.
struct DeltaEncoder {
  private let before: [UInt8]
  private let between: [UInt8]
  private let after: [UInt8]

  /// - Parameters:
  ///   - header: The response's id, creation time and model, JSON-escaped here once.
  ///   - chat: Chat chunks (`delta.content`) or completion chunks (`text`).
  init(header: ResponseHeader, chat: Bool) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    func json(_ string: String) -> String {
      (try? encoder.encode(string)).flatMap { String(bytes: $0, encoding: .utf8) } ?? "\"\""
    }
    let object = chat ? "chat.completion.chunk" : "text_completion"
    let head =
      "{\"id\":\(json(header.id)),\"object\":\"\(object)\",\"created\":\(header.created),"
      + "\"model\":\(json(header.model)),\"choices\":[{"
    if chat {
      before = Array((head + "\"index\":").utf8)
      between = Array(",\"delta\":{\"content\":".utf8)
      after = Array("},\"logprobs\":null,\"finish_reason\":null}]}".utf8)
    } else {
      before = Array((head + "\"index\":").utf8)
      between = Array(",\"text\":".utf8)
      after = Array(",\"logprobs\":null,\"finish_reason\":null}]}".utf8)
    }
  }

  /// The chunk for `text` in choice `choice`: the JSON of the SSE event's `data:` line.
  func payload(choice: Int, text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(before.count + after.count + text.utf8.count + 32)
    bytes += before
    bytes += String(choice).utf8
    bytes += between
    Self.writeJSONString(text, to: &bytes)
    bytes += after
    return bytes
  }

  /// A JSON string literal: quotes, backslashes and control characters escaped, everything
  /// else (slashes, non-ASCII) as UTF-8 — as JSONEncoder writes it with
  /// `.withoutEscapingSlashes`.
  private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

  static func writeJSONString(_ text: String, to bytes: inout [UInt8]) {
    let backslash = UInt8(ascii: "\\")
    bytes.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""), backslash: bytes += [backslash, byte]
      case 0x0A: bytes += [backslash, UInt8(ascii: "n")]
      case 0x0D: bytes += [backslash, UInt8(ascii: "r")]
      case 0x09: bytes += [backslash, UInt8(ascii: "t")]
      case 0x08: bytes += [backslash, UInt8(ascii: "b")]
      case 0x0C: bytes += [backslash, UInt8(ascii: "f")]
      case ..<0x20:
        bytes += [backslash, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
        bytes += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
      default: bytes.append(byte)
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }
}
