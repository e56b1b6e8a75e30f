// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "agentic",
    // Linux only (Debian): the transport reads /proc and links Glibc, the agents Debian's NNG and OpenBLAS.
    products: [
        .executable(name: "agentic", targets: ["AgenticCLI"]),
        .library(name: "Transport", targets: ["Transport"]),
        .library(name: "Topology", targets: ["Topology"]),
        .library(name: "AgentRuntime", targets: ["AgentRuntime"]),
        .library(name: "Coordinator", targets: ["Coordinator"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "AgenticTesting", targets: ["AgenticTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // Already built for AsyncHTTPClient's TLS; artifacts take their SHA-256 from it.
        // HTTP statuses and fields of the gateway's API module (Hummingbird's own dependency).
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        // Debian's libnng-dev ships no nng.pc, so the module map links `nng` directly.
        .systemLibrary(name: "CNNG", path: "Sources/CNNG"),
        .target(name: "Transport", dependencies: ["CNNG"], swiftSettings: strict),
        .target(name: "AgentProtocol", swiftSettings: strict),
        // Debian's OpenBLAS and LAPACKE for the dense solves (EASE, ALS).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .target(name: "Dataset", swiftSettings: strict),
        // Fitted models as immutable, checksummed files named by what they were fitted from.
        .target(name: "Artifacts", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "Recommender", dependencies: ["Dataset", "COpenBLAS"], swiftSettings: strict),
        // Offline evaluation runs the agents the processes host, through the gateway's own walk.
        .target(
            name: "Evaluation",
            dependencies: [
                "Dataset", "Recommender", "Topology", "AgentProtocol", "AgentRuntime", "Agents", "Gateway", "Evolution",
            ],
            swiftSettings: strict
        ),
        // Every agent kind: the data-free ones, the MovieLens kinds (data loading, artifacts,
        // online learning from feedback) and the trainer (store feedback → snapshot → refit).
        .target(
            name: "Agents",
            dependencies: [
                "AgentRuntime", "AgentProtocol", "Topology", "Dataset", "Recommender", "Artifacts", "Coordinator", "Store", "Transport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Topology", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: strict),
        // The evolution layer: tuner, composer, architect (its only I/O is the chat endpoint), the loop.
        .target(
            name: "Evolution",
            dependencies: [
                "Topology",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgentRuntime",
            dependencies: [
                "Transport", "AgentProtocol", "Topology", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "Transport", "AgentProtocol", "Topology", "AgentRuntime",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The gateway's HTTP API as data (bodies, errors, validation), without the server.
        .target(
            name: "GatewayAPI",
            dependencies: ["AgentProtocol", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strict
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "GatewayAPI",
                "Transport",
                "Topology",
                "AgentProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The knowledge store: SQLite through GRDB, and the `store` agent that serves it.
        .target(
            name: "Store",
            dependencies: [
                "Transport", "AgentProtocol", "Dataset",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Open-loop HTTP load (`agentic load`, `agentic bench mesh`, the demo).
        .target(
            name: "LoadGenerator",
            dependencies: [
                "AgentProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The experiment controller: a canary started through the coordinator, judged on the store's clicks,
        // and the loop of `agentic up --evolve` that feeds it candidates.
        .target(
            name: "Experiments",
            dependencies: [
                "AgentProtocol", "Coordinator", "Evaluation", "Evolution", "Store", "Topology",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        // The demo: replays held-out users through the gateway, measures, draws and reports.
        .target(
            name: "Demo",
            dependencies: [
                "AgentProtocol", "Dataset", "Topology", "Coordinator", "Evolution", "Experiments", .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The live dashboard of a running cluster (served by `agentic up`).
        .target(
            name: "Dashboard",
            dependencies: [
                "Coordinator", "Store", "Topology", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // What `agentic bench …` measures (the command line configures and prints), and the
        // child processes and peer protocols the benchmarks share with the command line.
        .target(
            name: "Benchmarks",
            dependencies: [
                "AgentProtocol", "AgentRuntime", "Agents", "Artifacts", "Coordinator", "Dataset", "Demo", "Gateway",
                "LoadGenerator", "Recommender", "Store", "Topology", "Transport",
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "AgenticCLI",
            dependencies: [
                "Transport",
                "Topology",
                "Evaluation",
                "AgentProtocol",
                "AgentRuntime",
                "Agents",
                "Artifacts",
                "Benchmarks",
                "Recommender",
                "Coordinator",
                "Dashboard",
                "Gateway",
                "Store",
                "LoadGenerator",
                "Evolution",
                "Experiments",
                "Demo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The raw-C baseline that `agentic bench transport` measures Swift against.
        .executableTarget(
            name: "agentic-nng-baseline",
            dependencies: ["CNNG"],
            path: "Sources/agentic-nng-baseline",
            linkerSettings: [.linkedLibrary("nng")]
        ),
        // The fuzz targets (decoders of outside bytes, each with a property), and their
        // executable: libFuzzer's with `-sanitize=fuzzer -DFUZZING` (deploy/fuzz.sh), else a replayer.
        .target(
            name: "FuzzTargets",
            dependencies: ["AgentProtocol", "GatewayAPI", "Topology", "Transport"],
            swiftSettings: strict
        ),
        .executableTarget(name: "agentic-fuzz", dependencies: ["FuzzTargets"], path: "Sources/agentic-fuzz", swiftSettings: strict),
        // The test kit, a product of its own (as Hummingbird ships HummingbirdTesting): child
        // processes that are always stopped, a cluster fixture, fake agents, short socket dirs.
        .target(
            name: "AgenticTesting",
            dependencies: [
                "AgentProtocol", "Gateway", "Transport", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "AgenticTesting"], swiftSettings: strict),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", .product(name: "Yams", package: "Yams")], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "AgentRuntimeTests", dependencies: ["AgentRuntime", "Agents", "AgentProtocol", "Topology"], swiftSettings: strict),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: ["Coordinator", "AgentProtocol", "Topology", "Transport", "AgenticTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Transport", "AgentProtocol", "Gateway", "GatewayAPI", "Topology", "AgenticTesting", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "StoreTests",
            dependencies: [
                "Store", "AgentProtocol", "Transport", "AgenticTesting", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LoadGeneratorTests",
            dependencies: [
                "LoadGenerator", "AgenticTesting", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard", "Coordinator", "Store", "Topology", "AgentProtocol", "AgenticTesting",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"], exclude: ["Corpus"], swiftSettings: strict),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Topology", "Transport"], swiftSettings: strict),
        .testTarget(name: "ArtifactsTests", dependencies: ["Artifacts"], swiftSettings: strict),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "AgenticTesting"], swiftSettings: strict),
        .testTarget(name: "RecommenderTests", dependencies: ["Recommender", "Dataset", "AgenticTesting"], swiftSettings: strict),
        .testTarget(
            name: "AgentsTests",
            dependencies: [
                "Agents", "AgentRuntime", "AgentProtocol", "Topology", "Dataset", "Gateway", "Artifacts", "AgenticTesting",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "EvolutionTests",
            dependencies: [
                "Evolution", "Topology", "AgenticTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Topology", "Store", "AgenticTesting"], swiftSettings: strict),
        .testTarget(name: "AgentProtocolTests", dependencies: ["AgentProtocol", "Transport"], swiftSettings: strict),
        .testTarget(name: "DemoTests", dependencies: ["Demo", "Dataset", "Topology", "AgenticTesting"], swiftSettings: strict),
        .testTarget(
            name: "EvaluationTests", dependencies: ["Evaluation", "Evolution", "Recommender", "Dataset", "Topology", "AgenticTesting"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
