// swift-tools-version:6.1
import PackageDescription

// Build-wide note: every C library comes from the system through pkg-config (see Makefile `deps`),
// and the fuzz build links an instrumented protobuf-c instead (see fuzz/README.md).
let package = Package(
    name: "pex",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "PexWire", targets: ["PexWire"]),
        .library(name: "PexCore", targets: ["PexCore"]),
        .library(name: "PexRuntime", targets: ["PexRuntime"]),
        .library(name: "PexSim", targets: ["PexSim"]),
        .executable(name: "pexd", targets: ["pexd"]),
        .executable(name: "pexsim", targets: ["pexsim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "CPexProto",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .target(
            name: "PexWire",
            dependencies: ["CPexProto", "CSodium", "CZlib"]
        ),
        .target(
            name: "PexCore",
            dependencies: ["PexWire"]
        ),
        .target(
            name: "PexRuntime",
            dependencies: [
                "PexCore", "PexWire", "CSQLite", "CLibUV", "CPexProto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "PexSim",
            dependencies: ["PexCore", "PexWire"]
        ),
        .executableTarget(
            name: "pexd",
            dependencies: [
                "PexWire", "PexCore", "PexRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "pexsim",
            dependencies: [
                "PexSim", "PexCore", "PexWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "pexbench",
            dependencies: ["PexWire", "PexRuntime"]
        ),
        .testTarget(
            name: "PexCoreTests",
            dependencies: ["PexCore", "PexWire", "PexSim"]
        ),
        .testTarget(
            name: "PexRuntimeTests",
            dependencies: ["PexRuntime", "PexCore", "PexWire"]
        ),
        .testTarget(
            name: "PexSimTests",
            dependencies: ["PexSim", "PexCore", "PexWire"]
        ),
        .testTarget(
            name: "PexdTests",
            dependencies: ["pexd"]
        ),
        // Fuzzing (fuzz/README.md). The invariants each fuzzer checks live in a library so that the
        // regression tests replay every saved crash through the same code. A fuzz executable holds
        // only the libFuzzer entry point and, in ordinary builds, a `main` replaying input files.
        .target(name: "PexFuzzChecks", dependencies: ["PexWire", "PexCore"], path: "fuzz/Sources/PexFuzzChecks"),
        .executableTarget(name: "FuzzCore", dependencies: ["PexFuzzChecks"], path: "fuzz/Sources/FuzzCore"),
        .executableTarget(name: "FuzzFrame", dependencies: ["PexFuzzChecks"], path: "fuzz/Sources/FuzzFrame"),
        .executableTarget(name: "FuzzRecord", dependencies: ["PexFuzzChecks"], path: "fuzz/Sources/FuzzRecord"),
        .executableTarget(
            name: "FuzzMultiaddr", dependencies: ["PexFuzzChecks"], path: "fuzz/Sources/FuzzMultiaddr"
        ),
        .testTarget(
            name: "PexWireTests",
            dependencies: ["PexWire", "PexFuzzChecks"]
        ),
    ]
)
