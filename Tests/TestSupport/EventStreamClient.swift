public import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A server-sent-events client on a plain socket, for tests that must read a stream a few
/// events at a time, drop it midway, or watch it break when the server dies — what URLSession
/// does not let a test do. HTTP/1.1, chunked or not; every read has a deadline.
public final class EventStreamClient {
  public struct Event: Equatable, Sendable {
    public var id: Int?
    public var data: String
  }

  public struct Failed: Error, CustomStringConvertible {
    public let description: String
  }

  private var socket: Int32
  private var raw: [UInt8] = []
  private var body: [UInt8] = []
  private var chunked = false
  private var headersRead = false
  private var closed = false
  public private(set) var status = 0

  /// Connects to 127.0.0.1:`port` and sends the request.
  public init(
    port: Int, method: String = "POST", path: String, json: [String: Any]? = nil,
    headers: [String: String] = [:], timeout: Double = 120
  ) throws {
    socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw Failed(description: "socket() failed") }
    var seconds = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      Glibc.close(socket)
      throw Failed(description: "cannot connect to port \(port)")
    }
    let payload = try json.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    request += "Accept: text/event-stream\r\n"
    if json != nil {
      request += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n"
    }
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    let bytes = Array((request + "\r\n").utf8) + Array(payload)
    let sent = bytes.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    guard sent == bytes.count else {
      Glibc.close(socket)
      throw Failed(description: "cannot send the request")
    }
  }

  deinit { close() }

  /// Drops the connection (as a client that goes away).
  public func close() {
    guard !closed else { return }
    closed = true
    Glibc.close(socket)
  }

  /// The next event; nil when the stream ended (the server closed it, or it died).
  public func next() throws -> Event? {
    while true {
      if let end = find([10, 10], in: body) {
        let block = String(decoding: body[..<end], as: UTF8.self)
        body.removeFirst(end + 2)
        var event = Event(id: nil, data: "")
        for line in block.split(separator: "\n") {
          if line.hasPrefix("id: ") { event.id = Int(line.dropFirst(4)) }
          if line.hasPrefix("data: ") { event.data = String(line.dropFirst(6)) }
        }
        return event
      }
      guard try receive() else { return nil }
    }
  }

  /// Every event to the end of the stream.
  public func rest() throws -> [Event] {
    var events: [Event] = []
    while let event = try next() { events.append(event) }
    return events
  }

  /// Reads more from the socket into `body`; false at the end of the stream.
  private func receive() throws -> Bool {
    var buffer = [UInt8](repeating: 0, count: 16_384)
    let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
    if count < 0 {
      if errno == EAGAIN || errno == EWOULDBLOCK { throw Failed(description: "read timed out") }
      return false  // reset: the server went away
    }
    if count == 0 { return false }
    raw += buffer[..<count]
    if !headersRead {
      guard let end = find([13, 10, 13, 10], in: raw) else { return true }
      let head = String(decoding: raw[..<end], as: UTF8.self)
      status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
      chunked = head.lowercased().contains("transfer-encoding: chunked")
      raw.removeFirst(end + 4)
      headersRead = true
    }
    if !chunked {
      body += raw
      raw = []
      return true
    }
    // Chunked: size line, bytes, CRLF; as many whole chunks as have arrived.
    while let line = find([13, 10], in: raw) {
      let sizeText = String(decoding: raw[..<line], as: UTF8.self).split(separator: ";").first ?? ""
      guard let size = Int(sizeText, radix: 16) else {
        throw Failed(description: "bad chunk size '\(sizeText)'")
      }
      if size == 0 { return true }
      guard raw.count >= line + 2 + size + 2 else { break }
      body += raw[(line + 2)..<(line + 2 + size)]
      raw.removeFirst(line + 2 + size + 2)
    }
    return true
  }

  private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for start in 0...(haystack.count - needle.count)
    where haystack[start] == needle[0] && Array(haystack[start..<(start + needle.count)]) == needle
    {
      return start
    }
    return nil
  }
}
