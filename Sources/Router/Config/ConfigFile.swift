import Foundation
import Yams

/// A YAML file of a command's options (`--config FILE`): the flags' own names without the
/// dashes, so a ConfigMap or `/etc/tessera/router.yaml` can hold them —
///
/// ```yaml
/// workers-bind: tcp://0.0.0.0:5555
/// tp: 2
/// curve-secret-key: /etc/tessera/router.key
/// api-key: [first-key, second-key]
/// insecure: false
/// ```
///
/// It becomes arguments put before the command line's. A flag on the command line overrides
/// the file's entry of the same name (a list on the command line replaces the file's list);
/// a key that is not one of the command's options is an error, as is a nested mapping.
public enum ConfigFile {
  /// Largest config file read.
  static let maxBytes = 1 << 20

  /// `commandLine` with the options of the YAML file `path` put first, where the command line
  /// does not give them. `known` are the command's option names (without dashes).
  public static func expand(_ commandLine: [String], path: String, known: Set<String>)
    throws(ConfigError) -> [String]
  {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigError(path: path, "cannot be read")
    }
    guard data.count <= maxBytes else { throw ConfigError(path: path, "is larger than 1 MiB") }
    let given = Set(
      commandLine.compactMap { argument -> String? in
        guard argument.hasPrefix("--") else { return nil }
        return String(argument.dropFirst(2).prefix { $0 != "=" })
      })
    let entries = try options(String(decoding: data, as: UTF8.self), path: path, known: known)
    return entries.filter { !given.contains($0.name) }.flatMap(\.arguments) + commandLine
  }

  /// One option of the file as arguments.
  struct Entry: Equatable {
    let name: String
    let arguments: [String]
  }

  /// The options of a YAML text, in the file's order.
  static func options(_ text: String, path: String, known: Set<String>) throws(ConfigError)
    -> [Entry]
  {
    let node: Node?
    do {
      node = try Yams.compose(yaml: text)
    } catch {
      throw ConfigError(path: path, "is not YAML: \(error)")
    }
    guard let node else { return [] }
    guard let mapping = node.mapping else {
      throw ConfigError(path: path, "must be a mapping of option names to values")
    }
    var entries: [Entry] = []
    for (key, value) in mapping {
      guard let name = key.scalar?.string else {
        throw ConfigError(path: path, "has a key that is not a name")
      }
      guard known.contains(name) else {
        throw ConfigError(
          path: path,
          "has an unknown key '\(name)' (the keys are the command's flags, e.g. "
            + "'workers-bind', without the dashes)")
      }
      entries.append(Entry(name: name, arguments: try arguments(name, value, path: path)))
    }
    return entries
  }

  private static func arguments(_ name: String, _ value: Node, path: String)
    throws(ConfigError) -> [String]
  {
    switch value {
    case .scalar(let scalar):
      // A boolean is a flag: `insecure: true` gives --insecure, false gives nothing.
      if scalar.style == .plain, let flag = Bool.construct(from: scalar) {
        return flag ? ["--\(name)"] : []
      }
      return ["--\(name)", scalar.string]
    case .sequence(let sequence):
      var arguments: [String] = []
      for item in sequence {
        guard let text = item.scalar?.string else {
          throw ConfigError(path: path, "'\(name)' must be a list of values")
        }
        arguments += ["--\(name)", text]
      }
      return arguments
    default:
      throw ConfigError(path: path, "'\(name)' must be a value or a list, not a mapping")
    }
  }
}

/// A config file that cannot be used, and why.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
  public let description: String
  init(path: String, _ reason: String) { description = "config file \(path) \(reason)" }
}
