import Foundation
import Testing

@testable import Router

/// The hand-written per-token event is the JSON JSONEncoder writes for the same chunk.
@Suite struct DeltaEncoderTests {
  static let texts = [
    "plain", "", "quote \" backslash \\ slash / and </script>", "lines\nand\r\ttabs",
    "controls \u{01}\u{08}\u{0C}\u{1F}\u{7F}", "unicode é 中文 🙂 \u{2028}",
  ]
  let header = ResponseHeader(id: "chatcmpl-\"42\"/x", created: 1_700_000_000, model: "a/b\"c")

  func object(_ data: Data) throws -> NSDictionary {
    try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
  }

  func fast(_ encoder: DeltaEncoder, choice: Int, text: String) throws -> NSDictionary {
    try object(Data(encoder.payload(choice: choice, text: text)))
  }

  @Test(arguments: texts) func chatDelta(text: String) throws {
    let reference = ChatCompletionChunk(
      id: header.id, created: header.created, model: header.model,
      choices: [
        .init(index: 3, delta: .init(role: nil, content: text), logprobs: nil, finishReason: nil)
      ], usage: nil)
    let expected = try object(JSONEncoder().encode(reference))
    #expect(try fast(DeltaEncoder(header: header, chat: true), choice: 3, text: text) == expected)
  }

  @Test(arguments: texts) func completionDelta(text: String) throws {
    let reference = Completion(
      id: header.id, created: header.created, model: header.model,
      choices: [.init(text: text, index: 0, logprobs: nil, finishReason: nil)], usage: nil)
    let expected = try object(JSONEncoder().encode(reference))
    #expect(try fast(DeltaEncoder(header: header, chat: false), choice: 0, text: text) == expected)
  }
}
