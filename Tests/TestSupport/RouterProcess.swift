public import Foundation

#if canImport(FoundationNetworking)
  public import FoundationNetworking
#endif

/// A `tessera router` process on a free loopback port, for tests: started, waited for until
/// `/ready` says so (polling, with a deadline), and stopped (with its workers) on `stop()`.
public final class RouterProcess: @unchecked Sendable {
  public let process = Process()
  public private(set) var baseURL = URL(fileURLWithPath: "/")
  private let output = Pipe()
  /// Keeps the thread that started the router alive until `stop()`: the router's
  /// parent-death signal (`--parent-pid`) fires when that *thread* exits, and a test's thread
  /// may be retired while a shared router is still in use.
  private let keeper = DispatchSemaphore(value: 0)

  public struct Failed: Error, CustomStringConvertible {
    public let description: String
  }

  /// Starts `tessera router` (or `command`, e.g. `up`, which takes the router's flags);
  /// with `waitForReady` false it returns once the HTTP API listens (remote workers have
  /// not joined yet).
  public init(
    _ arguments: [String] = [], command: String = "router", readyTimeout: Double = 120,
    waitForReady: Bool = true, environment: [String: String] = [:]
  ) throws {
    process.executableURL = TesseraProcess.executableURL
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let tie = command == "router" ? ["--parent-pid", String(getpid())] : []
    process.arguments =
      [command, "--listen", "127.0.0.1:0", "--model", ModelFiles.smolLM2Path] + tie + arguments
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let started = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var launchError: (any Error)?
    let process = self.process
    let keeper = self.keeper
    Thread {
      do { try process.run() } catch { launchError = error }
      started.signal()
      keeper.wait()
    }.start()
    started.wait()
    if let launchError { throw launchError }
    // The router prints one line with its URL once it listens.
    let deadline = Date().addingTimeInterval(readyTimeout)
    var text = ""
    let handle = output.fileHandleForReading
    while !text.contains("\n") {
      guard Date() < deadline, process.isRunning else {
        stop()
        throw Failed(description: "the router did not start: \(text)")
      }
      let chunk = handle.availableData
      if chunk.isEmpty { break }
      text += String(decoding: chunk, as: UTF8.self)
    }
    guard let range = text.range(of: #"https?://[0-9.:]+"#, options: .regularExpression) else {
      stop()
      throw Failed(description: "no URL in the router's output: \(text)")
    }
    baseURL = URL(string: String(text[range]))!
    while waitForReady {
      if let (status, _) = try? get("/ready"), status == 200 { break }
      guard Date() < deadline, process.isRunning else {
        stop()
        throw Failed(description: "the router never became ready")
      }
      usleep(100_000)
    }
  }

  deinit { stop() }

  /// The port it listens on.
  public var port: Int { baseURL.port ?? 0 }

  /// Kills it at once (SIGKILL: no shutdown of any kind), and waits for it to be gone.
  public func kill() {
    guard process.isRunning else { return }
    Foundation.kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  public func stop() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    keeper.signal()
  }

  /// A blocking request; returns the status and body.
  public func request(
    _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]
  ) throws -> (Int, Data) {
    var request = URLRequest(url: baseURL.appendingPathComponent(path))
    request.httpMethod = method
    request.httpBody = body
    request.timeoutInterval = 300
    if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let semaphore = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<(Int, Data), any Error> = .failure(
      Failed(description: "no response"))
    URLSession.shared.dataTask(with: request) { data, response, error in
      if let error {
        result = .failure(error)
      } else {
        result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
      }
      semaphore.signal()
    }.resume()
    semaphore.wait()
    return try result.get()
  }

  public func get(_ path: String) throws -> (Int, Data) { try request("GET", path) }

  public func post(_ path: String, json: [String: Any], headers: [String: String] = [:]) throws
    -> (Int, [String: Any])
  {
    let (status, data) = try request(
      "POST", path, body: try JSONSerialization.data(withJSONObject: json), headers: headers)
    let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    return (status, object)
  }
}
