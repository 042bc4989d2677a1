// swift-tools-version: 6.1
import Foundation
import PackageDescription

// `make test` first runs the allocation-counting test in a release build; it needs only Core
// and its tests. With TESSERA_CORE_ONLY set the package is just those targets, so that build
// does not compile the router, the NIO stack and the test client a second time, in release.
let coreOnly = ProcessInfo.processInfo.environment["TESSERA_CORE_ONLY"] != nil
let coreTargets: Set<String> = ["CKernels", "Core", "TestSupport", "MallocCounter", "CoreTests"]

let strictSwift: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let allTargets: [Target] = [
  // The hot numeric kernels (quantized dot products, matrix products, attention) in C with
  // intrinsics and run-time CPU dispatch; always optimized, even in debug builds, and never
  // with fused multiply-adds (see the arithmetic contract in tessera_kernels.h).
  .target(
    name: "CKernels",
    cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno"])]
  ),
  // Everything both router and workers need, with no network I/O: GGUF, quant formats,
  // tokenizer, chat templates, model and forward pass, sampling, partition plans, wire format.
  .target(
    name: "Core",
    dependencies: ["CKernels", .product(name: "Logging", package: "swift-log")],
    swiftSettings: strictSwift),
  // Process helpers Swift cannot call directly (prctl).
  .target(name: "CProcess"),
  // libzmq (Debian libzmq3-dev) through a thin system-library shim.
  .systemLibrary(
    name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
  // hiredis (Debian libhiredis-dev, 0.14) through a thin system-library shim.
  .systemLibrary(
    name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
  // A Redis client over hiredis: connections with timeouts, a pool with back-off, pipelines.
  .target(name: "RedisClient", dependencies: ["CHiredis", "Core"], swiftSettings: strictSwift),
  // The context-fragment cache: prefix KV blocks in a local tier and in Redis.
  .target(
    name: "ContextCache", dependencies: ["Core", "RedisClient"], swiftSettings: strictSwift),
  // Small Swift types over ZeroMQ sockets (ROUTER/DEALER, polling, limits, CurveZMQ with a
  // ZAP allow-list).
  .target(name: "Transport", dependencies: ["CZeroMQ"], swiftSettings: strictSwift),
  // Worker process logic: joins a router, loads its shard, runs forward steps.
  .target(
    name: "Worker", dependencies: ["Core", "Transport", "RedisClient", "ContextCache"],
    swiftSettings: strictSwift),
  // Router process logic: HTTP API, scheduling, cluster membership, storage.
  .target(
    name: "Router",
    dependencies: [
      "Core", "Transport", "CProcess", "RedisClient", "ContextCache",
      .product(name: "Hummingbird", package: "hummingbird"),
      .product(name: "HummingbirdTLS", package: "hummingbird"),
      .product(name: "NIOSSL", package: "swift-nio-ssl"),
      .product(name: "Metrics", package: "swift-metrics"),
      .product(name: "Prometheus", package: "swift-prometheus"),
      .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      .product(name: "Yams", package: "Yams"),
    ],
    resources: [.copy("HTTP/openapi.yaml")],
    swiftSettings: strictSwift),
  // The one thin executable; every subcommand lives in its own file.
  .executableTarget(
    name: "tessera",
    dependencies: [
      "Core", "Worker", "Router", "CKernels", "CProcess", "RedisClient", "ContextCache",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
      .product(name: "Hummingbird", package: "hummingbird"),
    ],
    swiftSettings: strictSwift
  ),
  // Helpers shared by the test targets: the GGUF writer, model/fixture locations.
  .target(
    name: "TestSupport", dependencies: ["Core"], path: "Tests/TestSupport",
    swiftSettings: strictSwift),
  // Times the kernels on the kernel tests' cases: swift run -c release kernel-bench
  .executableTarget(
    name: "kernel-bench",
    dependencies: ["Core", "CKernels", "TestSupport"],
    path: "Benchmarks/KernelBench",
    swiftSettings: strictSwift
  ),
  // Counts the test thread's heap allocations (interposes malloc in the test process).
  .target(name: "MallocCounter", path: "Tests/MallocCounter"),
  .testTarget(
    name: "CoreTests",
    dependencies: ["Core", "CKernels", "TestSupport", "MallocCounter"],
    swiftSettings: strictSwift
  ),
  // The cluster's parts with real ZeroMQ sockets in one process: transport, wire format,
  // coordinator and workers.
  .testTarget(
    name: "ClusterTests",
    dependencies: ["Core", "Transport", "Worker", "Router", "TestSupport"],
    swiftSettings: strictSwift
  ),
  // The Redis client against a real redis-server of the test's own.
  .testTarget(
    name: "StorageTests",
    dependencies: ["Core", "RedisClient", "ContextCache", "Router", "TestSupport"],
    swiftSettings: strictSwift),
  // The router's logic without I/O: the scheduler's state machine, request handling.
  .testTarget(
    name: "RouterTests",
    dependencies: [
      "Core", "Router", "ContextCache", "TestSupport",
      .product(name: "HummingbirdTesting", package: "hummingbird"),
    ],
    swiftSettings: strictSwift),
  // Tests that run the tessera executable (and later, clusters of real processes).
  .testTarget(
    name: "IntegrationTests",
    dependencies: ["Core", "TestSupport", "Transport", "Router", "tessera"],
    swiftSettings: strictSwift
  ),
]

let package = Package(
  name: "Tessera",
  platforms: [.macOS(.v15)],
  products: (coreOnly ? [] : [.executable(name: "tessera", targets: ["tessera"])]) + [
    .library(name: "Core", targets: ["Core"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
  ],
  targets: coreOnly ? allTargets.filter { coreTargets.contains($0.name) } : allTargets
)
