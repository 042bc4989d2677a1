import CKernels
import Core
import Testing

/// The names TESSERA_KERNELS and `bench --kernels` take, and the read-bandwidth probe.
@Suite struct KernelLevelTests {
  @Test func namesAreTheLevelsOfTheCKernels() throws {
    for level in KernelLevel.allCases {
      #expect(try KernelLevel.named(level.rawValue, from: "test") == level)
    }
    #expect(try KernelLevel.named("AVX2", from: "test") == .avx2)
    #expect(KernelLevel.available.contains(.portable))
    #expect(KernelLevel.available.first == .portable)
  }

  @Test func anUnknownNameIsAClearError() {
    #expect(throws: KernelLevelError.unknown(name: "avx9", source: "TESSERA_KERNELS")) {
      try KernelLevel.checkEnvironment(["TESSERA_KERNELS": "avx9"])
    }
    let message = KernelLevelError.unknown(name: "avx9", source: "--kernels").description
    #expect(message.contains("avx512vnni") && message.contains("'avx9'"))
  }

  @Test func theReadLoopsMeasureARate() {
    var fastest: Int32 = -1
    let rate = tk_read_bandwidth(16 << 20, 2, &fastest)
    #expect(rate > 1e8)  // any machine reads 16 MiB faster than 100 MB/s
    #expect((0...2).contains(fastest))
    #expect(tk_read_bandwidth(0, 1, nil) == 0)
  }
}
