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
        .executable(name: "pexd", targets: ["pexd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
            name: "PexSim",
            dependencies: ["PexCore", "PexWire"]
        ),
        .executableTarget(
            name: "pexd",
            dependencies: [
                "PexWire",
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
            dependencies: ["PexWire"]
        ),
        .testTarget(
            name: "PexCoreTests",
            dependencies: ["PexCore", "PexWire", "PexSim"]
        ),
        .testTarget(
            name: "PexSimTests",
            dependencies: ["PexSim", "PexCore", "PexWire"]
        ),
        .testTarget(
            name: "PexdTests",
            dependencies: ["pexd"]
        ),
        .testTarget(
            name: "PexWireTests",
            dependencies: ["PexWire"]
        ),
    ]
)
