#if canImport(Glibc)
  import Glibc
#endif

/// The process environment, without Foundation.
public enum Environment {
  public static func value(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
  }
}
