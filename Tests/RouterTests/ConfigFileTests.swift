import Foundation
import Testing

@testable import Router

/// `--config FILE`: YAML keys are the flags' names; the command line wins; unknown keys,
/// nested mappings and non-YAML are errors naming the file.
struct ConfigFileTests {
  let known: Set<String> = ["listen", "tp", "api-key", "insecure", "workers-bind", "standby"]

  func expand(_ yaml: String, _ commandLine: [String] = []) throws -> [String] {
    let path = "/tmp/tessera-config-\(UInt32.random(in: 0...UInt32.max)).yaml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    defer { unlink(path) }
    return try ConfigFile.expand(commandLine, path: path, known: known)
  }

  @Test func keysBecomeFlagsBeforeTheCommandLine() throws {
    let arguments = try expand(
      """
      workers-bind: tcp://0.0.0.0:5555
      tp: 2
      api-key: [one, two]
      insecure: true
      standby: 0
      """, ["--listen", "0.0.0.0:80"])
    #expect(
      arguments == [
        "--workers-bind", "tcp://0.0.0.0:5555", "--tp", "2", "--api-key", "one", "--api-key",
        "two", "--insecure", "--standby", "0", "--listen", "0.0.0.0:80",
      ])
  }

  @Test func theCommandLineOverridesTheFileListsIncluded() throws {
    let arguments = try expand(
      "tp: 2\napi-key: [one, two]\ninsecure: false\n", ["--tp=4", "--api-key", "three"])
    #expect(arguments == ["--tp=4", "--api-key", "three"])
  }

  @Test func aQuotedTrueIsAValueNotAFlag() throws {
    #expect(try expand("listen: \"true\"\n") == ["--listen", "true"])
  }

  @Test func badFilesAreErrorsThatNameThem() throws {
    #expect(throws: ConfigError.self) { try expand("tpp: 2\n") }
    #expect(throws: ConfigError.self) { try expand("listen: {host: a}\n") }
    #expect(throws: ConfigError.self) { try expand("- just\n- a list\n") }
    #expect(throws: ConfigError.self) { try expand("listen: [unclosed\n") }
    do {
      _ = try expand("tpp: 2\n")
    } catch {
      #expect("\(error)".contains("unknown key 'tpp'"))
    }
    #expect(throws: ConfigError.self) {
      try ConfigFile.expand([], path: "/nonexistent/tessera.yaml", known: known)
    }
  }
}
