public import RedisClient
public import Transport

/// How a worker is started (`tessera worker …`).
public struct WorkerOptions: Sendable {
  /// CurveZMQ: this worker's key pair and the router's public key. Its data plane then
  /// takes only the peers the router names in its assignment.
  public struct Curve: Sendable {
    public var keys: CurveKeyPair
    public var routerKey: String

    public init(keys: CurveKeyPair, routerKey: String) {
      self.keys = keys
      self.routerKey = routerKey
    }
  }

  /// The router's workers endpoint, `tcp://HOST:PORT`.
  public var router: String
  public var modelPath: String
  public var threads: Int
  public var name: String
  /// Where this worker listens for its peers (`*` port: any free one).
  public var dataBind: String
  /// The data address peers should use; default: the bound address (fine on one host).
  public var advertise: String?
  /// Seconds without a word from the router before the worker counts it gone and rejoins.
  public var routerTimeout: Double
  /// Seconds a step waits for a peer's activations before it fails.
  public var peerTimeout: Double
  /// The Redis of the shared context-fragment cache, if any.
  public var redis: RedisURL?
  /// Bytes of prefix blocks kept in memory (this worker's parts).
  public var prefixCacheBytes: Int
  /// Curve on every socket (nil: plaintext, which a non-loopback `dataBind` refuses unless
  /// `insecure`).
  public var curve: Curve?
  public var insecure: Bool

  public init(
    router: String, modelPath: String, threads: Int, name: String,
    dataBind: String = "tcp://127.0.0.1:*", advertise: String? = nil, routerTimeout: Double = 5,
    peerTimeout: Double = 30, redis: RedisURL? = nil, prefixCacheBytes: Int = 256 << 20,
    curve: Curve? = nil, insecure: Bool = false
  ) {
    self.router = router
    self.modelPath = modelPath
    self.threads = threads
    self.name = name
    self.dataBind = dataBind
    self.advertise = advertise
    self.routerTimeout = routerTimeout
    self.peerTimeout = peerTimeout
    self.redis = redis
    self.prefixCacheBytes = prefixCacheBytes
    self.curve = curve
    self.insecure = insecure
  }
}
