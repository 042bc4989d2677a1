public import Foundation

/// Turns a request body into a typed request or an `APIError` that names what is wrong:
/// malformed JSON, a body that is not an object, a parameter Tessera does not support that
/// would change the output, a missing field or a value of the wrong type.
public enum RequestDecoding {
  /// Parameters that change the output and are not supported: rejected when present and not
  /// null (or not their neutral value).
  static let unsupported: [String] = [
    "tools", "tool_choice", "functions", "function_call", "response_format", "logit_bias",
    "parallel_tool_calls", "audio", "modalities", "prediction", "suffix", "web_search_options",
  ]

  public static func decode<Request: Decodable>(_: Request.Type, from body: Data)
    throws(APIError) -> Request
  {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
    } catch {
      throw .invalid("The body is not valid JSON")
    }
    guard let fields = object as? [String: Any] else {
      throw .invalid("The body must be a JSON object")
    }
    for name in unsupported where fields[name] != nil && !(fields[name] is NSNull) {
      throw .unsupported(name)
    }
    if let echo = fields["echo"] as? Bool, echo { throw .unsupported("echo") }
    if let bestOf = fields["best_of"] as? Int, bestOf != 1 { throw .unsupported("best_of") }
    do {
      return try JSONDecoder().decode(Request.self, from: body)
    } catch let error as APIError {
      throw error
    } catch let error as DecodingError {
      throw describe(error)
    } catch {
      throw .invalid("The body could not be read: \(error)")
    }
  }

  static func describe(_ error: DecodingError) -> APIError {
    func path(_ codingPath: [any CodingKey]) -> String {
      codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        .trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
    switch error {
    case .keyNotFound(let key, let context):
      let name = path(context.codingPath + [key])
      return .invalid("'\(name)' is required", param: name)
    case .typeMismatch(let type, let context):
      let name = path(context.codingPath)
      return .invalid("'\(name)' must be of type \(typeName(type))", param: name)
    case .valueNotFound(let type, let context):
      let name = path(context.codingPath)
      return .invalid("'\(name)' must be of type \(typeName(type)), not null", param: name)
    case .dataCorrupted(let context):
      let name = path(context.codingPath)
      return .invalid(
        name.isEmpty
          ? context.debugDescription : "'\(name)': \(context.debugDescription)",
        param: name.isEmpty ? nil : name)
    @unknown default:
      return .invalid("The body could not be read")
    }
  }

  static func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "string"
    case is Bool.Type: "boolean"
    case is Int.Type, is UInt64.Type, is Int64.Type: "integer"
    case is Double.Type, is Float.Type: "number"
    default: "\(type)".hasPrefix("Array") ? "array" : "object"
    }
  }
}
