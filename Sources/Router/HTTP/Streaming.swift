import Core
import Foundation
import Hummingbird
import NIOCore

/// A request's events as a server-sent-events response in OpenAI's format: `data: {chunk}`
/// events, then `data: [DONE]`, each with an `id:` field numbering the request's events 0, 1,
/// 2, … — what a resuming client sends back as `Last-Event-ID`. The first response and every
/// resumed stream are written here, from the event after `after` to the end. Events that an
/// earlier owner of the request wrote (before this router took it over) come from Redis.
///
/// When the client goes away, the write fails and the reader leaves the request; the request
/// is cancelled (its KV blocks freed) at once without request state, or after the grace period
/// if nobody resumes it.
enum Streaming {
  static let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

  static func response(_ request: RequestLog, after: Int, serving: ServingContext) -> Response {
    request.attach()
    let loop = serving.loop
    let loopID = request.spec.loopID
    return Response(
      status: .ok, headers: headers,
      body: ResponseBody { writer in
        do {
          var last = after
          while true {
            let batch = await request.read(after: last)
            if batch.first > last + 1 {
              let store = serving.requests.journal.store
              let id = request.spec.id
              let from = last + 1
              let earlier = await serving.offThread {
                Result { () throws(RequestStateError) in
                  try store.events(id, from: from, to: batch.first)
                }
              }
              var buffer = ByteBuffer()
              for event in try earlier.get() where event.number > last {
                appendFrame(event.number, event.payload, to: &buffer)
                last = event.number
              }
              if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
            var buffer = ByteBuffer()
            for (offset, payload) in batch.payloads.enumerated() {
              appendFrame(batch.first + offset, payload, to: &buffer)
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
            last = batch.first + batch.payloads.count - 1
            if batch.ended { break }
          }
          try await writer.finish(nil)
          _ = request.detach()
        } catch {
          serving.requests.readerLeft(request) { loop.cancel(loopID) }
          throw error
        }
      })
  }

  /// A stream of a request this router does not run (another router does, or it ended and is
  /// no longer in memory): the events from Redis, polled until the last.
  static func stored(
    id: String, after: Int, store: any RequestStore, serving: ServingContext
  ) -> Response {
    Response(
      status: .ok, headers: headers,
      body: ResponseBody { writer in
        var last = after
        var idleSince = SystemClock.now()
        var ending = false
        while true {
          let from = last + 1
          let events = try await serving.offThread {
            Result { () throws(RequestStateError) in try store.events(id, from: from) }
          }.get()
          var buffer = ByteBuffer()
          for event in events where event.number > last {
            appendFrame(event.number, event.payload, to: &buffer)
            last = event.number
            idleSince = SystemClock.now()
            ending = ending || event.payload == EventEncoder.done
          }
          if buffer.readableBytes > 0 { try await writer.write(buffer) }
          // It ended: `[DONE]` came, or the status said so and its last events are now written.
          if ending { return try await writer.finish(nil) }
          // The request may have come to this router in the meantime.
          if let request = serving.requests.find(id) {
            let rest = response(request, after: last, serving: serving)
            return try await rest.body.write(writer)
          }
          // An ended request: read its events once more (the status is written with the last).
          let status = await serving.offThread { try? store.status(id) }
          ending =
            status != .running
            || SystemClock.now() - idleSince > serving.intake.limits.requestTimeout
          if !ending { try await Task.sleep(for: .milliseconds(100)) }
        }
      })
  }

  /// One SSE event: `id: N`, `data: payload`, a blank line.
  static func appendFrame(_ number: Int, _ payload: [UInt8], to buffer: inout ByteBuffer) {
    buffer.writeString("id: ")
    buffer.writeString(String(number))
    buffer.writeString("\ndata: ")
    buffer.writeBytes(payload)
    buffer.writeString("\n\n")
  }
}
