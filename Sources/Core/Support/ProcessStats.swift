#if canImport(Glibc)
  import Glibc
#endif

/// Figures about this process, for reports and tests.
public enum ProcessStats {
  /// The most resident memory this process has used so far, in bytes.
  public static var peakResidentBytes: Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024  // Linux reports kilobytes
  }
}
