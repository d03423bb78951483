// swift-tools-version: 6.1
// rzero: R-Zero (self-evolving reasoning from zero data) on the CPU in Swift.
// Module layers point one way: COpenBLAS -> RZTensor -> RZModel -> ... -> rzero (CLI).
import Foundation
import PackageDescription

// Numeric targets are always optimised, and as whole modules: debug-built Swift loops are 10-50x slower,
// and without whole-module optimisation a kernel cannot inline a helper from another file (`fastExp`),
// so its loop stays scalar. Safety checks stay on.
let numericSettings: [SwiftSetting] = [.unsafeFlags(["-O", "-wmo", "-num-threads", "1"] + vectorTargetFlags())]

/// The CPU the numeric kernels are compiled for, so their loops use the widest vectors the machine has
/// (OpenBLAS picks its GEMM kernels at run time whatever this says). Like llama.cpp's GGML_NATIVE, the
/// default is the building machine: on x86-64 with AVX2 and FMA, `haswell` (256-bit vectors); otherwise
/// the compiler's baseline. `RZERO_TARGET_CPU=portable` builds for any x86-64 (for images that move
/// between hosts), and any other value is passed to `-target-cpu` as is. SwiftPM caches the evaluated
/// manifest: after changing the variable, `rm -rf .build` (or touch Package.swift).
func vectorTargetFlags() -> [String] {
    let requested = ProcessInfo.processInfo.environment["RZERO_TARGET_CPU"] ?? "native"
    switch requested {
    case "portable", "": return []
    case "native": break
    default: return ["-target-cpu", requested]
    }
    #if arch(x86_64) && os(Linux)
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let flagLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    let flags = Set(flagLine.split(separator: " ").map(String.init))
    // Haswell's vector and bit-manipulation extensions: every x86-64 server core since 2013, AMD Zen included.
    return ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe"].allSatisfy(flags.contains) ? ["-target-cpu", "haswell"] : []
    #else
    return []
    #endif
}

let package = Package(
    name: "rzero",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "rzero", targets: ["rzero"]),
        .library(name: "RZModel", targets: ["RZModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The row-invariant products of the sampling path (AVX-512 BF16 / AVX-512 / AVX2 / portable, picked at run
        // time). Always optimised: intrinsics at -O0 are slower than the portable code.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(
            name: "RZTensor",
            dependencies: ["COpenBLAS", "CKernels"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "RZModel",
            dependencies: ["RZTensor"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "RZTraining",
            dependencies: ["RZModel", "RZTensor"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "RZSampling",
            dependencies: ["RZModel", "RZTensor"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "RZTokenizer"
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "RZHost",
            dependencies: [
                "CCrypto", "RZModel", "RZSampling", "RZTraining", "RZTokenizer",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RZAPI",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            // Generated code emits hundreds of "public import not used" warnings on Swift 6.3.
            swiftSettings: [.unsafeFlags(["-suppress-warnings"])],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "RZServer",
            dependencies: [
                "RZAPI", "RZClient", "RZHost", "RZModel", "RZSampling", "RZTraining", "RZTokenizer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "CCurlShim",
            dependencies: ["CCurl"]
        ),
        .target(
            name: "RZClient",
            dependencies: [
                "CCurl", "CCurlShim", "RZAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RZPretrain",
            dependencies: ["RZModel", "RZTraining", "RZTokenizer"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "RZRewards",
            dependencies: [.product(name: "BigInt", package: "BigInt")]
        ),
        .target(
            name: "RZCoordinator",
            dependencies: [
                "RZAPI", "RZRewards", "RZModel",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "rzero",
            dependencies: [
                "RZModel",
                "RZTraining",
                "RZSampling",
                "RZTokenizer",
                "RZHost",
                "RZServer",
                "RZRewards",
                "RZCoordinator",
                "RZClient",
                "RZPretrain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RZTestSupport",
            dependencies: ["RZTensor"],
            path: "Tests/RZTestSupport"
        ),
        .testTarget(
            name: "RZTensorTests",
            dependencies: ["RZTensor", "RZTestSupport"]
        ),
        .testTarget(
            name: "RZModelTests",
            dependencies: ["RZModel", "RZTensor", "RZTestSupport"]
        ),
        .testTarget(
            name: "RZSamplingTests",
            dependencies: ["RZSampling", "RZModel", "RZTensor", "RZTokenizer", "RZTestSupport"]
        ),
        .testTarget(
            name: "RZTokenizerTests",
            dependencies: ["RZTokenizer"]
        ),
        .testTarget(
            name: "RZHostTests",
            dependencies: ["RZHost", "RZModel", "RZSampling", "RZTraining", "RZTestSupport",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "RZServerTests",
            dependencies: [
                "RZServer", "RZAPI", "RZHost", "RZModel", "RZSampling", "RZTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RZCoordinatorTests",
            dependencies: [
                "RZCoordinator", "RZClient", "RZServer", "RZHost", "RZModel", "RZTraining", "RZTokenizer", "RZRewards",
                "RZTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RZPretrainTests",
            dependencies: ["RZPretrain", "RZModel", "RZTokenizer", "RZTestSupport"]
        ),
        .testTarget(
            name: "RZClientTests",
            dependencies: [
                "RZClient", "RZAPI", "RZTestSupport",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RZAPITests",
            dependencies: [
                "RZAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "RZRewardsTests",
            dependencies: ["RZRewards"]
        ),
        .testTarget(
            name: "RZTrainingTests",
            dependencies: ["RZTraining", "RZModel", "RZTensor", "RZTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
