import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Bytes on a plain TCP connection to a loopback port: what a stranger who is no ZeroMQ peer
/// at all would send (garbage before any handshake).
public enum RawTCP {
  /// Connects to 127.0.0.1:`port`, writes `bytes` and closes; false when it cannot connect.
  @discardableResult
  public static func send(_ bytes: [UInt8], toPort port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { return false }
    return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } == bytes.count
  }
}
