/// An error a client sees, in OpenAI's shape:
/// `{"error": {"message": …, "type": …, "param": …, "code": …}}`. Client mistakes are 4xx,
/// never 5xx.
public struct APIError: Error, Sendable, Equatable, Encodable, CustomStringConvertible {
  public var status: Int
  public var message: String
  public var type: String
  public var param: String?
  public var code: String?

  public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil)
  {
    self.status = status
    self.message = message
    self.type = type
    self.param = param
    self.code = code
  }

  public static func invalid(_ message: String, param: String? = nil, code: String? = nil)
    -> APIError
  {
    APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
  }

  public static func unsupported(_ param: String) -> APIError {
    .invalid(
      "'\(param)' is not supported by this server; it would change the output", param: param,
      code: "unsupported_parameter")
  }

  public static func modelNotFound(_ model: String) -> APIError {
    APIError(
      status: 404, message: "The model '\(model)' does not exist", type: "invalid_request_error",
      param: "model", code: "model_not_found")
  }

  public static func contextLengthExceeded(tokens: Int, limit: Int) -> APIError {
    .invalid(
      "This model's maximum context length is \(limit) tokens; the request needs \(tokens)",
      param: "messages", code: "context_length_exceeded")
  }

  public static let unauthorized = APIError(
    status: 401, message: "Incorrect or missing API key", type: "invalid_request_error",
    code: "invalid_api_key")

  public static func bodyTooLarge(limit: Int) -> APIError {
    APIError(
      status: 413, message: "The request body exceeds \(limit) bytes",
      type: "invalid_request_error", code: "request_too_large")
  }

  public static let queueFull = APIError(
    status: 429, message: "The server is at capacity; retry later", type: "rate_limit_error",
    code: "queue_full")

  public static func unavailable(_ reason: String) -> APIError {
    APIError(status: 503, message: reason, type: "server_error", code: "service_unavailable")
  }

  public static let timeout = APIError(
    status: 504, message: "The request timed out", type: "server_error", code: "timeout")

  public var description: String { "\(status) \(code ?? type): \(message)" }

  /// The body: `{"error": {…}}`.
  public var body: Body {
    Body(error: Detail(message: message, type: type, param: param, code: code))
  }

  public struct Body: Encodable, Sendable {
    public let error: Detail
  }

  public struct Detail: Encodable, Sendable {
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?

    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(message, forKey: .message)
      try container.encode(type, forKey: .type)
      try container.encode(param, forKey: .param)  // null when absent, as OpenAI sends it
      try container.encode(code, forKey: .code)
    }

    enum CodingKeys: String, CodingKey { case message, type, param, code }
  }

  public func encode(to encoder: any Encoder) throws { try body.encode(to: encoder) }
}
