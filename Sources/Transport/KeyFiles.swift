import Foundation

/// Writing key files as `tessera keys generate` does: the secret readable by its owner only.
public enum KeyFiles {
  /// Writes `PREFIX.key` (the secret, mode 0600) and `PREFIX.pub`; refuses to overwrite.
  public static func generate(prefix: String) throws -> CurveKeyPair {
    let keys = try CurveKeyPair.generate()
    for path in ["\(prefix).key", "\(prefix).pub"]
    where FileManager.default.fileExists(atPath: path) {
      throw TransportError.keyFile(path, "exists already: not overwriting it (give another --out)")
    }
    try write(secretKey: keys.secretKey, to: "\(prefix).key")
    try write(publicKey: keys.publicKey, to: "\(prefix).pub")
    return keys
  }

  public static func write(secretKey: String, to path: String) throws {
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data("\(secretKey)\n".utf8),
        attributes: [.posixPermissions: 0o600])
    else { throw TransportError.keyFile(path, "cannot be written") }
  }

  public static func write(publicKey: String, to path: String) throws {
    try Data("\(publicKey)\n".utf8).write(to: URL(fileURLWithPath: path))
  }
}
