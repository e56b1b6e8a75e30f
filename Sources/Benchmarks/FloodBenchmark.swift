import Foundation
import LoadGenerator
import Synchronization
import Topology

/// `agentic bench flood`: a cluster's gateway under many times the load it can serve. First
/// saturation (`concurrency` clients, each sending again as soon as answered), the baseline;
/// then `factor` × that rate for `seconds`, open loop (requests on schedule whatever came of
/// earlier ones) over `factor` × `concurrency` connections. A closed loop of that many clients
/// was tried first: the faster the gateway shed, the faster its clients came back (12,600
/// requests/s, 17 × saturation), so the load measured the shedding, not a fixed flood. The gateway must shed what it cannot serve
/// (503 with `Retry-After`, fast), keep the answers it admits inside the topology's deadline,
/// keep its memory within a bound, and stay up. Measured from outside: per-answer latency by
/// kind, the gateway process's resident memory sampled every 100 ms from /proc, its pid
/// before and after.
public struct FloodBenchmark: Sendable {
    public struct Configuration: Sendable {
        /// nil: topology/movielens.yaml when its kinds can be made here, else topology/minimal.yaml.
        public var topology: String?
        /// Clients at saturation (the baseline).
        public var concurrency = 32
        /// Clients in the flood, as a multiple of `concurrency`.
        public var factor = 10.0
        /// Seconds of flood.
        public var seconds = 30.0
        /// Seconds of the saturation baseline.
        public var baselineSeconds = 5.0
        /// The gateway's resident memory must stay under this many MiB.
        public var rssBoundMegabytes = 512.0
        /// A split file (TSV with a user column) whose users are asked for; nil: 1 … 943.
        public var users: String?
        public init() {}
    }

    public let configuration: Configuration
    let factory: FactoryForTopology

    public init(configuration: Configuration, factory: @escaping FactoryForTopology) {
        self.configuration = configuration
        self.factory = factory
    }

    public func run(log: @Sendable (String) -> Void) async throws -> Result {
        let configuration = self.configuration
        let (path, note) = try BenchCluster.pickTopology(
            configuration.topology, factory: factory(configuration.topology ?? "topology/movielens.yaml"))
        log("topology \(path)\(note.map { " (\($0))" } ?? "")")
        let spec = try BenchCluster.load(path, factory: factory(path))
        let userList = try configuration.users.map { path in
            do { return try LoadGenerator.users(fromTSV: path) } catch { throw BenchmarkError("\(error)") }
        } ?? (1...943).map(String.init)

        let runDirectory = try TemporaryDirectory(prefix: "agt")
        defer { runDirectory.remove() }
        log("agentic up in \(runDirectory.path)")
        let (up, endpoint) = try await BenchCluster.up(path, runDirectory: runDirectory.path + "/r")
        defer { up.stop() }
        guard let gateway = GatewayProcess.find(runDirectory: runDirectory.path + "/r") else {
            throw BenchmarkError("no gateway process found for \(runDirectory.path)/r")
        }
        let client: BlockingRecommendClient
        do { client = try BlockingRecommendClient(url: endpoint) } catch { throw BenchmarkError("\(error)") }
        defer { client.shutdown() }
        let deadline = Duration.milliseconds(spec.gateway.deadlineMilliseconds)
        // The client waits longer than the deadline: an answer the gateway sends late is measured, not cut off.
        let timeout = deadline * 4 + .seconds(1)

        log("warm-up")
        _ = await Self.load(client: client, users: userList, clients: configuration.concurrency, seconds: 1, timeout: timeout, gateway: gateway)
        log("baseline: \(configuration.concurrency) clients for \(configuration.baselineSeconds) s")
        let baseline = await Self.load(
            client: client, users: userList, clients: configuration.concurrency, seconds: configuration.baselineSeconds, timeout: timeout,
            gateway: gateway)
        let floodClients = max(configuration.concurrency + 1, Int((Double(configuration.concurrency) * configuration.factor).rounded()))
        let saturation = baseline.rate(baseline.admittedCount)
        let floodRate = saturation * configuration.factor
        log("flood: \(Int(floodRate)) requests/s (\(configuration.factor) × saturation), open loop, \(floodClients) connections, \(configuration.seconds) s")
        let port = URLComponents(string: endpoint)?.port ?? 0
        let flood = await Self.load(
            client: client, users: userList, clients: floodClients, seconds: configuration.seconds, timeout: timeout, gateway: gateway,
            rate: floodRate, probePort: port)
        // Still the same process, still answering.
        let after = client.recommend(worker: 0, user: userList[0], k: 10, timeout: timeout)
        let survived = gateway.isAlive && { if case .ok = after { return true } else { return false } }()
        return Result(
            topology: path, note: note, deadlineMilliseconds: spec.gateway.deadlineMilliseconds, baselineClients: configuration.concurrency,
            floodClients: floodClients, rssBoundMegabytes: configuration.rssBoundMegabytes, baseline: baseline, flood: flood,
            gatewaySurvived: survived, factor: configuration.factor)
    }

