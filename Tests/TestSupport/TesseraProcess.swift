public import Foundation

/// Runs the `tessera` executable built beside the test bundle (or `TESSERA_BIN`).
public enum TesseraProcess {
  public struct Result: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
  }

  public static var executableURL: URL {
    if let override = ProcessInfo.processInfo.environment["TESSERA_BIN"] {
      return URL(fileURLWithPath: override)
    }
    // Test bundles and products share the build directory.
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("tessera")
  }

  /// Runs `tessera arguments…` to completion from the package root and captures its output.
  public static func run(_ arguments: [String]) throws -> Result {
    let process = Process()
    process.executableURL = executableURL
    process.arguments = arguments
    process.currentDirectoryURL = FixturePaths.packageRoot
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes to the end before waiting, so a chatty child never blocks on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    DispatchQueue.global().async(group: group) {
      errData = err.fileHandleForReading.readDataToEndOfFile()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }
}
