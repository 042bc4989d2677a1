import CHiredis
import Foundation

/// One blocking connection to Redis (hiredis), with a timeout on connect and on every command.
/// Used by one thread at a time: `RedisClient` hands a connection to one caller at a time.
/// After an I/O error or a timeout the connection is broken and must not be reused.
public final class RedisConnection: @unchecked Sendable {
  private let context: UnsafeMutablePointer<redisContext>
  /// Set after an I/O error or a timeout: the stream may be mid-reply.
  public private(set) var isBroken = false

  /// Connects, then logs in (`AUTH`, with the ACL user if the URL has one) and selects the
  /// database.
  public init(url: RedisURL, connectTimeout: Double, commandTimeout: Double) throws(RedisError) {
    guard
      let context = redisConnectWithTimeout(url.host, Int32(url.port), Self.timeval(connectTimeout))
    else { throw .connect("\(url): out of memory") }
    guard tessera_redis_error(context) == 0 else {
      let detail = String(cString: tessera_redis_error_text(context))
      redisFree(context)
      throw .connect("\(url): \(detail)")
    }
    self.context = context
    guard redisSetTimeout(context, Self.timeval(commandTimeout)) == REDIS_OK else {
      throw .connect("\(url): cannot set the command timeout")
    }
    if let password = url.password {
      let login = url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
      try command(login).ok()
    }
    if url.database != 0 { try command(["SELECT", String(url.database)]).ok() }
  }

  deinit { redisFree(context) }

  /// Runs one command; an error reply comes back as `.error`, not thrown.
  public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
    try command(arguments.map { Array($0.utf8) })
  }

  /// Runs one command with binary arguments.
  public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
    try pipeline([arguments])[0]
  }

  /// Sends every command, then reads every reply: one round trip for the lot.
  public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
    guard !isBroken else { throw .io("the connection is broken") }
    for arguments in commands { try append(arguments) }
    var replies: [RedisReply] = []
    replies.reserveCapacity(commands.count)
    for _ in commands {
      var raw: UnsafeMutableRawPointer?
      guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw brokenError() }
      let reply = raw.assumingMemoryBound(to: redisReply.self)
      replies.append(Self.convert(reply))
      freeReplyObject(raw)
    }
    return replies
  }

  private func append(_ arguments: [[UInt8]]) throws(RedisError) {
    var joined: [UInt8] = []
    joined.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
    var offsets: [Int] = []
    for argument in arguments {
      offsets.append(joined.count)
      joined += argument
    }
    joined.append(0)  // never empty, so the buffer has an address
    let lengths = arguments.map { Int($0.count) }
    let status = joined.withUnsafeBufferPointer { buffer -> Int32 in
      guard let base = buffer.baseAddress else { return REDIS_ERR }
      let start = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
      var argv: [UnsafePointer<CChar>?] = offsets.map { start + $0 }
      return lengths.withUnsafeBufferPointer { sizes in
        redisAppendCommandArgv(context, Int32(arguments.count), &argv, sizes.baseAddress)
      }
    }
    guard status == REDIS_OK else { throw brokenError() }
  }

  private func brokenError() -> RedisError {
    isBroken = true
    let detail = String(cString: tessera_redis_error_text(context))
    return .io(detail.isEmpty ? "connection lost" : detail)
  }

  private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
    let value = reply.pointee
    func text() -> String {
      guard let str = value.str else { return "" }
      return String(
        decoding: UnsafeRawBufferPointer(start: str, count: Int(value.len)), as: UTF8.self)
    }
    switch value.type {
    case REDIS_REPLY_STRING:
      guard let str = value.str else { return .string([]) }
      return .string(Array(UnsafeRawBufferPointer(start: str, count: Int(value.len))))
    case REDIS_REPLY_STATUS: return .status(text())
    case REDIS_REPLY_ERROR: return .error(text())
    case REDIS_REPLY_INTEGER: return .integer(Int(value.integer))
    case REDIS_REPLY_ARRAY:
      guard let elements = value.element else { return .array([]) }
      return .array(
        (0..<Int(value.elements)).compactMap { index in elements[index].map(convert) })
    default: return .null
    }
  }

  private static func timeval(_ seconds: Double) -> Glibc.timeval {
    let whole = max(0, seconds.rounded(.down))
    return Glibc.timeval(
      tv_sec: Int(whole), tv_usec: Int(((max(0, seconds) - whole) * 1e6).rounded()))
  }
}
