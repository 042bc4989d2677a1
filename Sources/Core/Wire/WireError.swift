/// A message that cannot be decoded: the peer sent garbage, an old or newer protocol, or a
/// value out of range. Receivers log it and drop the message.
public enum WireError: Error, Equatable, CustomStringConvertible {
  case badMagic
  case unsupportedVersion(UInt8)
  case unknownCommand(UInt8)
  case truncated(reading: String)
  case trailingBytes(Int)
  case outOfRange(String)

  public var description: String {
    switch self {
    case .badMagic: "not a Tessera message"
    case .unsupportedVersion(let version):
      "wire version \(version) is not supported (this build speaks \(WireMessage.version))"
    case .unknownCommand(let command): "unknown command \(command)"
    case .truncated(let what): "message ends inside \(what)"
    case .trailingBytes(let count): "\(count) bytes after the end of the message"
    case .outOfRange(let what): "\(what) is out of range"
    }
  }
}
