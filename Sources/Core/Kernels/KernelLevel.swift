import CKernels
public import Foundation

/// The kernel sets the C kernels choose from at run time, from the most portable up. Every
/// set computes the same bits; a cap (`TESSERA_KERNELS`, `bench --kernels`) only changes how
/// fast. A CPU may have AVX-512 VNNI without AVX-VNNI (Zen 4) or the reverse (Alder Lake):
/// a cap runs the best set the CPU has at or below it.
public enum KernelLevel: String, CaseIterable, Sendable, CustomStringConvertible {
  case portable
  case avx2
  case avxvnni
  case avx512vnni

  /// The environment variable that caps the level for a whole process (and the workers it
  /// starts, which inherit it).
  public static let environmentVariable = "TESSERA_KERNELS"

  var raw: Int32 {
    switch self {
    case .portable: Int32(TK_KERNELS_PORTABLE)
    case .avx2: Int32(TK_KERNELS_AVX2)
    case .avxvnni: Int32(TK_KERNELS_AVX_VNNI)
    case .avx512vnni: Int32(TK_KERNELS_AVX512_VNNI)
    }
  }

  public var description: String { rawValue }

  /// Whether this CPU runs this set.
  public var isAvailable: Bool { tk_kernels_available(raw) != 0 }

  /// The sets this CPU runs.
  public static var available: [KernelLevel] { allCases.filter(\.isAvailable) }

  /// The set in use now.
  public static var current: KernelLevel {
    allCases.first { $0.raw == tk_kernel_level() } ?? .portable
  }

  /// Runs no set above `level` from now on (nil lifts the cap); returns the set in use.
  @discardableResult
  public static func cap(_ level: KernelLevel?) -> KernelLevel {
    tk_limit_kernels(level?.raw ?? -1)
    return current
  }

  /// A name of the command line or the environment, or a clear error naming the choices.
  public static func named(_ name: String, from source: String) throws -> KernelLevel {
    guard let level = KernelLevel(rawValue: name.lowercased()) else {
      throw KernelLevelError.unknown(name: name, source: source)
    }
    return level
  }

  /// Caps the level from `TESSERA_KERNELS`, the one place it is read (the executable calls it
  /// at start, before any kernel runs); a misspelt value is an error, not a full-speed run.
  public static func checkEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws {
    guard let value = environment[environmentVariable], !value.isEmpty else { return }
    cap(try named(value, from: environmentVariable))
  }
}

/// A kernel level that does not exist.
public enum KernelLevelError: Error, Equatable, Sendable, CustomStringConvertible {
  case unknown(name: String, source: String)

  public var description: String {
    switch self {
    case .unknown(let name, let source):
      let choices = KernelLevel.allCases.map(\.rawValue).joined(separator: ", ")
      return "\(source): unknown kernel level '\(name)' (one of \(choices))"
    }
  }
}
