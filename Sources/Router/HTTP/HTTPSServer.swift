public import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// The HTTP API over TLS (`--tls-cert`, `--tls-key`): a PEM certificate chain and its
/// private key, TLS 1.2 at least.
public enum HTTPSServer {
  /// The server to give `RouterConfiguration.server`; a file that cannot be read or parsed
  /// is an error naming it.
  public static func builder(certificate: String, key: String) throws -> HTTPServerBuilder {
    let chain: [NIOSSLCertificate]
    do {
      chain = try NIOSSLCertificate.fromPEMFile(certificate)
    } catch {
      throw HTTPSError("--tls-cert \(certificate): not a PEM certificate chain (\(error))")
    }
    guard !chain.isEmpty else { throw HTTPSError("--tls-cert \(certificate): no certificate") }
    let privateKey: NIOSSLPrivateKey
    do {
      privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
    } catch {
      throw HTTPSError("--tls-key \(key): not a PEM private key (\(error))")
    }
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    configuration.minimumTLSVersion = .tlsv12
    return try .tls(.http1(), tlsConfiguration: configuration)
  }
}

/// A TLS file that cannot be used.
public struct HTTPSError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}
