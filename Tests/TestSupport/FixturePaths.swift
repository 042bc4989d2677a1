public import Foundation

/// Where the test fixtures and the set-up script's model live, found from this file's path so
/// tests work from any working directory.
public enum FixturePaths {
  /// The package root (the folder holding Package.swift).
  public static var packageRoot: URL {
    URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent()  // TestSupport
      .deletingLastPathComponent()  // Tests
      .deletingLastPathComponent()
  }

  /// `Tests/Fixtures`.
  public static var root: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

  /// A file under `Tests/Fixtures`.
  public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

  /// `../shared/golden`, the llama.cpp reference outputs beside the repository.
  public static var golden: URL {
    packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden")
  }
}
