import Foundation
import TestSupport
import Testing
import Transport

@testable import Router

#if canImport(Glibc)
  import Glibc
#endif

/// A router that waits for workers started elsewhere (`--workers-bind`), with Curve on every
/// socket, over real processes on loopback: it plans once they joined, and workers with a
/// key it does not know, a wrong router key, or plain garbage on its port never get in, say
/// why, and leave it serving. Secure by default: plaintext binds other hosts could reach are
/// refused at start.
@Suite(.serialized) struct RemoteWorkersTests {
  struct Failed: Error { let description: String }

  nonisolated(unsafe) static let completion: [String: Any] = [
    "model": RouterAPITests.model, "prompt": "The capital of France is", "max_tokens": 6,
    "temperature": 0,
  ]

  /// A private directory of key pairs made with `tessera keys generate`.
  final class KeyDirectory {
    let path: String

    init(_ names: [String]) throws {
      path =
        FileManager.default.temporaryDirectory
        .appendingPathComponent("tessera-remote-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        .path
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
      for name in names {
        let result = try TesseraProcess.run(["keys", "generate", "--out", "\(path)/\(name)"])
        guard result.status == 0 else { throw Failed(description: result.stderr) }
      }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }
    func publicKey(_ name: String) throws -> String {
      try CurveKeyPair.read(publicKeyFile: file("\(name).pub"))
    }
    func write(_ name: String, _ text: String) throws -> String {
      try text.write(toFile: file(name), atomically: true, encoding: .utf8)
      return file(name)
    }
  }

  func worker(_ name: String, key: String, routerKey: String, port: Int, keys: KeyDirectory)
    throws -> ChildProcess
  {
    try ChildProcess([
      "worker", "--router", "tcp://127.0.0.1:\(port)", "--model", ModelFiles.smolLM2Path,
      "--name", name, "--threads", "1", "--curve-secret-key", keys.file("\(key).key"),
      "--router-public-key", keys.file("\(routerKey).pub"),
    ])
  }

  func readyReasons(_ router: RouterProcess) -> (status: Int, reasons: [String]) {
    guard let (status, data) = try? router.get("/ready"),
      let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else { return (0, []) }
    return (status, body["reasons"] as? [String] ?? [])
  }

  func metric(_ router: RouterProcess, _ line: String) -> Int? {
    guard let (_, data) = try? router.get("/metrics") else { return nil }
    let text = String(decoding: data, as: UTF8.self)
    return text.split(separator: "\n").first { $0.hasPrefix(line + " ") }
      .flatMap { Int($0.split(separator: " ").last ?? "") }
  }

  func workerNames(_ router: RouterProcess) -> Set<String> {
    guard let (_, data) = try? router.get("/v1/cluster"),
      let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
      let workers = body["workers"] as? [[String: Any]]
    else { return [] }
    return Set(workers.compactMap { $0["name"] as? String })
  }

  @Test func aRouterWaitsForRemoteWorkersOverCurveAndKeepsStrangersOut() throws {
    let keys = try KeyDirectory(["router", "w1", "w2", "w3", "intruder", "impostor-router"])
    let authorized = try keys.write(
      "authorized",
      "# the workers of this test\n\(try keys.publicKey("w1")) w1\n"
        + "\(try keys.publicKey("w2"))\n\(try keys.publicKey("w3"))\n")
    let port = try #require(RedisServer.freePort())
    // The router's flags from a YAML file, as a ConfigMap would hold them.
    let config = try keys.write(
      "router.yaml",
      """
      workers-bind: tcp://127.0.0.1:\(port)
      tp: 2
      standby: 1
      curve-secret-key: \(keys.file("router.key"))
      authorized-keys: \(authorized)
      worker-timeout: 1
      """)
    let router = try RouterProcess(["--config", config], waitForReady: false)
    defer { router.stop() }
    // Serving at once: 503, and why, until the workers have joined.
    #expect(
      eventually(30) {
        let (status, reasons) = readyReasons(router)
        return status == 503 && reasons.contains { $0.contains("waiting for 0 of 2 workers") }
      })

