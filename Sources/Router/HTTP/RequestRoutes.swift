import Core
import Foundation
import Hummingbird
import NIOCore

/// The request-state endpoints: a request's status and text, its event stream resumed after
/// the client's `Last-Event-ID`, and cancellation. A request this router does not hold in
/// memory is read from Redis (request state on); otherwise it is unknown.
enum RequestRoutes {
  static func add(to router: some RouterMethods<BasicRequestContext>, _ serving: ServingContext) {
    router.get("/v1/requests/:id") { request, context in
      await OpenAIResponse.respond { () async throws(APIError) -> Response in
        let (spec, result) = try await find(try id(context), serving)
        return OpenAIResponse.json(RequestBody(spec: spec, result: result))
      }
    }
    router.get("/v1/requests/:id/stream") { request, context in
      await OpenAIResponse.respond { () async throws(APIError) -> Response in
        let id = try id(context)
        let after = try lastEventID(request)
        if let log = serving.requests.find(id) {
          return Streaming.response(log, after: after, serving: serving)
        }
        _ = try await find(id, serving)  // 404 for an unknown id
        return Streaming.stored(
          id: id, after: after, store: serving.requests.journal.store, serving: serving)
      }
    }
    router.post("/v1/requests/:id/cancel") { request, context in
      await OpenAIResponse.respond { () async throws(APIError) -> Response in
        let id = try id(context)
        if let log = serving.requests.find(id) {
          if !log.isEnded { serving.loop.cancel(log.spec.loopID) }
          let result = await log.outcome()
          return OpenAIResponse.json(RequestBody(spec: log.spec, result: result))
        }
        // Not running here: report it as it stands (another router running it stops it only
        // when a client of that router cancels). One nobody runs (its lease lapsed, no router
        // took it yet) is cancelled in Redis.
        let (spec, result) = try await find(id, serving)
        let store = serving.requests.journal.store
        if result.status == .running,
          await serving.offThread({ (try? store.cancelOrphan(id)) ?? false })
        {
          var cancelled = result
          cancelled.status = .cancelled
          return OpenAIResponse.json(RequestBody(spec: spec, result: cancelled))
        }
        guard result.status != .running else {
          throw APIError(
            status: 409,
            message: "Request '\(id)' runs on another router; cancel it there",
            type: "invalid_request_error", param: "id", code: "request_elsewhere")
        }
        return OpenAIResponse.json(RequestBody(spec: spec, result: result))
      }
    }
  }

  static func id(_ context: BasicRequestContext) throws(APIError) -> String {
    guard let id = context.parameters.get("id"), !id.isEmpty else {
      throw .invalid("A request id is required", param: "id")
    }
    return id
  }

  /// The `Last-Event-ID` header: the number of the last event the client has (-1 when absent:
  /// the whole stream).
  static func lastEventID(_ request: Request) throws(APIError) -> Int {
    let field = request.headers.first { $0.name.canonicalName == "last-event-id" }
    guard let text = field?.value else { return -1 }
    guard let number = Int(text.trimmingCharacters(in: .whitespaces)),
      (-1...StoredLimits.maxCount).contains(number)
    else {
      throw .invalid("Last-Event-ID must be an event number (0, 1, 2, …)", param: "Last-Event-ID")
    }
    return number
  }

  static func notFound(_ id: String) -> APIError {
    APIError(
      status: 404, message: "No request '\(id)' (unknown, or its state has expired)",
      type: "invalid_request_error", param: "id", code: "request_not_found")
  }

  /// The request's spec and result, from memory or from Redis.
  static func find(_ id: String, _ serving: ServingContext) async throws(APIError) -> (
    RequestSpec, RequestResult
  ) {
    if let log = serving.requests.find(id) { return (log.spec, log.snapshot) }
    let store = serving.requests.journal.store
    let loaded = await serving.offThread {
      Result { () throws(RequestStateError) in try store.load(id) }
    }
    switch loaded {
    case .success(let stored): return (stored.spec, stored.result)
    case .failure(.notFound): throw notFound(id)
    case .failure(.unavailable(let detail)):
      throw .unavailable("request state cannot be read: \(detail)")
    case .failure(let error):
      Log("requests").error("GET \(id): \(error)")
      throw APIError(
        status: 500, message: "\(error)", type: "server_error", param: nil,
        code: "request_state_damaged")
    }
  }
}

/// `GET /v1/requests/{id}`: the first choice's text, token ids and finish reason at the top
/// (what most clients want), every choice under `choices`.
struct RequestBody: Encodable {
  struct Choice: Encodable {
    let index: Int
    let text: String
    let tokens: [TokenID]
    let finishReason: String?
    enum CodingKeys: String, CodingKey {
      case index, text, tokens
      case finishReason = "finish_reason"
    }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(index, forKey: .index)
      try container.encode(text, forKey: .text)
      try container.encode(tokens, forKey: .tokens)
      try container.encode(finishReason, forKey: .finishReason)
    }
  }
  let id: String
  let object = "request"
  let status: String
  let model: String
  let created: Int
  let text: String
  let tokens: [TokenID]
  let finishReason: String?
  let usage: Usage?
  let error: String?
  let choices: [Choice]

  init(spec: RequestSpec, result: RequestResult) {
    id = spec.id
    status = result.status.rawValue
    model = spec.model
    created = spec.created
    choices = (0..<spec.choices).map { index in
      Choice(
        index: index, text: result.texts[index], tokens: result.tokens[index],
        finishReason: result.reasons[index]?.rawValue)
    }
    text = choices.first?.text ?? ""
    tokens = choices.first?.tokens ?? []
    finishReason = choices.first?.finishReason
    usage = result.usage.map {
      Usage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens)
    }
    error = result.failure?.message
  }

  enum CodingKeys: String, CodingKey {
    case id, object, status, model, created, text, tokens, usage, error, choices
    case finishReason = "finish_reason"
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(object, forKey: .object)
    try container.encode(status, forKey: .status)
    try container.encode(model, forKey: .model)
    try container.encode(created, forKey: .created)
    try container.encode(text, forKey: .text)
    try container.encode(tokens, forKey: .tokens)
    try container.encode(finishReason, forKey: .finishReason)
    try container.encode(usage, forKey: .usage)
    try container.encodeIfPresent(error, forKey: .error)
    try container.encode(choices, forKey: .choices)
  }
}
