import Foundation
import TestSupport
import Testing

/// The router's shape, checked on its sources: small files, and folders that depend on each
/// other in one direction only (a folder uses another when one of its files names a type
/// declared there).
@Suite struct RouterShapeTests {
  static let root = FixturePaths.packageRoot.appendingPathComponent("Sources/Router")

  /// Every Swift file under Sources/Router, by folder.
  static func sources() throws -> [(folder: String, file: String, text: String)] {
    let folders = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
    return try folders.flatMap { folder -> [(String, String, String)] in
      let url = root.appendingPathComponent(folder)
      guard let files = try? FileManager.default.contentsOfDirectory(atPath: url.path) else {
        return []
      }
      return try files.filter { $0.hasSuffix(".swift") }.sorted().map { file in
        (folder, file, try String(contentsOf: url.appendingPathComponent(file), encoding: .utf8))
      }
    }
  }

  @Test func noFileIsOver300Lines() throws {
    let sources = try Self.sources()
    #expect(sources.count > 20)
    for source in sources {
      let lines = source.text.split(separator: "\n", omittingEmptySubsequences: false).count - 1
      #expect(lines <= 300, "\(source.folder)/\(source.file) has \(lines) lines")
    }
  }

  @Test func foldersDependOnEachOtherInOneDirection() throws {
    let sources = try Self.sources()
    let declaration =
      /^(?:public |internal |package )?(?:final )?(?:struct|class|enum|protocol|actor|typealias) ([A-Z]\w*)/
      .anchorsMatchLineEndings()
    var home: [String: String] = [:]
    for source in sources {
      for match in source.text.matches(of: declaration) { home[String(match.1)] = source.folder }
    }
    var uses: [String: Set<String>] = [:]
    for source in sources {
      // Code only: what is before `//` on each line (doc comments name other folders' types).
      let code = source.text.split(separator: "\n").map {
        $0.split(separator: "//", omittingEmptySubsequences: false).first ?? ""
      }.joined(separator: "\n")
      let words = Set(code.split { !$0.isLetter && !$0.isNumber && $0 != "_" }.map(String.init))
      for word in words {
        if let folder = home[word], folder != source.folder {
          uses[source.folder, default: []].insert(folder)
        }
      }
    }
    #expect(uses["Serving"]?.contains("HTTP") != true && uses["Serving"]?.contains("API") != true)
    // No cycle: visit depth-first, a folder on the current path seen again is one.
    var done: Set<String> = []
    func visit(_ folder: String, path: [String]) {
      if let start = path.firstIndex(of: folder) {
        Issue.record(
          "folders import each other: \((path[start...] + [folder]).joined(separator: " → "))")
        return
      }
      guard !done.contains(folder) else { return }
      for next in (uses[folder] ?? []).sorted() { visit(next, path: path + [folder]) }
      done.insert(folder)
    }
    for folder in uses.keys.sorted() { visit(folder, path: []) }
  }
}
