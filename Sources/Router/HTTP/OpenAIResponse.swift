import Foundation
import Hummingbird
import NIOCore

/// Responses in the API's shapes: a handler's `APIError` becomes OpenAI's error body with its
/// status; values become JSON.
enum OpenAIResponse {
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
