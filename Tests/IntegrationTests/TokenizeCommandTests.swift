import Core
import Foundation
import TestSupport
import Testing

@Suite struct TokenizeCommandTests {
  struct Output: Decodable, Equatable {
    let ids: [Int32]
    let pieces: [String]
  }

  private func tokenize(_ arguments: [String]) throws -> Output {
    let result = try TesseraProcess.run(["tokenize", "--json"] + arguments)
    #expect(result.status == 0, "\(result.stderr)")
    return try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
  }

  @Test func goldenPromptsTokenizeLikeLlamaCpp() throws {
    for goldenCase in try Golden.smolLM2().cases {
      let output: Output
      if let messages = goldenCase.messages {
        let json = String(decoding: try JSONEncoder().encode(messages), as: UTF8.self)
        output = try tokenize(["--messages", json])
      } else {
        output = try tokenize(["--text", goldenCase.prompt])
      }
      #expect(output.ids == goldenCase.promptIDs, "\(goldenCase.name)")
      #expect(output.pieces.joined() == goldenCase.prompt, "\(goldenCase.name)")
    }
  }

  @Test func acceptsTextPartsInMessages() throws {
    let parts = #"[{"role":"user","content":[{"type":"text","text":"Hi"}]}]"#
    let plain = #"[{"role":"user","content":"Hi"}]"#
    #expect(try tokenize(["--messages", parts]) == tokenize(["--messages", plain]))
  }

  @Test func badArgumentsGetUsageErrorsNotCrashes() throws {
    let cases: [[String]] = [
      ["tokenize"],
      ["tokenize", "--text", "a", "--messages", "[]"],
      ["tokenize", "--messages", "not json"],
      ["tokenize", "--messages", #"[{"role":"user","content":[{"type":"image_url"}]}]"#],
      ["tokenize", "--text", "a", "--model", "/nonexistent.gguf"],
      ["tokenize", "--text", "a", "--bogus"],
    ]
    for arguments in cases {
      let result = try TesseraProcess.run(arguments)
      // ArgumentParser's validation exit code is 64; runtime errors exit 1. Never a signal.
      #expect(result.status == 64 || result.status == 1, "\(arguments): \(result.status)")
      #expect(result.stderr.contains("Error"), "\(arguments)")
    }
  }

  @Test func corruptModelFileIsATypedError() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "corrupt-\(UUID()).gguf")
    defer { try? FileManager.default.removeItem(at: path) }
    try Data("GGUF\u{3}\0\0\0garbage".utf8).write(to: path)
    let result = try TesseraProcess.run(["tokenize", "--text", "a", "--model", path.path])
    #expect(result.status == 1)
    #expect(result.stderr.contains("truncated"))
  }
}
