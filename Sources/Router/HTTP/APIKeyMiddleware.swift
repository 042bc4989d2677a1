import Hummingbird

/// Requires `Authorization: Bearer KEY` with one of `keys` (none configured: every request
/// passes). A missing or wrong key gets OpenAI's 401, before the handler runs.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
  let keys: Set<String>

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    guard !keys.isEmpty else { return try await next(request, context) }
    let header = request.headers[.authorization] ?? ""
    guard header.hasPrefix("Bearer "), keys.contains(String(header.dropFirst(7))) else {
      return OpenAIResponse.json(APIError.unauthorized, status: .unauthorized)
    }
    return try await next(request, context)
  }
}
