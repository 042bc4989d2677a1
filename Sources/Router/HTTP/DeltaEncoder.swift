import Foundation
import NIOCore

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
      "data: {\"id\":\(json(header.id)),\"object\":\"\(object)\",\"created\":\(header.created),"
      + "\"model\":\(json(header.model)),\"choices\":[{"
    if chat {
      before = Array((head + "\"index\":").utf8)
      between = Array(",\"delta\":{\"content\":".utf8)
      after = Array("},\"logprobs\":null,\"finish_reason\":null}]}\n\n".utf8)
    } else {
      before = Array((head + "\"index\":").utf8)
      between = Array(",\"text\":".utf8)
      after = Array(",\"logprobs\":null,\"finish_reason\":null}]}\n\n".utf8)
    }
  }

  /// The whole SSE event for `text` in choice `choice`: the `id` line as given (`id: N\n`, or
  /// empty), `data: {...}` and the blank line.
  func event(id: String = "", choice: Int, text: String, allocator: ByteBufferAllocator)
    -> ByteBuffer
  {
    var buffer = allocator.buffer(
      capacity: id.utf8.count + before.count + after.count + text.utf8.count + 32)
    buffer.writeString(id)
    buffer.writeBytes(before)
    buffer.writeString(String(choice))
    buffer.writeBytes(between)
    Self.writeJSONString(text, to: &buffer)
    buffer.writeBytes(after)
    return buffer
  }

  /// A JSON string literal: quotes, backslashes and control characters escaped, everything
  /// else (slashes, non-ASCII) as UTF-8 — as JSONEncoder writes it with
  /// `.withoutEscapingSlashes`.
  static func writeJSONString(_ text: String, to buffer: inout ByteBuffer) {
    let hex: [UInt8] = Array("0123456789abcdef".utf8)
    buffer.writeInteger(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
      case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
      case 0x0A: buffer.writeStaticString("\\n")
      case 0x0D: buffer.writeStaticString("\\r")
      case 0x09: buffer.writeStaticString("\\t")
      case 0x08: buffer.writeStaticString("\\b")
      case 0x0C: buffer.writeStaticString("\\f")
      case ..<0x20:
        buffer.writeStaticString("\\u00")
        buffer.writeInteger(hex[Int(byte >> 4)])
        buffer.writeInteger(hex[Int(byte & 0xF)])
      default: buffer.writeInteger(byte)
      }
    }
    buffer.writeInteger(UInt8(ascii: "\""))
  }
}
