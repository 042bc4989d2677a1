import Core
import Testing

@testable import Router

/// The OpenAPI document describes exactly the routes the router registers.
@Suite struct OpenAPITests {
  /// (method, path) pairs under `paths:` of the YAML document (two-space indented paths,
  /// four-space indented methods).
  static func operations(_ yaml: String) -> Set<String> {
    var operations: Set<String> = []
    var inPaths = false
    var path: String?
    for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
      if line == "paths:" {
        inPaths = true
        continue
      }
      guard inPaths else { continue }
      if !line.hasPrefix(" ") && !line.isEmpty { break }  // the next top-level key
      if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
        path = String(line.dropFirst(2).dropLast())
      } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "),
        let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }
        )
      {
        operations.insert("\(method.uppercased()) \(path)")
      }
    }
    return operations
  }

  @Test func everyRegisteredRouteIsDocumentedAndNothingElse() throws {
    let vocabulary = try Vocabulary(
      tokens: ["<s>", "a"], types: [.control, .normal], merges: [],
      preTokenizer: PreTokenizer(name: "gpt2"), bosID: 0, addBOS: false)
    let serving = ServingContext(
      intake: RequestIntake(
        limits: .init(modelID: "test"), tokenizer: BPETokenizer(vocabulary: vocabulary),
        formatter: nil, contextLength: 16, fragments: nil, workersHoldTheModel: false),
      loop: ServingLoop(), requests: RequestRegistry(journal: .inMemory()))
    let registered = Set(
      makeRouter(serving, apiKeys: []).routes.map { "\($0.method) \($0.path)" })
    let documented = Self.operations(OperationsRoutes.openAPIDocument)
    #expect(registered.count >= 8)
    #expect(documented == registered)
  }

  @Test func theDocumentIsOpenAPI31() {
    #expect(OperationsRoutes.openAPIDocument.hasPrefix("openapi: 3.1.0\n"))
  }
}
