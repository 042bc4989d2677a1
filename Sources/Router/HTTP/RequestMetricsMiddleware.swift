import Core
import Hummingbird

/// Counts each request of the routes it wraps by path and status, and times it
/// (`tessera_requests_total`, `tessera_request_duration_seconds`; a stream is timed until
/// its response starts).
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    let start = SystemClock.now()
    let response = try await next(request, context)
    RouterMetrics.request(
      endpoint: request.uri.path, status: Int(response.status.code),
      seconds: SystemClock.now() - start)
    return response
  }
}