    let first = try worker("w1", key: "w1", routerKey: "router", port: port, keys: keys)
    defer { first.stop() }
    #expect(eventually { readyReasons(router).reasons.contains { $0.contains("1 of 2 workers") } })
    let second = try worker("w2", key: "w2", routerKey: "router", port: port, keys: keys)
    defer { second.stop() }
    #expect(eventually(120) { readyReasons(router).status == 200 })
    // Ready, and degraded: --standby 1 wants a spare.
    let degraded = readyReasons(router)
    #expect(degraded.reasons == ["0 of 1 standby workers"], "\(degraded)")
    let (status, body) = try router.post("/v1/completions", json: Self.completion)
    #expect(status == 200)
    let text = ((body["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
    #expect(!text.isEmpty)

    // Strangers: a key the router does not know, the right key with a wrong router key,
    // and bytes that are no handshake at all.
    let intruder = try worker(
      "intruder", key: "intruder", routerKey: "router", port: port, keys: keys)
    defer { intruder.stop() }
    let impostor = try worker(
      "misled", key: "w3", routerKey: "impostor-router", port: port, keys: keys)
    defer { impostor.stop() }
    try sendGarbage(port: port)
    #expect(
      eventually(30) {
        intruder.standardError.contains("refused this side's Curve key")
          && impostor.standardError.contains("--router-public-key")
          && (metric(router, "tessera_curve_refused_total{plane=\"control\"}") ?? 0) >= 1
      })
    // Only the intruder's first refusal is logged, however often it retries.
    #expect(workerNames(router) == ["w1", "w2"])

    // A client that knows a worker's public key but holds no peer's key: its data plane
    // refuses it, and the router counts it from the worker's heartbeats.
    let w1Key = try keys.publicKey("w1")
    let address = try #require(dataAddress(router, of: "w1"))
    let context = try ZMQContext()
    let rogue = try ZMQSocket(context, .dealer)
    try rogue.makeCurveClient(
      try CurveKeyPair.read(secretKeyFile: keys.file("intruder.key")), serverKey: w1Key)
    try rogue.connect(address)
    try rogue.send([Array("not a wire message".utf8)])
    #expect(
      eventually(30) { (metric(router, "tessera_curve_refused_total{plane=\"data\"}") ?? 0) >= 1 })
    rogue.close()

    let (again, _) = try router.post("/v1/completions", json: Self.completion)
    #expect(again == 200)
  }

  func dataAddress(_ router: RouterProcess, of name: String) -> String? {
    guard let (_, data) = try? router.get("/v1/cluster"),
      let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
      let workers = body["workers"] as? [[String: Any]]
    else { return nil }
    return workers.first { $0["name"] as? String == name }?["data_address"] as? String
  }

  /// Connects to the port and writes 4 KiB of bytes that are no ZMTP greeting.
  func sendGarbage(port: Int) throws {
    var generator = SystemRandomNumberGenerator()
    let garbage = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
    #expect(RawTCP.send(garbage, toPort: port))
  }

  @Test func plaintextBindsOtherHostsReachAreRefusedUnlessInsecure() throws {
    let port = try #require(RedisServer.freePort())
    let router = try TesseraProcess.run([
      "router", "--model", ModelFiles.smolLM2Path, "--workers-bind", "tcp://0.0.0.0:\(port)",
      "--tp", "2",
    ])
    #expect(router.status != 0)
    #expect(router.stderr.contains("refusing to bind tcp://0.0.0.0:\(port) without Curve keys"))
    let worker = try TesseraProcess.run([
      "worker", "--router", "tcp://127.0.0.1:\(port)", "--model", ModelFiles.smolLM2Path,
      "--data-bind", "tcp://0.0.0.0:*",
    ])
    #expect(worker.status != 0)
    #expect(worker.stderr.contains("refusing to bind tcp://0.0.0.0:* without Curve keys"))
    // With --insecure the operator takes it on: the router serves and waits for workers.
    let insecure = try RouterProcess(
      ["--workers-bind", "tcp://0.0.0.0:\(port)", "--tp", "2", "--insecure"],
      waitForReady: false)
    defer { insecure.stop() }
    #expect(eventually(30) { readyReasons(insecure).status == 503 })
  }

  @Test func aConfigFileWithAnUnknownKeyIsAnError() throws {
    let keys = try KeyDirectory([])
    let config = try keys.write(
      "router.yaml", "listen: 127.0.0.1:0\nworkers-bnd: tcp://127.0.0.1:1\n")
    let result = try TesseraProcess.run(["router", "--config", config])
    #expect(result.status != 0)
    #expect(result.stderr.contains("unknown key 'workers-bnd'"))
  }
}
