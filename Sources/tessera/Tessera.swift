import ArgumentParser
import CProcess
import Core
import Router

/// The one Tessera executable; each subcommand lives in its own file and stays thin.
@main
struct Tessera: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tessera",
    abstract: "A distributed LLM inference cluster.",
    subcommands: [
      GenerateCommand.self, ScoreCommand.self, BenchCommand.self, TokenizeCommand.self,
      WorkerCommand.self, RouterCommand.self, UpCommand.self, KeysCommand.self,
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
      try KernelLevel.checkEnvironment()
      var command = try parseAsRoot(
        try ConfigArguments.expand(Array(CommandLine.arguments.dropFirst())))
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

/// `--config FILE` on `router`, `up` and `worker`: the YAML file's options go before the
/// command line's (which override them); its keys are checked against the command's options.
enum ConfigArguments {
  static func expand(_ arguments: [String]) throws -> [String] {
    guard let index = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") })
    else { return arguments }
    let path: String
    if arguments[index].hasPrefix("--config=") {
      path = String(arguments[index].dropFirst("--config=".count))
    } else {
      guard index + 1 < arguments.count else { throw ValidationError("--config needs a FILE") }
      path = arguments[index + 1]
    }
    let commands: [String: any ParsableCommand.Type] = [
      "router": RouterCommand.self, "up": UpCommand.self, "worker": WorkerCommand.self,
    ]
    guard let name = arguments.first, let command = commands[name] else {
      throw ValidationError("--config is an option of router, up and worker")
    }
    let rest = Array(arguments.dropFirst())
    do {
      return [name] + (try ConfigFile.expand(rest, path: path, known: optionNames(of: command)))
    } catch {
      throw ValidationError("\(error)")
    }
  }

  /// The long option names a command's help shows (hidden ones are not config keys), but
  /// `config` itself and `help`.
  static func optionNames(of command: any ParsableCommand.Type) -> Set<String> {
    let help = command.helpMessage(columns: 10_000)
    var names = Set<String>()
    var rest = Substring(help)
    while let range = rest.range(of: "--") {
      let name = rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
      if !name.isEmpty { names.insert(String(name)) }
      rest = rest[range.upperBound...]
    }
    return names.subtracting(["config", "help"])
  }
}
