import Foundation
import Synchronization
import TestSupport
import Testing
import Transport

#if canImport(Glibc)
  import Glibc
#endif

/// CurveZMQ with a ZAP allow-list over real sockets: allowed keys get through and are named
/// on their messages; unknown keys, a wrong server key, a plaintext client and garbage never
/// deliver a message, and the server goes on serving the allowed ones.
@Suite struct CurveTests {
  let domain = "test"

  /// A Curve server on loopback in a context with a ZAP handler allowing `allowed`.
  func server(allowing allowed: [CurveKeyPair], hold: Double = 0) throws
    -> (ZMQSocket, String, ZAPHandler, CurveKeyPair)
  {
    let context = try ZMQContext()
    let zap = try ZAPHandler(context: context, hold: [domain: hold])
    zap.allow(allowed.map(\.publicKey), domain: domain)
    let keys = try CurveKeyPair.generate()
    let socket = try ZMQSocket(context, .router)
    try socket.makeCurveServer(keys, domain: domain)
    return (socket, try socket.bind("tcp://127.0.0.1:*"), zap, keys)
  }

  func client(_ keys: CurveKeyPair, serverKey: String, endpoint: String) throws
    -> (ZMQSocket, HandshakeMonitor)
  {
    let socket = try ZMQSocket(try ZMQContext(), .dealer)
    try socket.makeCurveClient(keys, serverKey: serverKey)
    let monitor = try HandshakeMonitor(socket)
    try socket.connect(endpoint)
    return (socket, monitor)
  }

  @Test func anAllowedKeyGetsThroughAndIsNamedOnItsMessages() throws {
    let allowed = try CurveKeyPair.generate()
    let (server, endpoint, zap, keys) = try server(allowing: [allowed])
    defer { zap.stop() }
    let (client, _) = try client(allowed, serverKey: keys.publicKey, endpoint: endpoint)
    try client.send([[1, 2, 3]])
    let message = try #require(try server.receive(timeoutMilliseconds: 5000))
    #expect(message.last == [1, 2, 3])
    #expect(server.lastSenderKey == allowed.publicKey)
    #expect(zap.refused[domain] == nil)
  }

  @Test func anUnknownKeyIsRefusedBeforeAnyMessageArrives() throws {
    let allowed = try CurveKeyPair.generate()
    let (server, endpoint, zap, keys) = try server(allowing: [allowed])
    defer { zap.stop() }
    let stranger = try CurveKeyPair.generate()
    let (client, monitor) = try client(stranger, serverKey: keys.publicKey, endpoint: endpoint)
    try client.send([[6, 6, 6]])
    var failures: [HandshakeMonitor.Failure] = []
    #expect(
      eventually(10) {
        failures += monitor.failures()
        return failures.contains(.refusedKey(status: 400))
      })
    #expect((zap.refused[domain] ?? 0) >= 1)
    #expect(try server.receive(timeoutMilliseconds: 200) == nil)
    // The server still takes an allowed client.
    let (friend, _) = try self.client(allowed, serverKey: keys.publicKey, endpoint: endpoint)
    try friend.send([[7]])
    #expect(try server.receive(timeoutMilliseconds: 5000)?.last == [7])
  }

  @Test func aKeyAllowedWhileItsHandshakeIsHeldGetsIn() throws {
    // A worker's peer may dial before the worker has read the assignment naming it.
    let (server, endpoint, zap, keys) = try server(allowing: [], hold: 5)
    defer { zap.stop() }
    let late = try CurveKeyPair.generate()
    let (client, _) = try client(late, serverKey: keys.publicKey, endpoint: endpoint)
    try client.send([[5]])
    #expect(try server.receive(timeoutMilliseconds: 300) == nil)
    zap.allow([late.publicKey], domain: domain)
    #expect(try server.receive(timeoutMilliseconds: 5000)?.last == [5])
    #expect(zap.refused[domain] == nil)
  }

  @Test func aWrongServerKeyOrAPlaintextClientNeverGetsThrough() throws {
    let allowed = try CurveKeyPair.generate()
    let (server, endpoint, zap, _) = try server(allowing: [allowed])
    defer { zap.stop() }
    let wrongServer = try CurveKeyPair.generate()
    let (misled, monitor) = try client(
      allowed, serverKey: wrongServer.publicKey, endpoint: endpoint)
    try misled.send([[1]])
    var failures: [HandshakeMonitor.Failure] = []
    #expect(
      eventually(10) {
        failures += monitor.failures()
        return !failures.isEmpty
      })
    let plain = try ZMQSocket(try ZMQContext(), .dealer)
    try plain.connect(endpoint)
    try plain.send([[2]])
    try sendGarbage(to: endpoint)
    #expect(try server.receive(timeoutMilliseconds: 500) == nil)
  }

  func sendGarbage(to endpoint: String) throws {
    let port = try #require(endpoint.split(separator: ":").last.flatMap { Int($0) })
    #expect(RawTCP.send([UInt8](repeating: 0xff, count: 2048), toPort: port))
  }

  @Test func keyFilesRoundTripAndASecretOthersCanReadIsRefused() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tessera-keys-test-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let keys = try KeyFiles.generate(prefix: "\(directory)/node")
    let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/node.key")
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    #expect(try CurveKeyPair.read(secretKeyFile: "\(directory)/node.key") == keys)
    #expect(try CurveKeyPair.read(publicKeyFile: "\(directory)/node.pub") == keys.publicKey)
    #expect(throws: (any Error).self) { try KeyFiles.generate(prefix: "\(directory)/node") }
    chmod("\(directory)/node.key", 0o644)
    #expect(throws: TransportError.self) {
      try CurveKeyPair.read(secretKeyFile: "\(directory)/node.key")
    }
    // An allow-list: comments on lines of their own (# is a Z85 character), names after keys.
    let other = try CurveKeyPair.generate()
    try "# workers\n\n\(keys.publicKey) node\n  \(other.publicKey)\n".write(
      toFile: "\(directory)/allowed", atomically: true, encoding: .utf8)
    #expect(
      try CurveKeyPair.read(publicKeysFile: "\(directory)/allowed")
        == [keys.publicKey, other.publicKey])
    try "not-a-key\n".write(toFile: "\(directory)/bad", atomically: true, encoding: .utf8)
    #expect(throws: TransportError.self) {
      try CurveKeyPair.read(publicKeysFile: "\(directory)/bad")
    }
    #expect(throws: TransportError.self) {
      try CurveKeyPair(secretKey: String(repeating: "a", count: 39))
    }
  }

  @Test func onlyLoopbackIpcAndInprocAreLocal() {
    for local in [
      "tcp://127.0.0.1:5555", "tcp://127.1.2.3:*", "tcp://localhost:1", "tcp://[::1]:2",
      "ipc:///tmp/x", "inproc://y",
    ] {
      #expect(Endpoint.isLocal(local), "\(local)")
    }
    for open in [
      "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.1:1", "tcp://eth0:5", "tcp://[::]:3",
    ] {
      #expect(!Endpoint.isLocal(open), "\(open)")
      #expect(throws: TransportError.plaintextBind(open)) { try Endpoint.requireLocal(open) }
    }
  }
}
