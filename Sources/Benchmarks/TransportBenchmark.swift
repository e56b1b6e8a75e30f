import Foundation
import Synchronization
import Transport

/// `agentic bench transport`: Swift over NNG against raw C over the same NNG, same run:
/// req/rep latency (64 B, 4 KiB) and throughput (1, 8, 64 in flight), pub/sub rate, over ipc
/// and tcp, C and Swift alternating in rounds, each figure the median over rounds.
public struct TransportBenchmark: Sendable {
    public struct Configuration: Sendable {
        /// Round trips measured per latency figure.
        public var count = 10_000
        /// Milliseconds per throughput figure.
        public var durationMs = 1_000
        /// Messages per pub/sub figure.
        public var messages = 100_000
        /// Rounds of C and Swift alternated; each figure is the median over rounds.
        public var rounds = 3
        /// Transports to measure (ipc, tcp).
        public var transports = ["ipc", "tcp"]
        public init() {}
    }

    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs it, saying what it does through `log`.
    public func run(log: @Sendable (String) -> Void) async throws -> Result {
        let baseline = try Executables.sibling("agentic-nng-baseline")
        let agentic = try Executables.sibling("agentic")
        let runDirectory = try TemporaryDirectory(prefix: "agentic-bench")
        defer { runDirectory.remove() }
        var figures: [Figure] = []
        let (count, durationMs, messages, rounds) = (configuration.count, configuration.durationMs, configuration.messages, configuration.rounds)
        for transport in configuration.transports {
            guard transport == "ipc" || transport == "tcp" else { throw BenchmarkError("unknown transport \(transport)") }
            var samples: [String: (c: [Double], swift: [Double])] = [:]
            func record(_ key: String, c: Double, swift: Double) {
                samples[key, default: ([], [])].c.append(c)
                samples[key, default: ([], [])].swift.append(swift)
            }
            for round in 1...max(1, rounds) {
                log("\(transport): round \(round) of \(rounds)")
                let cServe = try address(transport, runDirectory, "c-rep")
                let swiftServe = try address(transport, runDirectory, "swift-rep")
                let cServer = try ChildProcess(executable: baseline, arguments: ["serve", cServe, "64"])
                _ = try await cServer.nextLine()
                let swiftServer = try ChildProcess(executable: agentic, arguments: ["peer", "serve", swiftServe, "--contexts", "64"])
                _ = try await swiftServer.nextLine()
                let requester = try Requester()
                try requester.dial(swiftServe)
                defer {
                    requester.close()
                    cServer.stop()
                    swiftServer.stop()
                }
                log("  latency")
                for size in [64, 4096] {
                    let c = try await Self.cJSON(baseline, ["latency", cServe, "\(size)", "\(count)", "\(count / 10)"])
                    let swift = try await withTaskExecutorPreference(CallbackExecutor.shared) {
                        try await Self.swiftLatency(requester, size: size, count: count, warmup: count / 10)
                    }
                    record("p50_\(transport)_\(size)", c: c["p50_ns"]! / 1000, swift: swift.p50 / 1000)
                    record("p99_\(transport)_\(size)", c: c["p99_ns"]! / 1000, swift: swift.p99 / 1000)
                }
                log("  throughput")
                for inflight in [1, 8, 64] {
                    let c = try await Self.cJSON(baseline, ["throughput", cServe, "256", "\(inflight)", "\(durationMs)"])
                    let swift = try await Self.swiftThroughput(requester, size: 256, inflight: inflight, duration: .milliseconds(durationMs))
                    record("rps_\(transport)_\(inflight)inflight", c: c["rps"]!, swift: swift)
                }
                log("  pub/sub")
                let cRate = try await Self.cPubSub(baseline, address(transport, runDirectory, "c-pub"), messages: messages)
                let swiftRate = try await Self.swiftPubSub(agentic, address(transport, runDirectory, "swift-pub"), messages: messages)
                record("pubsub_\(transport)_256", c: cRate, swift: swiftRate)
            }
            for (key, value) in samples.sorted(by: { $0.key < $1.key }) {
                figures.append(Figure(key: key, c: median(value.c, empty: .nan), swift: median(value.swift, empty: .nan)))
            }
        }
        return Result(figures: figures)
    }

    /// Every figure, C and Swift side by side.
    public struct Result: Sendable {
        public var figures: [Figure]

