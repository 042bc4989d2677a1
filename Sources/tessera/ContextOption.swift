import ArgumentParser
import Core

/// `--context`: the longest prompt plus output one request (or run) may reach.
struct ContextOption: ParsableArguments {
  @Option(
    help: """
      The longest prompt plus output one request may reach, in tokens (default and most: the \
      model's context_length).
      """)
  var context: Int?

  /// The context for a model with `config`: the option, or the model's whole context.
  func resolve(_ config: ModelConfig) throws -> Int {
    guard let context else { return config.contextLength }
    guard context >= 2 else { throw ValidationError("--context must be at least 2") }
    guard context <= config.contextLength else {
      throw ValidationError(
        "--context \(context) exceeds the model's context_length \(config.contextLength)")
    }
    return context
  }
}
