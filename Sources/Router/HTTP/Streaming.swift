import Core
import Foundation
import Hummingbird
import NIOCore

/// A streaming response in OpenAI's server-sent-events format: `data: {chunk}` events, then
/// `data: [DONE]`, each with an `id:` field numbering the request's events 0, 1, 2, … (what a
/// resuming client will send back as `Last-Event-ID`). If the client goes away, the write fails, the event stream is dropped and
/// the request is cancelled (its KV blocks are freed).
enum Streaming {
  static func response(
    _ events: AsyncStream<GenerationEvent>, header: ResponseHeader, request: GenerationRequest,
    endpoint: GenerationRequest.Endpoint, clock: TokenClock
  ) -> Response {
    Response(
      status: .ok,
      headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
      body: ResponseBody { writer in
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var eventID = 0
        /// `id: N` and the next number.
        func nextID() -> String {
          defer { eventID += 1 }
          return "id: \(eventID)\n"
        }
        func send(_ value: some Encodable) async throws {
          let data = try encoder.encode(value)
          var buffer = ByteBuffer(string: nextID() + "data: ")
          buffer.writeBytes(data)
          buffer.writeString("\n\n")
          try await writer.write(buffer)
        }
        func chat(_ choices: [ChatCompletionChunk.Choice], usage: Usage? = nil) async throws {
          try await send(
            ChatCompletionChunk(
              id: header.id, created: header.created, model: header.model, choices: choices,
              usage: usage))
        }
        func completion(_ choices: [Completion.Choice], usage: Usage? = nil) async throws {
          try await send(
            Completion(
              id: header.id, created: header.created, model: header.model, choices: choices,
              usage: usage))
        }
        let wantsLogprobs = request.logprobs != nil
        let deltas = DeltaEncoder(header: header, chat: endpoint == .chat)
        var offsets = [Int](repeating: 0, count: request.choices)
        var clock = clock
        if endpoint == .chat {
          for index in 0..<request.choices {
            try await chat([
              .init(
                index: index, delta: .init(role: "assistant", content: ""), logprobs: nil,
                finishReason: nil)
            ])
          }
        }
        for await event in events {
          switch event {
          case .delta(let choice, let text, let entries):
            clock.tokensArrived()
            if !wantsLogprobs {
              try await writer.write(
                deltas.event(
                  id: nextID(), choice: choice, text: text, allocator: ByteBufferAllocator()))
            } else if endpoint == .chat {
              try await chat([
                .init(
                  index: choice, delta: .init(role: nil, content: text),
                  logprobs: ChatLogprobs(entries), finishReason: nil)
              ])
            } else {
              // Offsets count the entries' texts, as the non-streaming response does.
              let logprobs =
                choice < offsets.count
                ? CompletionLogprobs(entries, startOffset: offsets[choice]) : nil
              if choice < offsets.count {
                offsets[choice] += entries.reduce(0) { $0 + $1.text.count }
              }
              try await completion([
                .init(text: text, index: choice, logprobs: logprobs, finishReason: nil)
              ])
            }
          case .finished(let choice, let reason, _):
            if endpoint == .chat {
              try await chat([
                .init(
                  index: choice, delta: .init(role: nil, content: nil), logprobs: nil,
                  finishReason: reason.rawValue)
              ])
            } else {
              try await completion([
                .init(text: "", index: choice, logprobs: nil, finishReason: reason.rawValue)
              ])
            }
          case .done(let prompt, let generated):
            guard request.includeUsage else { break }
            let usage = Usage(promptTokens: prompt, completionTokens: generated)
            if endpoint == .chat {
              try await chat([], usage: usage)
            } else {
              try await completion([], usage: usage)
            }
          case .failed(let error):
            try await send(error.body)
          }
        }
        try await writer.write(ByteBuffer(string: nextID() + "data: [DONE]\n\n"))
        try await writer.finish(nil)
      })
  }
}
