import ArgumentParser
import CProcess
import Core

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

  /// Every record of the process, Hummingbird's included, as one line on standard error.
  static func main() async {
    // A launcher may have blocked or ignored SIGTERM and SIGINT (a process running
    // swift-service-lifecycle does), and a child inherits that: undo it, so the graceful
    // shutdown and `exitOnInterrupt` see them.
    tessera_reset_signals()
    LogLines.bootstrap()
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      exit(withError: error)
    }
  }
}
