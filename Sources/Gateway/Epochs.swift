import AgentProtocol
import Dispatch
import Logging
import Synchronization
import Topology
import Transport

/// One agent instance as the gateway sees it: the requester dialled to its decision socket
/// (many requests in flight on it) and when it last failed.
final class AgentInstance: Sendable {
    let address: String
    let requester: Requester
    /// Uptime nanoseconds until which this instance is tried after its siblings.
    private let suspendedUntil = Atomic<UInt64>(0)
    /// Requests waiting to leave in a batch (see `exchange`).
    let queue = Mutex(InstanceQueue())
    /// The gateway's door: how many recommendations are inside decides how requests batch.
    let door: AdmissionGate?

    init(address: String, door: AdmissionGate?) throws {
        self.address = address
        self.door = door
        do {
            requester = try Requester()
            try requester.dial(address)
        } catch {
            throw GatewayError(.transport, "dialling \(address): \(error)")
        }
    }

    var isSuspended: Bool { suspendedUntil.load(ordering: .relaxed) > DispatchTime.now().uptimeNanoseconds }

    /// Whether NNG holds a connection to the instance now. A request to one without
    /// waits for a reconnection (a dead or restarting process) and costs its whole attempt.
    var isConnected: Bool { requester.socket.pipeCount > 0 }

    /// Tries this instance last for `duration`: it just failed or timed out.
    func suspend(for duration: Duration) {
        suspendedUntil.store(DispatchTime.now().uptimeNanoseconds + UInt64(max(0, duration.nanoseconds)), ordering: .relaxed)
    }
}

/// The replicas of one agent in one epoch, handed out round robin.
final class AgentRoute: Sendable {
    let agent: String
    let instances: [AgentInstance]
    private let next = Atomic<Int>(0)

    init(agent: String, instances: [AgentInstance]) {
        self.agent = agent
        self.instances = instances
    }

    /// Every instance once, in the order to try them: round robin from the next one, with
    /// instances that failed lately, then those with no connection, moved to the back
    /// (still there: they may be all we have).
    func attemptOrder() -> [AgentInstance] {
        guard !instances.isEmpty else { return [] }
        let start = next.wrappingAdd(1, ordering: .relaxed).oldValue
        let rotated = (0..<instances.count).map { instances[(start &+ $0) % instances.count] }
        let connected = rotated.filter(\.isConnected)
        return connected.filter { !$0.isSuspended } + connected.filter(\.isSuspended) + rotated.filter { !$0.isConnected }
    }
}

/// One epoch's graph, ready to execute: the agents reachable from the entry in
/// topological order, who feeds whom and for which segments, and the replicas of each.
final class EpochPlan: Sendable {
    let spec: TopologySpec
    var epoch: Int { spec.epoch }
    var exit: String { spec.gateway.exit }
    let shape: GraphShape
    /// Agents reachable from the entry, each after every agent that feeds it.
    var order: [String] { shape.order }
    /// The longest chain of agents from each agent to the end of the graph (itself included):
    /// an agent gets that share of the remaining deadline, leaving time for those after it.
    let depth: [String: Int]
    let routes: [String: AgentRoute]

    /// - Throws: `GatewayError.invalidTopology` if the graph has a cycle or the exit is not
    ///   reachable from the entry; `.transport` if a requester cannot be opened.
    init(spec: TopologySpec, layout: RunLayout, instance: (String) throws -> AgentInstance) throws {
        let shape = try GraphShape(spec)
        // Over every edge, whatever its segments: a request may take the longest chain.
        var chain = [Int](repeating: 1, count: shape.order.count)
        for index in shape.order.indices.reversed() {
            chain[index] = 1 + shape.successors[index].map { chain[$0] }.max(default: 0)
        }
        var depth: [String: Int] = [:]
        for (index, name) in shape.order.enumerated() { depth[name] = chain[index] }
        var routes: [String: AgentRoute] = [:]
        for name in shape.order {
            let replicas = max(1, spec.agent(named: name)?.replicas ?? 1)
            // The version is part of the address: a swap's new processes serve beside the old ones.
            let version = spec.agent(named: name)?.version ?? "1"
            let instances = try (0..<replicas).map {
                try instance(layout.decisionAddress(agent: name, version: version, replica: $0))
            }
            routes[name] = AgentRoute(agent: name, instances: instances)
        }
        self.spec = spec
        self.shape = shape
        self.depth = depth
        self.routes = routes
    }

