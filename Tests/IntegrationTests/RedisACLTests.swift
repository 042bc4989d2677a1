import Foundation
import RedisClient
import TestSupport
import Testing

@testable import Router

/// The router against a real `redis-server` with an ACL user and a password, given in
/// `TESSERA_REDIS_URL` (so it never shows in `ps`): the right one logs in and keeps request
/// state; a wrong one is a clear reason in a degraded `/ready`, and the router serves on.
@Suite(.serialized) struct RedisACLTests {
  func redisWithACLUser() throws -> RedisServer {
    let server = try RedisServer(extraArguments: ["--requirepass", "admin-secret"])
    let admin = RedisClient(
      url: RedisURL(host: "127.0.0.1", port: server.port, password: "admin-secret"))
    try admin.command([
      "ACL", "SETUSER", "tessera", "on", ">s3cret pass", "~*", "+@all", "-@dangerous",
    ]).ok()
    return server
  }

  func ready(_ router: RouterProcess) throws -> [String: Any] {
    let (_, data) = try router.get("/ready")
    return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
  }

  @Test func theRightACLUserKeepsRequestStateAndItsPasswordStaysOutOfPs() throws {
    let server = try redisWithACLUser()
    defer { server.stop() }
    let router = try RouterProcess(
      [],
      environment: ["TESSERA_REDIS_URL": "redis://tessera:s3cret%20pass@127.0.0.1:\(server.port)"])
    defer { router.stop() }
    #expect(try ready(router)["degraded"] as? Bool == false)
    let (status, body) = try router.post("/v1/completions", json: RemoteWorkersTests.completion)
    #expect(status == 200)
    let id = try #require(body["id"] as? String)
    #expect(eventually(10) { (try? router.get("/v1/requests/\(id)"))?.0 == 200 })
    let commandLine = try String(
      contentsOfFile: "/proc/\(router.process.processIdentifier)/cmdline", encoding: .utf8)
    #expect(!commandLine.contains("s3cret"))
  }

  @Test func aWrongPasswordIsADegradedReadyNotACrash() throws {
    let server = try redisWithACLUser()
    defer { server.stop() }
    let router = try RouterProcess(
      [], environment: ["TESSERA_REDIS_URL": "redis://tessera:wrong@127.0.0.1:\(server.port)"])
    defer { router.stop() }
    let body = try ready(router)
    #expect(body["ready"] as? Bool == true)
    #expect(body["degraded"] as? Bool == true)
    let reasons = body["reasons"] as? [String] ?? []
    #expect(reasons.contains { $0.contains("WRONGPASS") && !$0.contains("wrong@") }, "\(reasons)")
    let (status, _) = try router.post("/v1/completions", json: RemoteWorkersTests.completion)
    #expect(status == 200)
    #expect(router.process.isRunning)
  }
}
