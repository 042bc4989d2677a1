/// A reply from Redis, copied out of hiredis's reply object.
public enum RedisReply: Sendable, Equatable {
  case string([UInt8])
  case status(String)
  case integer(Int)
  case array([RedisReply])
  case null
  /// An error reply for one command (in a pipeline the others still count).
  case error(String)

  /// The bytes of a bulk string, nil for a missing key; throws for anything else.
  public func bytes() throws(RedisError) -> [UInt8]? {
    switch self {
    case .string(let bytes): return bytes
    case .null: return nil
    case .error(let message): throw .server(message)
    default: throw .unexpectedReply("\(self) where a string was expected")
    }
  }

  /// The value of an integer reply; throws for anything else.
  public func integer() throws(RedisError) -> Int {
    switch self {
    case .integer(let value): return value
    case .error(let message): throw .server(message)
    default: throw .unexpectedReply("\(self) where an integer was expected")
    }
  }

  /// Succeeds for a status reply (`+OK`); throws for an error reply.
  public func ok() throws(RedisError) {
    switch self {
    case .status, .integer, .string: return
    case .error(let message): throw .server(message)
    default: throw .unexpectedReply("\(self) where a status was expected")
    }
  }
}
