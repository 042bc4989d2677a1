import Core
import Foundation
import Hummingbird
import NIOCore

/// `POST /v1/chat/completions` and `POST /v1/completions`: the body goes through the intake,
/// the submission to the serving loop, and the request's log answers — as SSE, or gathered
/// into one response.
enum GenerationRoutes {
  static func add(to router: some RouterMethods<BasicRequestContext>, _ serving: ServingContext) {
    for (path, endpoint) in [
      ("/v1/chat/completions", RequestSpec.Endpoint.chat), ("/v1/completions", .completion),
    ] {
      router.post(RouterPath(stringLiteral: path)) { request, _ in
        let start = SystemClock.now()
        return await OpenAIResponse.respond { () async throws(APIError) -> Response in
          try await generate(request, serving, endpoint: endpoint, start: start)
        }
      }
    }
  }

  static func generate(
    _ request: Request, _ serving: ServingContext, endpoint: RequestSpec.Endpoint, start: Double
  ) async throws(APIError) -> Response {
    guard serving.acceptsRequests else { throw .unavailable("the model is not ready") }
    var request = request
    let body: ByteBuffer
    do {
      body = try await request.collectBody(upTo: serving.maxBodyBytes)
    } catch {
      throw .bodyTooLarge(limit: serving.maxBodyBytes)
    }
    let intake = serving.intake
    let spec = try intake.spec(from: Data(buffer: body), endpoint: endpoint)
    let prefix =
      intake.fragments == nil
      ? .none : await serving.offThread { intake.cachedPrefix(for: spec.prompt) }
    let journal = serving.requests.journal
    let log = RequestLog(spec: spec, journal: journal, clock: TokenClock(start: start))
    serving.requests.register(log)
    let loop = serving.loop
    loop.submit(intake.submission(spec, events: log, prefix: prefix, checkpoints: true))
    if spec.stream { return Streaming.response(log, after: -1, serving: serving) }
    log.attach()
    let result = await withTaskCancellationHandler {
      await log.outcome()
    } onCancel: {
      serving.requests.readerLeft(log) { loop.cancel(spec.loopID) }  // the client went away
    }
    _ = log.detach()
    return try Collected.response(result, spec: spec)
  }
}
