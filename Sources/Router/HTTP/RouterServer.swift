import Core
import Foundation
public import Hummingbird
import NIOCore

/// The router's HTTP API on Hummingbird: OpenAI's chat and completion endpoints (plain and
/// SSE streaming), models, health, readiness and metrics. Every failure a client can cause is
/// an OpenAI-shaped 4xx; handlers never crash the process.
public enum RouterServer {
  /// The OpenAPI 3.1 document of this API (Sources/Router/HTTP/openapi.yaml).
  public static let openAPIDocument: String = {
    guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
      let text = try? String(contentsOf: url, encoding: .utf8)
    else { return "openapi: 3.1.0\ninfo: {title: Tessera, version: unknown}\npaths: {}\n" }
    return text
  }()

  public static func makeRouter(_ serving: ServingContext) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.get("/health") { _, _ in json(["status": "ok"]) }
    router.get("/ready") { _, _ in
      let snapshot = serving.loop.snapshot
      if serving.isReady {
        // Serving without a part that is not essential (Redis) is degraded, not down.
        let reasons = await serving.degradedReasons()
        return json(ReadyBody(ready: true, degraded: !reasons.isEmpty, reasons: reasons))
      }
      let reason = snapshot.engineFailed ?? "the model is not loaded yet"
      return json(
        ReadyBody(ready: false, degraded: false, reasons: [reason]), status: .serviceUnavailable)
    }
    router.get("/metrics") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
        body: .init(
          byteBuffer: ByteBuffer(
            string: RouterMetrics.text(
              serving.loop.snapshot, fragments: serving.fragments?.stats,
              journal: serving.requests.journal, redis: serving.redis))))
    }
    // Served with this router's model id as the only valid `model`, so generated clients
    // (and schemathesis) reach past the model check.
    let document = openAPIDocument.replacingOccurrences(
      of: "model: {type: string}",
      with: "model: {type: string, enum: [\"\(serving.options.modelID)\"]}")
    router.get("/openapi.yaml") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "application/yaml"],
        body: .init(byteBuffer: ByteBuffer(string: document)))
    }
    router.get("/v1/cluster") { _, _ in
      json(serving.cluster.report(ready: serving.isReady, workers: serving.loop.snapshot.workers))
    }
    router.get("/v1/models") { request, _ in
      try authorize(request, serving)
      return json(
        ModelList(data: [.init(id: serving.options.modelID, created: serving.created)]))
    }
    for (path, endpoint) in [
      ("/v1/chat/completions", GenerationRequest.Endpoint.chat), ("/v1/completions", .completion),
    ] {
      router.post(RouterPath(stringLiteral: path)) { request, _ in
        let start = Clock.now()
        let response = await respond { () async throws(APIError) -> Response in
          try await generate(request, serving, endpoint: endpoint, start: start)
        }
        RouterMetrics.request(
          endpoint: path, status: Int(response.status.code), seconds: Clock.now() - start)
        return response
      }
    }
    RequestRoutes.add(to: router, serving)
    return router
  }

  struct ReadyBody: Encodable {
    let ready: Bool
    let degraded: Bool
    let reasons: [String]
  }

  // MARK: Generation

  static func generate(
    _ request: Request, _ serving: ServingContext, endpoint: GenerationRequest.Endpoint,
    start: Double
  ) async throws(APIError) -> Response {
    try authorizeOrThrow(request, serving)
    guard serving.isReady else { throw .unavailable("the model is not ready") }
    var request = request
    let body: ByteBuffer
    do {
      body = try await request.collectBody(upTo: serving.options.maxBodyBytes)
    } catch {
      throw .bodyTooLarge(limit: serving.options.maxBodyBytes)
    }
    let (generation, prompt, maxTokens) = try serving.prepare(
      Data(buffer: body), endpoint: endpoint)
    let cached = await serving.cachedPrefix(for: prompt)
    let loopID = serving.newID()
    let spec = RequestSpec(
      id: RequestSpec.responseID(loopID, endpoint: endpoint), loopID: loopID, request: generation,
      created: Int(Date().timeIntervalSince1970), prompt: prompt, maxTokens: maxTokens)
    let journal = serving.requests.journal
    let log = RequestLog(spec: spec, journal: journal, clock: TokenClock(start: start))
    serving.requests.register(log)
    let loop = serving.loop
    loop.submit(
      .init(
        id: loopID, prompt: prompt, request: generation, maxTokens: maxTokens,
        deadline: Clock.now() + serving.options.requestTimeout, events: log,
        checkpoints: journal != nil, fragmentIDs: cached.ids, cachedBlockCount: cached.count,
        cachedBlocks: cached.blocks))
    if generation.stream { return Streaming.response(log, after: -1, serving: serving) }
    log.attach()
    let result = await withTaskCancellationHandler {
      await log.outcome()
    } onCancel: {
      serving.requests.readerLeft(log) { loop.cancel(loopID) }  // the client went away
    }
    _ = log.detach()
    return try Collected.response(result, spec: spec)
  }

  // MARK: Helpers

  static func authorize(_ request: Request, _ serving: ServingContext) throws {
    do {
      try authorizeOrThrow(request, serving)
    } catch {
      throw HTTPError(.unauthorized, message: error.message)
    }
  }

  static func authorizeOrThrow(_ request: Request, _ serving: ServingContext) throws(APIError) {
    guard !serving.options.apiKeys.isEmpty else { return }
    let header = request.headers[.authorization] ?? ""
    guard header.hasPrefix("Bearer "), serving.options.apiKeys.contains(String(header.dropFirst(7)))
    else { throw .unauthorized }
  }

  /// Runs a handler, turning its `APIError` into OpenAI's error response.
  static func respond(_ body: () async throws(APIError) -> Response) async -> Response {
    do {
      return try await body()
    } catch {
      return json(error, status: HTTPResponse.Status(code: error.status))
    }
  }

  static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return Response(
      status: status, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }
}

/// The fields every chunk of a response repeats.
struct ResponseHeader: Sendable {
  let id: String
  let created: Int
  let model: String
}
