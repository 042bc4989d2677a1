import Core
import Foundation
import TestSupport
import Testing

@Suite struct GenerateCommandTests {
  struct Output: Decodable {
    struct Timings: Decodable {
      let promptMs: Double
      let generateMs: Double
      enum CodingKeys: String, CodingKey {
        case promptMs = "prompt_ms"
        case generateMs = "generate_ms"
      }
    }
    let promptTokens: [Int32]
    let tokens: [Int32]
    let text: String
    let finishReason: String
    let timings: Timings
    enum CodingKeys: String, CodingKey {
      case promptTokens = "prompt_tokens"
      case tokens, text
      case finishReason = "finish_reason"
      case timings
    }
  }

  func generate(_ goldenCase: Golden.Case, maxTokens: Int) throws -> Output {
    var arguments = ["generate", "--json", "--max-tokens", String(maxTokens), "--temperature", "0"]
    if let message = goldenCase.messages?.first, goldenCase.messages?.count == 1 {
      arguments += ["--chat", "--prompt", message.content]
    } else {
      arguments += ["--prompt", goldenCase.prompt]
    }
    let result = try TesseraProcess.run(arguments)
    #expect(result.status == 0, "\(result.stderr)")
    return try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
  }

  @Test func greedyRaw5ReproducesEveryGoldenToken() throws {
    let raw5 = try #require(try Golden.smolLM2().cases.first { $0.name == "raw5" })
    let expected = raw5.steps.filter { !$0.eog }.map(\.id)
    let output = try generate(raw5, maxTokens: expected.count)
    #expect(output.promptTokens == raw5.promptIDs)
    #expect(output.tokens == expected)
    #expect(output.finishReason == "length")
    #expect(output.timings.promptMs > 0 && output.timings.generateMs > 0)
  }

  @Test func greedyCasesFollowTheGoldenUpToTheFirstNearTie() throws {
    for goldenCase in try Golden.smolLM2().cases where goldenCase.name != "raw5" {
      let firstNearTie =
        goldenCase.steps.firstIndex { $0.top[0].logit - $0.top[1].logit < 0.5 }
        ?? goldenCase.steps.count
      guard firstNearTie > 0 else { continue }
      let output = try generate(goldenCase, maxTokens: firstNearTie)
      #expect(output.promptTokens == goldenCase.promptIDs, "\(goldenCase.name)")
      let expected = goldenCase.steps[..<firstNearTie].filter { !$0.eog }.map(\.id)
      #expect(output.tokens == expected, "\(goldenCase.name)")
    }
  }

  @Test func stopsAtEndOfGenerationWithoutEmittingIt() throws {
    // A chat answer ends with <|im_end|>; it is not among the tokens and the reason is stop.
    let result = try TesseraProcess.run([
      "generate", "--json", "--chat", "--prompt", "Say hi.", "--max-tokens", "200",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
    #expect(output.finishReason == "stop")
    #expect(!output.tokens.contains(2))
    #expect(!output.text.contains("<|im_end|>"))
  }

  @Test func peakResidentMemoryStaysUnder250MB() throws {
    let result = try TesseraProcess.run([
      "generate", "--prompt", "Once upon a time", "--max-tokens", "64",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let match = try #require(result.stderr.firstMatch(of: /peak RSS ([0-9.]+) MB/))
    let megabytes = try #require(Double(match.1))
    #expect(megabytes < 250, "peak RSS \(megabytes) MB")
  }

  @Test func badArgumentsAreUsageErrors() throws {
    for arguments in [
      ["generate"], ["generate", "--prompt", "x", "--max-tokens", "-1"],
      ["generate", "--prompt", "x", "--temperature", "-1"],
      ["generate", "--prompt", "x", "--top-p", "0"],
      ["generate", "--prompt", "x", "--threads", "0"],
      ["score", "--prompt-ids", "1,x", "--continuation-ids", "2"],
      ["score", "--prompt-ids", "1", "--continuation-ids", "99999999"],
    ] {
      let result = try TesseraProcess.run(arguments)
      #expect(result.status == 64 || result.status == 1, "\(arguments): \(result.status)")
      #expect(result.stderr.contains("Error"), "\(arguments)")
    }
  }
}