    /// Answers of one load, split by kind.
    struct Window: Sendable {
        var seconds = 0.0
        var admitted = LatencyHistogram()
        var shed = LatencyHistogram()
        var admittedCount = 0
        var degraded = 0
        var shedCount = 0
        /// Everything else: timeouts, broken connections, other statuses.
        var failures: [String: Int] = [:]
        var rssMaxBytes = 0
        var rssStartBytes = 0

        var failed: Int { failures.values.reduce(0, +) }

        /// From sending to the answer (the server's own time, without the generator's lateness).
        var admittedService = LatencyHistogram()
        /// The probe's answers (see `load`).
        var probe = LatencyHistogram()
        /// How late requests were sent after they were due (the generator's own health).
        var lateness = LatencyHistogram()

        /// `latency` counts from the due time, `service` from the send; a shed answer is
        /// measured from its send (how fast the gateway turns it away).
        mutating func count(_ outcome: RequestOutcome, latency: Duration, service: Duration) {
            lateness.record(latency - service)
            switch outcome {
            case .ok(let degraded):
                admitted.record(latency)
                admittedService.record(service)
                admittedCount += 1
                if !degraded.isEmpty { self.degraded += 1 }
            case .failed(let reason) where reason == "HTTP 503":
                shed.record(service)
                shedCount += 1
            case .failed(let reason):
                failures[reason, default: 0] += 1
            }
        }
        var offered: Int { admittedCount + shedCount + failed }
        func rate(_ count: Int) -> Double { seconds > 0 ? Double(count) / seconds : 0 }
    }

