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

/// A loopback port held bound (not listening: a connection to it is refused, as to a port
/// nobody uses) so that no other test's "free port" can be this one until `release()`. A test
/// that keeps a port empty on purpose for a while (Redis down) and then starts a server on it
/// needs this: otherwise a server of another test running meanwhile may take it.
public final class ReservedPort: @unchecked Sendable {
  public let port: Int
  private var fd: Int32

  public convenience init() throws { try self.init(binding: 0) }

  /// Holds `port`, which a server of this test just left (Redis crashed or stopped), until the
  /// test starts its server there again.
  public convenience init(port: Int) throws { try self.init(binding: port) }

  private init(binding wanted: Int) throws {
    // Close-on-exec: a process another test spawns meanwhile must not inherit (and so keep)
    // the binding. SO_REUSEADDR: the port's last connections may be in TIME_WAIT.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    var reuse: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(wanted).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard fd >= 0, bound == 0, named == 0 else {
      if fd >= 0 { close(fd) }
      throw RawTCP.Failed(description: "cannot reserve a loopback port")
    }
    self.fd = fd
    port = Int(UInt16(bigEndian: address.sin_port))
  }

  /// Lets the port go (to the server about to start on it).
  public func release() {
    if fd >= 0 { close(fd) }
    fd = -1
  }

  deinit { release() }
}

extension RawTCP {
  public struct Failed: Error, CustomStringConvertible {
    public let description: String
  }
}