        /// One JSON object: `c_…`, `swift_…` and `swift_over_c_…` for every figure.
        public func jsonLine() throws -> String {
            var object: [String: Double] = [:]
            for figure in figures {
                let (metric, rest) = figure.splitKey
                object["c_\(metric)_\(rest)"] = figure.c
                object["swift_\(metric)_\(rest)"] = figure.swift
                object["swift_over_c_\(figure.key)"] = figure.ratio
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }

        /// The figures for people.
        public func table() -> String {
            var lines = ["figure".padding(toLength: 28, withPad: " ", startingAt: 0) + "      C        Swift   Swift/C"]
            for figure in figures {
                lines.append(
                    figure.label.padding(toLength: 28, withPad: " ", startingAt: 0)
                        + String(format: "%10.1f %10.1f %8.3f", figure.c, figure.swift, figure.ratio))
            }
            lines.append(
                "latency in µs (p50/p99, 64 B and 4 KiB), throughput in requests/s (256 B), pub/sub in messages/s delivered (256 B)")
            return lines.joined(separator: "\n")
        }
    }

    public struct Figure: Sendable {
        public var key: String
        public var c: Double
        public var swift: Double
        public var ratio: Double { c > 0 ? swift / c : .nan }
        /// "p50_ipc_64" → ("p50_us", "ipc_64"): raw keys carry their unit.
        var splitKey: (String, String) {
            let parts = key.split(separator: "_", maxSplits: 1).map(String.init)
            let unit = ["p50": "p50_us", "p99": "p99_us", "rps": "rps", "pubsub": "pubsub_msgs_per_s"][parts[0]] ?? parts[0]
            return (unit, parts[1])
        }
        public var label: String { key }
    }

    private func address(_ transport: String, _ directory: TemporaryDirectory, _ name: String) throws -> String {
        if transport == "ipc" { return "ipc://\(directory.path)/\(name)-\(UInt32.random(in: 0 ... .max)).sock" }
        return "tcp://127.0.0.1:\(try FreePort.find())"
    }

    static func cJSON(_ executable: URL, _ arguments: [String]) async throws -> [String: Double] {
        let child = try ChildProcess(executable: executable, arguments: arguments)
        defer { child.stop() }
        return try parseJSON(try await child.nextLine(timeout: .seconds(120)))
    }

    static func parseJSON(_ line: String) throws -> [String: Double] {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BenchmarkError("not a JSON object: \(line)")
        }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    static func swiftLatency(_ requester: Requester, size: Int, count: Int, warmup: Int) async throws -> (p50: Double, p99: Double) {
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var samples: [Double] = []
        samples.reserveCapacity(count)
        let clock = ContinuousClock()
        for i in -warmup..<count {
            let message = try Message(bytes: payload)
            let start = clock.now
            let reply = try await requester.request(message)
            let elapsed = clock.now - start
            guard reply.count == size else { throw BenchmarkError("echo returned \(reply.count) bytes, sent \(size)") }
            if i >= 0 { samples.append(Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9) }
        }
        samples.sort()
        return (samples[count / 2], samples[Int(Double(count) * 0.99)])
    }

    static func swiftThroughput(_ requester: Requester, size: Int, inflight: Int, duration: Duration) async throws -> Double {
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let clock = ContinuousClock()
        let warmupEnd = clock.now + duration / 10
        let end = warmupEnd + duration
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<inflight {
                group.addTask(executorPreference: CallbackExecutor.shared) {
                    var done = 0
                    while true {
                        let message = try Message(bytes: payload)
                        _ = try await requester.request(message)
                        let now = clock.now
                        if now >= end { return done }
                        if now >= warmupEnd { done += 1 }
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(counts) / duration.seconds
    }

    static func cPubSub(_ executable: URL, _ url: String, messages: Int) async throws -> Double {
        let publisher = try ChildProcess(executable: executable, arguments: ["publish", url, "256", "\(messages)"])
        defer { publisher.stop() }
        _ = try await publisher.nextLine()
        let subscriber = try ChildProcess(executable: executable, arguments: ["subscribe", url, "60000"])
        defer { subscriber.stop() }
        _ = try await subscriber.nextLine()
        publisher.writeLine("go")
        let result = try parseJSON(try await subscriber.nextLine())
        publisher.writeLine("stop")
        return result["rate"]!
    }

    static func swiftPubSub(_ agentic: URL, _ url: String, messages: Int) async throws -> Double {
        let publisher = try Publisher()
        defer { publisher.close() }
        try publisher.listen(url)
        let subscriber = try ChildProcess(executable: agentic, arguments: ["peer", "subscribe", url])
        defer { subscriber.stop() }
        let result = ResultBox()
        try await PubSubCount.publish(
            publisher, count: messages, body: { [UInt8](repeating: $0, count: 256) },
            go: { _ = try await subscriber.nextLine() },
            stop: { result.set(try parseJSON(try await subscriber.nextLine())) }
        )
        guard let rate = result.value?["rate"] else { throw BenchmarkError("the Swift subscriber reported no rate") }
        return rate
    }
}

/// Hands a value from one task to another.
final class ResultBox: Sendable {
    private let storage = Mutex<[String: Double]?>(nil)
    func set(_ value: [String: Double]) { storage.withLock { $0 = value } }
    var value: [String: Double]? { storage.withLock { $0 } }
}