    var addresses: Set<String> { Set(routes.values.flatMap { $0.instances.map(\.address) }) }
}

extension Sequence where Element == Int {
    fileprivate func max(default value: Int) -> Int { self.max() ?? value }
}

/// The epoch serving now, the epochs still finishing requests, and the requesters they use.
///
/// A request leases the current plan and keeps it to the end, so a switch happens between
/// requests. A requester is closed once no live plan (current or leased) uses its address.
actor EpochRegistry {
    private(set) var current: EpochPlan
    /// A live experiment's candidate graph beside the current one (see `RunLayout`'s
    /// `experiment.json`): the users the canary split picks run through it.
    private(set) var canary: CanaryPlan?
    private var leases: [ObjectIdentifier: Int] = [:]
    private var retiring: [ObjectIdentifier: EpochPlan] = [:]
    private var instances: [String: AgentInstance] = [:]
    private let layout: RunLayout
    private let log: Logger
    private let door: AdmissionGate?

    init(spec: TopologySpec, layout: RunLayout, log: Logger, door: AdmissionGate? = nil) throws {
        self.door = door
        var made: [String: AgentInstance] = [:]
        current = try EpochPlan(spec: spec, layout: layout) { address in
            if let existing = made[address] { return existing }
            let instance = try AgentInstance(address: address, door: door)
            made[address] = instance
            return instance
        }
        instances = made
        self.layout = layout
        self.log = log
    }

    /// The plan a new request runs on; give it back with `release`.
    func lease() -> EpochPlan {
        leases[ObjectIdentifier(current), default: 0] += 1
        return current
    }

    /// The plan `user`'s request runs on: the candidate's when a live experiment's split picks
    /// it, else the current one; with the arm and its propensity when an experiment runs.
    func lease(user: String) -> (plan: EpochPlan, canary: CanaryPlan?, arm: String?) {
        guard let canary, canary.baseEpoch == current.epoch else { return (lease(), nil, nil) }
        if CanaryPlan.picksCandidate(user: user, experiment: canary.experiment, share: canary.share) {
            leases[ObjectIdentifier(canary.plan), default: 0] += 1
            return (canary.plan, canary, "candidate")
        }
        return (lease(), canary, "control")
    }

    /// Runs `spec` beside the current epoch for a share of the users (the experiment's
    /// candidate), dialling the instances it adds; `nil` ends the experiment.
    func setCanary(_ spec: TopologySpec?, experiment: String, share: Double, baseEpoch: Int, connectionWait: Duration = .seconds(1)) async throws {
        if let old = canary, leases[ObjectIdentifier(old.plan)] != nil { retiring[ObjectIdentifier(old.plan)] = old.plan }
        guard let spec else {
            canary = nil
            sweep()
            return
        }
        var made: [String: AgentInstance] = [:]
        let known = instances
        let plan: EpochPlan
        do {
            plan = try EpochPlan(spec: spec, layout: layout) { address in
                if let existing = known[address] ?? made[address] { return existing }
                let instance = try AgentInstance(address: address, door: door)
                made[address] = instance
                return instance
            }
        } catch {
            let orphans = Array(made.values)
            Task { await Self.close(orphans) }
            canary = nil
            sweep()
            throw error
        }
        instances.merge(made) { old, _ in old }
        let deadline = ContinuousClock.now + connectionWait
        while !made.values.allSatisfy(\.isConnected), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        canary = CanaryPlan(experiment: experiment, share: share, baseEpoch: baseEpoch, plan: plan)
        sweep()
    }

    func release(_ plan: EpochPlan) {
        let id = ObjectIdentifier(plan)
        let left = (leases[id] ?? 1) - 1
        leases[id] = left > 0 ? left : nil
        if left <= 0, retiring.removeValue(forKey: id) != nil { sweep() }
    }

    /// Switches to `spec` for the next requests, dialling instances it adds and waiting (up to
    /// `connectionWait`) until they are connected, so the first requests of the new epoch do
    /// not wait for a dial: a swap's new process serves from its first request.
    /// - Throws: `GatewayError` if its graph cannot run; the current epoch keeps serving.
    func install(_ spec: TopologySpec, connectionWait: Duration = .seconds(1)) async throws {
        var made: [String: AgentInstance] = [:]
        let known = instances
        let plan: EpochPlan
        do {
            plan = try EpochPlan(spec: spec, layout: layout) { address in
                if let existing = known[address] ?? made[address] { return existing }
                let instance = try AgentInstance(address: address, door: door)
                made[address] = instance
                return instance
            }
        } catch {
            // Requesters dialled for a plan that will never serve.
            let orphans = Array(made.values)
            Task { await Self.close(orphans) }
            throw error
        }
        instances.merge(made) { old, _ in old }
        let deadline = ContinuousClock.now + connectionWait
        while !made.values.allSatisfy(\.isConnected), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        let previous = current
        current = plan
        if leases[ObjectIdentifier(previous)] != nil { retiring[ObjectIdentifier(previous)] = previous }
        sweep()
    }

    /// Stops every requester; requests still in flight fail as closed.
    func closeAll() async {
        let all = Array(instances.values)
        instances.removeAll()
        await Self.close(all)
    }

    private func sweep() {
        var live = current.addresses
        if let canary { live.formUnion(canary.plan.addresses) }
        for plan in retiring.values { live.formUnion(plan.addresses) }
        let dead = instances.keys.filter { !live.contains($0) }
        guard !dead.isEmpty else { return }
        let closing = dead.compactMap { instances.removeValue(forKey: $0) }
        log.info("closing requesters of removed agent instances", metadata: ["addresses": .array(dead.map { .string($0) })])
        Task { await Self.close(closing) }
    }

    /// `Requester.close` waits for NNG's callbacks: it runs on a Dispatch thread, never on
    /// one of the few cooperative threads.
    private static func close(_ instances: [AgentInstance]) async {
        guard !instances.isEmpty else { return }
        await onDispatchThread { for instance in instances { instance.requester.close() } }
    }
}

