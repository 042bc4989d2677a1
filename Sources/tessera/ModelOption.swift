import ArgumentParser
import Core
import Foundation

/// `--model PATH`, shared by every subcommand; defaults to the model the set-up fetches.
struct ModelOption: ParsableArguments {
  static let defaultPath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

  @Option(help: "Path to a GGUF model.")
  var model: String = ModelOption.defaultPath

  func open() throws -> GGUFFile {
    guard FileManager.default.fileExists(atPath: model) else {
      throw ValidationError(
        "model file \(model) not found (run scripts/setup, or pass --model PATH)")
    }
    return try GGUFFile(path: model)
  }
}

/// Prints one JSON object on one line with stable key order.
func printJSON(_ value: some Encodable) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
  print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
