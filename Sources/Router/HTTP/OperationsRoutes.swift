import Core
import Foundation
import Hummingbird
import NIOCore

/// What orchestrators and operators read: `/health`, `/ready`, `/metrics`, `/openapi.yaml`,
/// `/v1/cluster` (all open), and `/v1/models` (behind the API keys, as OpenAI's is).
enum OperationsRoutes {
  /// The OpenAPI 3.1 document of this API (Sources/Router/HTTP/openapi.yaml).
  static let openAPIDocument: String = {
    guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
      let text = try? String(contentsOf: url, encoding: .utf8)
    else { return "openapi: 3.1.0\ninfo: {title: Tessera, version: unknown}\npaths: {}\n" }
    return text
  }()

  static func addOpen(to router: Router<BasicRequestContext>, _ serving: ServingContext) {
    router.get("/health") { _, _ in OpenAIResponse.json(["status": "ok"]) }
    router.get("/ready") { _, _ in
      if serving.isReady {
        // Serving without a part that is not essential (Redis) is degraded, not down.
        let reasons = await serving.degradedReasons()
        return OpenAIResponse.json(
          ReadyBody(ready: true, degraded: !reasons.isEmpty, reasons: reasons))
      }
      let snapshot = serving.loop.snapshot
      let reason = snapshot.recovering ?? snapshot.engineFailed ?? "the model is not loaded yet"
      return OpenAIResponse.json(
        ReadyBody(ready: false, degraded: false, reasons: [reason]), status: .serviceUnavailable)
    }
    router.get("/metrics") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
        body: .init(
          byteBuffer: ByteBuffer(
            string: MetricsPage.text(
              serving.loop.snapshot, fragments: serving.fragments?.stats,
              journal: serving.requests.journal.isDurable ? serving.requests.journal : nil,
              redis: serving.redis))))
    }
    // Served with this router's model id as the only valid `model`, so generated clients
    // (and schemathesis) reach past the model check.
    let document = openAPIDocument.replacingOccurrences(
      of: "model: {type: string}",
      with: "model: {type: string, enum: [\"\(serving.modelID)\"]}")
    router.get("/openapi.yaml") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "application/yaml"],
        body: .init(byteBuffer: ByteBuffer(string: document)))
    }
    router.get("/v1/cluster") { _, _ in
      let snapshot = serving.loop.snapshot
      return OpenAIResponse.json(
        serving.cluster.report(
          ready: serving.isReady, workers: snapshot.workers, status: snapshot.cluster))
    }
  }

  static func addModels(
    to router: some RouterMethods<BasicRequestContext>, _ serving: ServingContext
  ) {
    router.get("/v1/models") { _, _ in
      OpenAIResponse.json(ModelList(data: [.init(id: serving.modelID, created: serving.created)]))
    }
  }

  struct ReadyBody: Encodable {
    let ready: Bool
    let degraded: Bool
    let reasons: [String]
  }
}
