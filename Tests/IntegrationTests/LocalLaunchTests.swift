import Foundation
import TestSupport
import Testing

/// `generate --tp/--pp` owns its workers: they go when it goes, however it goes.
@Suite(.serialized) struct LocalLaunchTests {
  /// Process ids whose parent is `parent` and whose command line runs `tessera worker`.
  func workers(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 2, Int32(fields[1]) == parent else { return false }
      let command = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
      return command.split(separator: 0).contains { $0.elementsEqual("worker".utf8) }
    }
  }

  func alive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0,
      let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    else { return false }
    return !stat.contains(") Z ")  // a zombie has exited
  }

  /// Polls `condition` until it holds or `seconds` pass.
  func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(20_000)
    }
    return condition()
  }

  /// Every process below `root` (children, their children, …).
  func descendants(of root: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var parents: [Int32: Int32] = [:]
    for pid in entries.compactMap(Int32.init) {
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 2, let parent = Int32(fields[1]) { parents[pid] = parent }
    }
    var found: [Int32] = []
    var frontier = [root]
    while let next = frontier.popLast() {
      let children = parents.filter { $0.value == next }.map(\.key)
      found += children
      frontier += children
    }
    return found
  }

  @Test(arguments: [SIGTERM, SIGKILL])
  func upRunsRedisTheRouterAndWorkersAndStopsThemAll(signal: Int32) throws {
    let up = try RouterProcess(["--tp", "2", "--threads", "1"], command: "up")
    defer { up.stop() }
    let (completed, _) = try up.post(
      "/v1/completions",
      json: ["model": "SmolLM2-135M-Instruct.Q4_1", "prompt": "Hello", "max_tokens": 2])
    #expect(completed == 200)
    // After a step the cluster report shows both workers, placed and ready.
    let (status, body) = try up.get("/v1/cluster")
    let cluster = try JSONSerialization.jsonObject(with: body) as? [String: Any]
    #expect(status == 200 && cluster?["mode"] as? String == "local-workers")
    let workers = cluster?["workers"] as? [[String: Any]] ?? []
    #expect(workers.count == 2)
    #expect(Set(workers.compactMap { $0["rank"] as? Int }) == [0, 1])
    #expect(workers.allSatisfy { $0["ready"] as? Bool == true && $0["stage"] as? Int == 0 })
    #expect(workers.allSatisfy { ($0["weight_bytes"] as? Int ?? 0) > 0 })
    let children = descendants(of: up.process.processIdentifier)
    let names = children.compactMap {
      try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)
    }
    #expect(names.filter { $0.hasPrefix("redis-server") }.count == 1, "\(names)")
    #expect(names.filter { $0.hasPrefix("tessera") }.count == 2, "\(names)")
    // Secure by default on loopback too: Curve with keys made for the run.
    #expect((cluster?["cluster"] as? [String: Any])?["curve"] as? Bool == true)
    let commandLines = children.compactMap {
      try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)
        .split(separator: "\0").map(String.init)
    }
    let keyFiles = commandLines.compactMap { arguments in
      arguments.firstIndex(of: "--curve-secret-key").map { arguments[$0 + 1] }
    }
    #expect(keyFiles.count == 2 && Set(keyFiles).count == 2, "\(commandLines)")
    kill(up.process.processIdentifier, signal)
    up.process.waitUntilExit()
    #expect(waitFor(10) { children.allSatisfy { !alive($0) } }, "left behind: \(children)")
    if signal == SIGTERM {  // a graceful stop removes the run's keys
      #expect(keyFiles.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }
  }

  @Test(arguments: [SIGINT, SIGTERM, SIGKILL])
  func workersStopWhenTheLauncherIsStopped(signal: Int32) throws {
    _ = try ModelFiles.smolLM2()
    let launcher = Process()
    launcher.executableURL = TesseraProcess.executableURL
    launcher.arguments = [
      "generate", "--prompt", "Count to a million:", "--max-tokens", "4000", "--tp", "2",
      "--threads", "1", "--model", ModelFiles.smolLM2Path,
    ]
    launcher.standardOutput = FileHandle.nullDevice
    launcher.standardError = FileHandle.nullDevice
    try launcher.run()
    defer { if launcher.isRunning { launcher.terminate() } }
    var started: [Int32] = []
    #expect(
      waitFor(60) {
        started = workers(of: launcher.processIdentifier)
        return started.count == 2
      })
    kill(launcher.processIdentifier, signal)
    launcher.waitUntilExit()
    #expect(waitFor(10) { started.allSatisfy { !alive($0) } }, "workers \(started) outlived it")
  }
}
