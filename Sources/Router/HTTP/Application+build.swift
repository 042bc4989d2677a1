public import ContextCache
public import Core
import Foundation
public import Hummingbird
public import HummingbirdCore
public import RedisClient
import ServiceLifecycle

/// Everything the router is made of, as values: what `tessera router` and `tessera up` read
/// from their flags, and what tests build directly.
public struct RouterConfiguration: Sendable {
  public var host = "127.0.0.1"
  /// 0: any free port.
  public var port = 8080
  public var intake: RequestIntake.Limits
  public var limits: Scheduler.Limits
  public var maxBodyBytes = 1 << 20
  /// Accepted bearer keys; empty: no authentication.
  public var apiKeys: Set<String> = []
  /// Seconds a request whose readers went away keeps running (with request state).
  public var resumeGrace: Double = 30
  /// Request state: in `redis` when there is one, else in this process.
  public var journal = RequestJournal.Options(owner: "this-process")
  public var redis: RedisClient?
  public var fragments: FragmentCache?
  /// The plan the workers run, for `/v1/cluster` (nil: one process).
  public var plan: PartitionPlan?
  /// What request deadlines and leases are measured against (tests move a `ManualClock`).
  public var clock: any TimeSource = SystemClock()
  /// Seconds requests wait for a worker plan (after workers were lost) before they fail.
  public var recoveryTimeout: Double = 60
  /// HTTP/1.1 in plaintext, or over TLS (`HTTPSServer.builder(certificate:key:)`).
  public var server: HTTPServerBuilder = .http1()
  /// Where the workers are, for `/v1/cluster`'s `mode`.
  public var workersAreRemote = false

  public init(intake: RequestIntake.Limits, limits: Scheduler.Limits) {
    self.intake = intake
    self.limits = limits
  }
}

/// The router as a value: the HTTP API (routes and middleware), the serving loop and the
/// request journal as services of one `ServiceGroup`, over the engine `factory` builds (and
/// the serving loop `given`, for a test that watches it).
/// `onServerRunning` gets the bound port (port 0 picks one). Run it with `runService()`, or
/// test it in process with HummingbirdTesting's `app.test(.router)`.
public func buildApplication(
  _ configuration: RouterConfiguration, tokenizer: any Tokenizer, formatter: ChatFormatter?,
  contextLength: Int, engine factory: EngineFactory, loop given: ServingLoop? = nil,
  onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
  let clock = configuration.clock
  let loop = given ?? ServingLoop(clock: clock, recoveryTimeout: configuration.recoveryTimeout)
  let intake = RequestIntake(
    limits: configuration.intake, tokenizer: tokenizer, formatter: formatter,
    contextLength: contextLength, fragments: configuration.fragments,
    workersHoldTheModel: configuration.plan != nil, clock: clock)
  let journal =
    configuration.redis.map {
      RequestJournal(redis: $0, options: configuration.journal, clock: clock)
    } ?? .inMemory(options: configuration.journal, clock: clock)
  let registry = RequestRegistry(journal: journal, grace: configuration.resumeGrace)
  let serving = ServingContext(
    intake: intake, loop: loop, maxBodyBytes: configuration.maxBodyBytes,
    cluster: ClusterInfo(plan: configuration.plan, remote: configuration.workersAreRemote),
    redis: configuration.redis,
    requests: registry)
  var services: [any Service] = [
    JournalService(
      journal: journal,
      takeover: RequestTakeover(journal: journal, registry: registry, intake: intake, loop: loop))
  ]
  services.append(
    ServingService(
      loop: loop, factory: factory, vocabulary: tokenizer.vocabulary, limits: configuration.limits,
      fragments: configuration.fragments, ready: { [serving] in serving.markReady($0) }))
  let port = configuration.port
  return Application(
    router: makeRouter(serving, apiKeys: configuration.apiKeys),
    server: configuration.server,
    configuration: .init(
      address: .hostname(configuration.host, port: port), serverName: "tessera"),
    services: services,
    onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) })
}

/// The routes: operations open, the OpenAI API behind the API keys, the generation routes
/// also counted and timed (refusals for a missing key included).
func makeRouter(_ serving: ServingContext, apiKeys: Set<String>) -> Router<BasicRequestContext> {
  let router = Router(context: BasicRequestContext.self)
  OperationsRoutes.addOpen(to: router, serving)
  let api = router.group().add(middleware: APIKeyMiddleware(keys: apiKeys))
  OperationsRoutes.addModels(to: api, serving)
  RequestRoutes.add(to: api, serving)
  let generation = router.group().add(middleware: RequestMetricsMiddleware())
    .add(middleware: APIKeyMiddleware(keys: apiKeys))
  GenerationRoutes.add(to: generation, serving)
  return router
}
