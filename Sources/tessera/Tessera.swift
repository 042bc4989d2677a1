import ArgumentParser

/// The one Tessera executable; each subcommand lives in its own file and stays thin.
@main
struct Tessera: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tessera",
    abstract: "A distributed LLM inference cluster.",
    subcommands: [
      GenerateCommand.self, ScoreCommand.self, BenchCommand.self, TokenizeCommand.self,
      WorkerCommand.self, RouterCommand.self, UpCommand.self,
    ]
  )
}
