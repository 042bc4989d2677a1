import Foundation

/// Where Redis is and how to log in: `redis://[user:password@]host[:port][/db]`
/// (`redis://:password@host` for a password without an ACL user).
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var port: Int
  public var user: String?
  public var password: String?
  public var database: Int

  public init(
    host: String, port: Int = 6379, user: String? = nil, password: String? = nil,
    database: Int = 0
  ) {
    self.host = host
    self.port = port
    self.user = user
    self.password = password
    self.database = database
  }

  public init(_ text: String) throws(RedisError) {
    guard let components = URLComponents(string: text), components.scheme == "redis" else {
      throw .badURL("'\(text)' (expected redis://[user:pass@]host[:port][/db])")
    }
    guard let host = components.host, !host.isEmpty else { throw .badURL("'\(text)' has no host") }
    let port = components.port ?? 6379
    guard (1...65_535).contains(port) else { throw .badURL("port \(port) is out of range") }
    let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    guard path.isEmpty || Int(path) != nil else {
      throw .badURL("'\(path)' is not a database number")
    }
    let database = Int(path) ?? 0
    guard database >= 0 else { throw .badURL("database \(database) is negative") }
    let user = components.percentEncodedUser?.removingPercentEncoding
    self.init(
      host: host, port: port, user: user?.isEmpty == true ? nil : user,
      password: components.percentEncodedPassword?.removingPercentEncoding, database: database)
  }

  /// The URL without its password, for logs and errors.
  public var description: String {
    let login =
      switch (user, password) {
      case (let user?, _?): "\(user):***@"
      case (nil, _?): ":***@"
      case (let user?, nil): "\(user)@"
      case (nil, nil): ""
      }
    return "redis://\(login)\(host):\(port)/\(database)"
  }
}
