import ArgumentParser
import Transport

/// `tessera keys generate --out PREFIX`: a CurveZMQ key pair for a router or a worker.
struct KeysCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "keys", abstract: "Make CurveZMQ keys for routers and workers.",
    subcommands: [Generate.self])

  struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a Z85 key pair: PREFIX.key (the secret, mode 0600) and PREFIX.pub.",
      discussion: """
        The secret stays on its machine (--curve-secret-key PREFIX.key). A worker's PREFIX.pub \\
        goes into the router's --authorized-keys file (one key per line); the router's \\
        PREFIX.pub is each worker's --router-public-key. Existing files are not overwritten.
        """)

    @Option(help: "Path prefix of the two files, e.g. /etc/tessera/worker-1.") var out: String

    func run() throws {
      let keys = try KeyFiles.generate(prefix: out)
      print("wrote \(out).key (secret, 0600) and \(out).pub: \(keys.publicKey)")
    }
  }
}
