import Core
import Foundation

/// Turns a request's events into the payloads of its SSE events — the JSON of each `data:`
/// line, in OpenAI's chunk format — once, so that the first response, a resumed stream and
/// Redis all carry the same bytes. Numbering and framing are the reader's.
struct EventEncoder {
  /// The payload that ends every stream.
  static let done = Array("[DONE]".utf8)

  let header: ResponseHeader
  let chat: Bool
  let wantsLogprobs: Bool
  let includeUsage: Bool
  private let deltas: DeltaEncoder
  private let json: JSONEncoder
  /// Per choice, the length of the logprob entries' texts so far (completion offsets).
  var logprobOffsets: [Int]

  init(spec: RequestSpec) {
    header = ResponseHeader(id: spec.id, created: spec.created, model: spec.model)
    chat = spec.endpoint == .chat
    wantsLogprobs = spec.logprobs != nil
    includeUsage = spec.includeUsage
    deltas = DeltaEncoder(header: header, chat: chat)
    json = JSONEncoder()
    json.outputFormatting = [.withoutEscapingSlashes]
    logprobOffsets = [Int](repeating: 0, count: spec.choices)
  }

  /// The events a stream opens with: a chat stream's role chunk per choice.
  func opening(choices: Int) -> [[UInt8]] {
    guard chat else { return [] }
    return (0..<choices).map { index in
      chatChunk([
        .init(
          index: index, delta: .init(role: "assistant", content: ""), logprobs: nil,
          finishReason: nil)
      ])
    }
  }

  /// Appends the payloads of one event of the serving loop (a checkpoint has none).
  mutating func append(_ event: GenerationEvent, to payloads: inout [[UInt8]]) {
    switch event {
    case .delta(let choice, let text, let entries):
      if !wantsLogprobs {
        payloads.append(deltas.payload(choice: choice, text: text))  // the one per token
      } else if chat {
        payloads.append(
          chatChunk([
            .init(
              index: choice, delta: .init(role: nil, content: text),
              logprobs: ChatLogprobs(entries), finishReason: nil)
          ]))
      } else {
        // Offsets count the entries' texts, as the non-streaming response does.
        let known = choice < logprobOffsets.count
        let logprobs =
          known ? CompletionLogprobs(entries, startOffset: logprobOffsets[choice]) : nil
        if known { logprobOffsets[choice] += entries.reduce(0) { $0 + $1.text.count } }
        payloads.append(
          completionChunk([.init(text: text, index: choice, logprobs: logprobs, finishReason: nil)])
        )
      }
    case .finished(let choice, let reason, _):
      payloads.append(
        chat
          ? chatChunk([
            .init(
              index: choice, delta: .init(role: nil, content: nil), logprobs: nil,
              finishReason: reason.rawValue)
          ])
          : completionChunk([
            .init(text: "", index: choice, logprobs: nil, finishReason: reason.rawValue)
          ]))
    case .done(let prompt, let generated):
      if includeUsage {
        let usage = Usage(promptTokens: prompt, completionTokens: generated)
        payloads.append(chat ? chatChunk([], usage: usage) : completionChunk([], usage: usage))
      }
      payloads.append(Self.done)
    case .failed(let error):
      payloads += [encode(APIError(error).body), Self.done]
    case .checkpoint:
      break
    }
  }

  private func chatChunk(_ choices: [ChatCompletionChunk.Choice], usage: Usage? = nil) -> [UInt8] {
    encode(
      ChatCompletionChunk(
        id: header.id, created: header.created, model: header.model, choices: choices,
        usage: usage))
  }

  private func completionChunk(_ choices: [Completion.Choice], usage: Usage? = nil) -> [UInt8] {
    encode(
      Completion(
        id: header.id, created: header.created, model: header.model, choices: choices,
        usage: usage))
  }

  private func encode(_ value: some Encodable) -> [UInt8] {
    (try? json.encode(value)).map(Array.init) ?? Array("{}".utf8)
  }
}