/// A live experiment's candidate graph and the share of users it gets.
final class CanaryPlan: Sendable {
    let experiment: String
    let share: Double
    /// The control epoch it runs beside: a new epoch ends it.
    let baseEpoch: Int
    let plan: EpochPlan

    init(experiment: String, share: Double, baseEpoch: Int, plan: EpochPlan) {
        self.experiment = experiment
        self.share = share
        self.baseEpoch = baseEpoch
        self.plan = plan
    }

    func propensity(of arm: String) -> Double { arm == "candidate" ? share : 1 - share }

    /// The deterministic split: FNV-1a 64 of the experiment and the user with splitmix64's
    /// finaliser, as a number in [0, 1) below `share` (the same as `Evolution.CanarySplit`,
    /// which the controller and the tests use; the gateway does not link Evolution).
    static func picksCandidate(user: String, experiment: String, share: Double) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(experiment.utf8) + [0] + Array(user.utf8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 30
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash &*= 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Double(hash >> 11) / Double(UInt64(1) << 53) < share
    }
}

/// `RUN/experiment.json`, written by the coordinator while a live experiment runs.
struct ExperimentFile: Codable, Sendable, Equatable {
    var experiment: String
    var share: Double
    /// The candidate topology file (absolute, or relative to the run directory).
    var topology: String
    /// The control epoch.
    var epoch: Int
}
