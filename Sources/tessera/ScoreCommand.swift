import ArgumentParser
import Core
import Foundation
import Router

struct ScoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "score",
    abstract: "Teacher-forced pass: the top logits predicting each continuation token.")

  @OptionGroup var model: ModelOption
  @Option(
    name: .customLong("prompt-ids"),
    help: "Prompt token ids, comma-separated (@FILE: from FILE, for prompts too long to pass).")
  var promptIDs: String
  @Option(name: .customLong("continuation-ids"), help: "Continuation token ids, comma-separated.")
  var continuationIDs: String
  @Option(help: "How many of the highest logits to report per step.") var top = 5
  @OptionGroup var context: ContextOption
  @OptionGroup var threads: ThreadsOption
  @Flag(help: #"Print exactly {"steps": [{"top": [{"id": …, "logit": …}, …]}, …]}."#)
  var json = false

  func validate() throws {
    guard (1...1000).contains(top) else { throw ValidationError("--top must be 1...1000") }
  }

  static func parseIDs(_ argument: String, _ name: String) throws -> [TokenID] {
    var text = argument
    if argument.hasPrefix("@") {
      let path = String(argument.dropFirst())
      guard let contents = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(name): cannot read \(path)")
      }
      text = String(decoding: contents, as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines)
    }
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var ids: [TokenID] = []
    for part in parts {
      guard let id = TokenID(part.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError("\(name): '\(part)' is not a token id")
      }
      ids.append(id)
    }
    return ids
  }

  func run() throws {
    let prompt = try Self.parseIDs(promptIDs, "--prompt-ids")
    let continuation = try Self.parseIDs(continuationIDs, "--continuation-ids")
    guard !prompt.isEmpty, !continuation.isEmpty else {
      throw ValidationError("--prompt-ids and --continuation-ids need at least one id each")
    }
    let file = try model.open()
    let config = try ModelConfig(gguf: file)
    let vocabularySize = config.vocabularySize
    let context = try self.context.resolve(config)
    guard prompt.count + continuation.count - 1 <= context else {
      throw ValidationError(
        "\(prompt.count + continuation.count - 1) tokens exceed the context (\(context))")
    }
    if let bad = (prompt + continuation).first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
      throw ValidationError("token id \(bad) is outside the vocabulary (0..<\(vocabularySize))")
    }
    let built = try EngineFactory.model(
      .init(
        modelPath: model.model, threads: threads.count, kvTokens: prompt.count + continuation.count,
        contextLength: context)
    ).make()
    guard let engine = built.process else { return }
    let tokens = prompt + continuation.dropLast()
    let rows = Array((prompt.count - 1)..<tokens.count)
    let logits = try engine.feed(sequence: 0, tokens: tokens, logitsAt: rows)
    let steps = rows.indices.map { index in
      let row = Array(logits[(index * vocabularySize)..<((index + 1) * vocabularySize)])
      return ScoreOutput.Step(
        top: TopLogits.of(row, count: top).map { .init(id: $0.id, logit: $0.logit) })
    }
    if json {
      try printJSON(ScoreOutput(steps: steps))
    } else {
      for (index, step) in steps.enumerated() {
        let listed = step.top.map { "\($0.id):\(String(format: "%.4f", $0.logit))" }
        print("step \(index) (next \(continuation[index])): " + listed.joined(separator: " "))
      }
    }
  }
}

struct ScoreOutput: Encodable {
  struct Candidate: Encodable {
    let id: TokenID
    let logit: Float
  }
  struct Step: Encodable { let top: [Candidate] }
  let steps: [Step]
}
