import Foundation
import Transport

/// Curve keys made for one run of a local cluster: the router's pair and one per worker
/// slot (a restarted worker keeps its slot's key), the secrets in a private directory
/// (mode 0700, files 0600) that the cluster removes when it stops.
struct EphemeralKeys {
  let directory: String
  let security: Coordinator.Security
  private let routerPublicFile: String

  init(workers: Int) throws {
    directory =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("tessera-keys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
      .path
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: false,
      attributes: [.posixPermissions: 0o700])
    let router = try CurveKeyPair.generate()
    routerPublicFile = "\(directory)/router.pub"
    try KeyFiles.write(publicKey: router.publicKey, to: routerPublicFile)
    var workerKeys: [String] = []
    for index in 0..<workers {
      let keys = try CurveKeyPair.generate()
      try KeyFiles.write(secretKey: keys.secretKey, to: "\(directory)/worker-\(index).key")
      workerKeys.append(keys.publicKey)
    }
    security = Coordinator.Security(keys: router, authorizedKeys: workerKeys)
  }

  /// The key flags of worker `index`.
  func arguments(_ index: Int) -> [String] {
    [
      "--curve-secret-key", "\(directory)/worker-\(index).key", "--router-public-key",
      routerPublicFile,
    ]
  }
}
