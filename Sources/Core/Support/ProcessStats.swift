#if canImport(Glibc)
  import Glibc
#endif

/// Figures about this process, for reports and tests.
public enum ProcessStats {
  /// The most resident memory this process's address space has used so far, in bytes.
  ///
  /// Read from `VmHWM` in /proc/self/status: `getrusage`'s `ru_maxrss` also counts the memory
  /// of the process that spawned this one (Linux carries the high-water mark across exec, and
  /// posix_spawn shares the parent's address space until then), so a program started by a
  /// large test process would report the test's memory as its own.
  public static var peakResidentBytes: Int {
    if let kilobytes = statusField("VmHWM:") { return kilobytes * 1024 }
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024  // Linux reports kilobytes
  }

  /// Memory the machine can give without swapping (`MemAvailable` in /proc/meminfo), in
  /// bytes; 0 when unknown. A worker announces it, and the planner keeps shards within it.
  public static func availableMemoryBytes() -> Int {
    (statusField("MemAvailable:", file: "/proc/meminfo") ?? 0) * 1024
  }

  /// A "Name:   123 kB" field of /proc/self/status (or `file`), in kilobytes.
  private static func statusField(_ name: String, file path: String = "/proc/self/status")
    -> Int?
  {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
      let text = String(
        decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      guard text.hasPrefix(name) else { continue }
      let fields = text.dropFirst(name.count).split { $0 == " " || $0 == "\t" || $0 == "\n" }
      return fields.first.flatMap { Int($0) }
    }
    return nil
  }
}
