public import Core
public import Foundation

/// The real model files the set-up script fetches. Tests that need one fail (never skip) when
/// it is missing: run `scripts/setup` (which `make test` does first).
public enum ModelFiles {
  public struct Missing: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "model file \(path) is missing: run scripts/setup" }
  }

  public static var smolLM2Path: String {
    FixturePaths.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
  }

  /// SmolLM2-135M-Instruct Q4_1, opened once per test process.
  public static func smolLM2() throws -> GGUFFile {
    try cache.withLock { cached in
      if let cached { return cached }
      guard FileManager.default.fileExists(atPath: smolLM2Path) else {
        throw Missing(path: smolLM2Path)
      }
      let file = try GGUFFile(path: smolLM2Path)
      cached = file
      return file
    }
  }

  public static var gemma3Path: String {
    FixturePaths.packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
  }

  /// Gemma 3 270M Q4_K_M, opened once per test process.
  public static func gemma3() throws -> GGUFFile {
    try gemmaCache.withLock { cached in
      if let cached { return cached }
      guard FileManager.default.fileExists(atPath: gemma3Path) else {
        throw Missing(path: gemma3Path)
      }
      let file = try GGUFFile(path: gemma3Path)
      cached = file
      return file
    }
  }

  private static let cache = Locked<GGUFFile?>(nil)
  private static let gemmaCache = Locked<GGUFFile?>(nil)
}

/// A tiny lock-protected box, enough for the test support's caches.
final class Locked<Value>: @unchecked Sendable {
  private var value: Value
  private let lock = NSLock()
  init(_ value: Value) { self.value = value }
  func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}
