import CZeroMQ
import Foundation

/// A CurveZMQ key pair in Z85 text (40 characters each): the secret stays in this process,
/// the public key is what peers are told and what allow-lists hold.
public struct CurveKeyPair: Sendable, Hashable {
  public let publicKey: String
  public let secretKey: String

  /// A fresh key pair from libzmq (libsodium).
  public static func generate() throws(TransportError) -> CurveKeyPair {
    var publicKey = [CChar](repeating: 0, count: 41)
    var secretKey = [CChar](repeating: 0, count: 41)
    guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw .last("zmq_curve_keypair") }
    return CurveKeyPair(
      publicKey: String(cString: publicKey), secretKeyChecked: String(cString: secretKey))
  }

  private init(publicKey: String, secretKeyChecked: String) {
    self.publicKey = publicKey
    self.secretKey = secretKeyChecked
  }

  /// The pair of a Z85 secret key (its public key is derived from it).
  public init(secretKey: String) throws(TransportError) {
    guard Self.isZ85Key(secretKey) else { throw .badKey("not a 40-character Z85 secret key") }
    var publicKey = [CChar](repeating: 0, count: 41)
    guard zmq_curve_public(&publicKey, secretKey) == 0 else { throw .badKey("not a Curve key") }
    self.publicKey = String(cString: publicKey)
    self.secretKey = secretKey
  }

  /// Reads a secret key file (`tessera keys generate` writes `PREFIX.key`). A file that
  /// others may read is refused: the secret is the worker's or router's identity.
  public static func read(secretKeyFile path: String) throws(TransportError) -> CurveKeyPair {
    let text = try readKeyFile(path)
    guard let line = keyLines(text).first else { throw .keyFile(path, "holds no key") }
    var status = stat()
    if stat(path, &status) == 0, status.st_mode & 0o077 != 0 {
      throw .keyFile(
        path,
        "is readable by others (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
    }
    do {
      return try CurveKeyPair(secretKey: line)
    } catch {
      throw .keyFile(path, "\(error)")
    }
  }

  /// Reads one public key (`PREFIX.pub`).
  public static func read(publicKeyFile path: String) throws(TransportError) -> String {
    let keys = try read(publicKeysFile: path)
    guard keys.count == 1, let key = keys.first else {
      throw .keyFile(path, "must hold exactly one public key, has \(keys.count)")
    }
    return key
  }

  /// Reads an allow-list: public keys one per line; blank lines and lines starting with `#`
  /// are skipped, and text after the key on its line (a name, say) is ignored. (`#` is a Z85
  /// character, so a comment takes a line of its own.)
  public static func read(publicKeysFile path: String) throws(TransportError) -> [String] {
    let keys = keyLines(try readKeyFile(path))
    for (index, key) in keys.enumerated() where !isZ85Key(key) {
      throw .keyFile(path, "key \(index + 1) is not a 40-character Z85 public key")
    }
    return keys
  }

  /// Whether `text` is 40 characters of the Z85 alphabet (32 bytes).
  public static func isZ85Key(_ text: String) -> Bool {
    text.utf8.count == 40 && text.utf8.allSatisfy { z85Alphabet.contains($0) }
  }

  /// The Z85 text of a raw 32-byte key (as ZAP requests carry it).
  static func z85(_ bytes: [UInt8]) -> String? {
    guard bytes.count == 32 else { return nil }
    var text = [CChar](repeating: 0, count: 41)
    guard zmq_z85_encode(&text, bytes, 32) != nil else { return nil }
    return String(cString: text)
  }

  private static let z85Alphabet = Set(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

  private static func keyLines(_ text: String) -> [String] {
    text.split(whereSeparator: \.isNewline).compactMap { line in
      guard let first = line.split(whereSeparator: \.isWhitespace).first, !first.hasPrefix("#")
      else { return nil }
      return String(first)
    }
  }

  private static func readKeyFile(_ path: String) throws(TransportError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .keyFile(path, "cannot be read")
    }
    guard data.count <= 1 << 20 else { throw .keyFile(path, "is larger than 1 MiB") }
    return String(decoding: data, as: UTF8.self)
  }
}