    static func load(
        client: BlockingRecommendClient, users: [String], clients: Int, seconds: Double, timeout: Duration, gateway: GatewayProcess,
        rate: Double? = nil, probePort: Int? = nil
    ) async -> Window {
        let window = Mutex(Window())
        let clock = ContinuousClock()
        let rssStart = gateway.residentBytes() ?? 0
        let sampling = Task {
            var peak = rssStart
            while !Task.isCancelled {
                peak = max(peak, gateway.residentBytes() ?? 0)
                try? await Task.sleep(for: .milliseconds(100))
            }
            return peak
        }
        let started = clock.now
        // The probe: every 5 ms, on a connection of its own, a recommendation body the gateway
        // refuses (400) before the door. Its latency is what answering anything costs on this
        // machine during the flood, the yardstick for how fast a shed answer is.
        let probing = Atomic<Bool>(probePort != nil)
        let probeDone = Atomic<Bool>(probePort == nil)
        if let probePort {
            Thread.detachNewThread {
                defer { probeDone.store(true, ordering: .releasing) }
                guard let connection = try? HTTPConnection(port: probePort, timeout: timeout) else { return }
                let body = Array(#"{"k":0}"#.utf8)
                while probing.load(ordering: .relaxed) {
                    let sent = clock.now
                    guard let (status, _) = try? connection.post("/v1/recommend", body: body) else { return }
                    let answered = clock.now
                    if status == 400 { window.withLock { $0.probe.record(answered - sent) } }
                    Thread.sleep(forTimeInterval: 0.005)
                }
            }
        }
        let count: Int
        if let rate {
            // Open loop: request i is due at i / rate whatever came of the ones before it, and
            // its latency counts from when it was due (a generator that falls behind shows).
            count = max(1, Int(seconds * rate))
            let next = Atomic<Int>(0)
            let finished = Atomic<Int>(0)
            for worker in 0..<clients {
                Thread.detachNewThread {
                    defer { finished.add(1, ordering: .releasing) }
                    while true {
                        let index = next.add(1, ordering: .relaxed).oldValue
                        guard index < count else { return }
                        let due = started + .nanoseconds(Int64(Double(index) / rate * 1e9))
                        let now = clock.now
                        if due > now { Thread.sleep(forTimeInterval: Double((due - now).components.attoseconds) / 1e18 + Double((due - now).components.seconds)) }
                        let sent = clock.now
                        let outcome = client.recommend(worker: worker, user: users[index % users.count], k: 10, timeout: timeout)
                        let answered = clock.now
                        window.withLock { $0.count(outcome, latency: answered - due, service: answered - sent) }
                    }
                }
            }
            while finished.load(ordering: .acquiring) < clients { try? await Task.sleep(for: .milliseconds(5)) }
        } else {
            var loop = ClosedLoop(concurrency: clients, duration: .milliseconds(Int64(seconds * 1000)))
            loop.timeout = timeout
            _ = await loop.runOnThreads { worker, call in
                let sent = clock.now
                let outcome = client.recommend(worker: worker, user: users[call.index % users.count], k: 10, timeout: timeout)
                let answered = clock.now
                window.withLock { $0.count(outcome, latency: answered - sent, service: answered - sent) }
                return outcome
            }
            count = 0
        }
        let elapsed = clock.now - started
        _ = count
        probing.store(false, ordering: .relaxed)
        while !probeDone.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(5)) }
        sampling.cancel()
        let peak = await sampling.value
        return window.withLock { window in
            window.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            window.rssStartBytes = rssStart
            window.rssMaxBytes = max(peak, gateway.residentBytes() ?? 0)
            return window
        }
    }

    public struct Result: Sendable {
        let topology: String
        let note: String?
        let deadlineMilliseconds: Int
        let baselineClients: Int
        let floodClients: Int
        let rssBoundMegabytes: Double
        let baseline: Window
        let flood: Window
        let gatewaySurvived: Bool
        let factor: Double

        static func megabytes(_ bytes: Int) -> Double { Rounding.round(Double(bytes) / 1_048_576) }

        /// The `--json` object.
        public var json: [String: any Sendable] {
            let r = Rounding.round
            let shedP99 = flood.shed.milliseconds(atPercentile: 99)
            let admittedP99 = flood.admitted.milliseconds(atPercentile: 99)
            let baselineP99 = baseline.admitted.milliseconds(atPercentile: 99)
            let rssMax = Self.megabytes(flood.rssMaxBytes)
            var object: [String: any Sendable] = [
                "topology": topology, "deadline_ms": deadlineMilliseconds,
                "baseline_clients": baselineClients, "flood_clients": floodClients,
                "saturation_rps": r(baseline.rate(baseline.admittedCount)),
                "baseline_p99_ms": r(baselineP99),
                "flood_offered_rps": r(flood.rate(flood.offered)),
                "flood_offered_over_saturation": BenchCluster.ratio(flood.rate(flood.offered), baseline.rate(baseline.admittedCount)),
                "flood_admitted_rps": r(flood.rate(flood.admittedCount)),
                "flood_admitted_over_saturation": BenchCluster.ratio(flood.rate(flood.admittedCount), baseline.rate(baseline.admittedCount)),
                "flood_shed": flood.shedCount, "flood_admitted": flood.admittedCount, "flood_degraded": flood.degraded,
                "flood_failed": flood.failed, "flood_failures": flood.failures,
                "shed_p50_ms": r(flood.shed.milliseconds(atPercentile: 50)), "shed_p99_ms": r(shedP99),
                "shed_max_ms": r(flood.shed.maxMilliseconds),
                "admitted_p50_ms": r(flood.admitted.milliseconds(atPercentile: 50)), "admitted_p99_ms": r(admittedP99),
                "admitted_p99_over_baseline_p99": BenchCluster.ratio(admittedP99, baselineP99),
                "admitted_service_p99_ms": r(flood.admittedService.milliseconds(atPercentile: 99)),
                "send_lateness_p99_ms": r(flood.lateness.milliseconds(atPercentile: 99)),
                "probe_p50_ms": r(flood.probe.milliseconds(atPercentile: 50)), "probe_p99_ms": r(flood.probe.milliseconds(atPercentile: 99)),
                "probe_count": flood.probe.count,
                "shed_p50_over_probe_p50": BenchCluster.ratio(flood.shed.milliseconds(atPercentile: 50), flood.probe.milliseconds(atPercentile: 50)),
                "shed_p99_over_probe_p99": BenchCluster.ratio(shedP99, flood.probe.milliseconds(atPercentile: 99)),
                "flood_target_rps": r(baseline.rate(baseline.admittedCount) * factor),
                "admitted_p99_within_deadline": admittedP99 <= Double(deadlineMilliseconds),
                "rss_start_mb": Self.megabytes(baseline.rssStartBytes), "rss_baseline_max_mb": Self.megabytes(baseline.rssMaxBytes),
                "rss_flood_max_mb": rssMax, "rss_bound_mb": rssBoundMegabytes, "rss_within_bound": rssMax <= rssBoundMegabytes,
                "rss_flood_over_baseline": BenchCluster.ratio(Double(flood.rssMaxBytes), Double(baseline.rssMaxBytes)),
                "gateway_survived": gatewaySurvived,
            ]
            if let note { object["note"] = note }
            return object
        }

        public func jsonLine() -> String { LoadReport.jsonLine(json) }

        public func table() -> String {
            let j = json
            func v(_ key: String) -> String { "\(j[key] ?? "")" }
            return """
                topology \(topology)\(note.map { " (\($0))" } ?? ""), deadline \(deadlineMilliseconds) ms
                                          baseline (\(baselineClients) clients, closed loop)   flood (open loop at \(v("flood_target_rps"))/s, \(floodClients) connections)
                offered req/s             \(v("saturation_rps"))   \(v("flood_offered_rps"))  (× \(v("flood_offered_over_saturation")))
                admitted req/s            \(v("saturation_rps"))   \(v("flood_admitted_rps"))
                admitted p99 ms           \(v("baseline_p99_ms"))   \(v("admitted_p99_ms"))  (within deadline: \(v("admitted_p99_within_deadline")); from the send: \(v("admitted_service_p99_ms")))
                generator lateness p99 ms -   \(v("send_lateness_p99_ms"))
                shed (503)                -   \(v("flood_shed"))  p50 \(v("shed_p50_ms")) ms  p99 \(v("shed_p99_ms")) ms  max \(v("shed_max_ms")) ms
                400 probe (any answer)    -   \(v("probe_count")) answers  p50 \(v("probe_p50_ms")) ms  p99 \(v("probe_p99_ms")) ms  (shed/probe p50 × \(v("shed_p50_over_probe_p50")), p99 × \(v("shed_p99_over_probe_p99")))
                failed (not 503)          -   \(v("flood_failed")) \(flood.failures.isEmpty ? "" : "\(flood.failures)")
                gateway RSS MiB           \(v("rss_baseline_max_mb"))   \(v("rss_flood_max_mb"))  (bound \(v("rss_bound_mb")): \(v("rss_within_bound")))
                gateway survived          \(v("gateway_survived"))
                """
        }
    }
}

/// The gateway process of a run, found by its command line (`agentic gateway --run-dir DIR …`,
/// started by the coordinator), and its resident memory from /proc.
struct GatewayProcess: Sendable {
    let pid: Int32

    static func find(runDirectory: String) -> GatewayProcess? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.count > 3, arguments[1] == "gateway",
                let index = arguments.firstIndex(of: "--run-dir"), index + 1 < arguments.count, arguments[index + 1] == runDirectory
            else { continue }
            return GatewayProcess(pid: pid)
        }
        return nil
    }

    var isAlive: Bool { kill(pid, 0) == 0 }

    /// `VmRSS` of /proc/PID/status, in bytes.
    func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}
