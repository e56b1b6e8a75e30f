public import AgentProtocol
import Foundation
public import Topology

extension RunLayout {
    /// The coordinator's control socket (req/rep): `status` and `down` ask it.
    public var coordinatorControl: String { "ipc://\(runDirectory)/s/coordinator.c" }
}

/// A request on the coordinator's control socket (an envelope of type `.control`).
public struct CoordinatorRequest: Codable, Sendable, Equatable {
    public struct Command: RawRepresentable, Codable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Answer with the `ClusterStatus`.
        public static let status = Command(rawValue: "status")
        /// Answer with the `ClusterStatus`, then stop everything gracefully and exit.
        public static let down = Command(rawValue: "down")
        /// Replace `agent`'s processes (`parameters`, `version`, `kind`); answer with a `SwapReport`.
        public static let swap = Command(rawValue: "swap")
        /// Change the system to `topology` (YAML text); answer with a `SwapReport`.
        public static let apply = Command(rawValue: "apply")
        /// Go back to `epoch`'s agents and wiring as a new epoch; answer with a `SwapReport`.
        public static let rollback = Command(rawValue: "rollback")
        /// Answer with the `HistoryReport`.
        public static let history = Command(rawValue: "history")
        /// Answer with the `TopologyDiff` from `epoch` to `to_epoch`.
        public static let diff = Command(rawValue: "diff")
        /// Start live experiment `agent` (its id) with candidate `topology` for `parameters["share"]`.
        public static let experimentStart = Command(rawValue: "experiment-start")
        /// End the live experiment: `parameters["decision"]` `promote` or not, `reason`.
        public static let experimentEnd = Command(rawValue: "experiment-end")
        /// Answer with the `ServingTopology`: the spec the serving epoch runs.
        public static let topology = Command(rawValue: "topology")
    }
    public var command: Command
    /// `swap`: the agent.
    public var agent: String?
    /// `swap`: parameter values as text, typed by the agent's kind.
    public var parameters: [String: String]?
    /// `swap`: the new version (default: the next one).
    public var version: String?
    /// `swap`: the new kind.
    public var kind: String?
    /// `apply`: the topology file's text; `file` names it in errors.
    public var topology: String?
    public var file: String?
    /// `rollback`: the epoch to return to; `diff`: the first epoch.
    public var epoch: Int?
    /// `diff`: the second epoch.
    public var toEpoch: Int?
    /// Why (recorded in the history).
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case command, agent, parameters, version, kind, topology, file, epoch, reason
        case toEpoch = "to_epoch"
    }

    public init(
        command: Command, agent: String? = nil, parameters: [String: String]? = nil, version: String? = nil,
        kind: String? = nil, topology: String? = nil, file: String? = nil, epoch: Int? = nil, toEpoch: Int? = nil,
        reason: String? = nil
    ) {
        self.command = command
        self.agent = agent
        self.parameters = parameters
        self.version = version
        self.kind = kind
        self.topology = topology
        self.file = file
        self.epoch = epoch
        self.toEpoch = toEpoch
        self.reason = reason
    }
}

/// The live cluster, as `agentic status` shows it.
public struct ClusterStatus: Codable, Sendable, Equatable {
    public var runDirectory: String
    public var coordinatorPID: Int32
    public var topology: String
    public var epoch: Int
    /// `starting`, `serving` or `stopping`.
    public var state: String
    /// The gateway's URL once it listens.
    public var gateway: String?
    /// One entry per instance (replicas separately), in topology order; a live experiment's
    /// candidate instances and those still draining after a swap are listed too.
    public var agents: [InstanceStatus]
    /// The live experiment, while one runs.
    public var experiment: ExperimentStatus?

    enum CodingKeys: String, CodingKey {
        case runDirectory = "run_dir"
        case coordinatorPID = "coordinator_pid"
        case topology, epoch, state, gateway, agents, experiment
    }

    public init(
        runDirectory: String, coordinatorPID: Int32, topology: String, epoch: Int, state: String, gateway: String?,
        agents: [InstanceStatus], experiment: ExperimentStatus? = nil
    ) {
        self.runDirectory = runDirectory
        self.coordinatorPID = coordinatorPID
        self.topology = topology
        self.epoch = epoch
        self.state = state
        self.gateway = gateway
        self.agents = agents
        self.experiment = experiment
    }
}

/// The live experiment in `ClusterStatus`: its id, the candidate's share of traffic and the
/// candidate's own agent versions (`name@version`).
public struct ExperimentStatus: Codable, Sendable, Equatable {
    public var experiment: String
    public var share: Double
    public var candidates: [String]

    public init(experiment: String, share: Double, candidates: [String]) {
        self.experiment = experiment
        self.share = share
        self.candidates = candidates
    }
}

/// The answer to `topology`: the serving epoch's spec.
public struct ServingTopology: Codable, Sendable, Equatable {
    public var epoch: Int
    public var spec: TopologySpec

    public init(epoch: Int, spec: TopologySpec) {
        self.epoch = epoch
        self.spec = spec
    }
}

/// One agent instance in `ClusterStatus`.
public struct InstanceStatus: Codable, Sendable, Equatable {
    public var name: String
    public var replica: Int
    public var kind: String
    public var version: String
    /// The process id; 0 while no process runs (starting, failed, stopped).
    public var pid: Int32
    /// The decision address.
    public var address: String
    public var state: AgentState
    /// Seconds since the current process started.
    public var uptimeSeconds: Double
    /// How often the supervisor restarted it.
    public var restarts: Int
    public var served: Int
    public var failed: Int
    public var latencyP99Microseconds: Double

    enum CodingKeys: String, CodingKey {
        case name, replica, kind, version, pid, address, state, restarts, served, failed
        case uptimeSeconds = "uptime_s"
        case latencyP99Microseconds = "latency_p99_us"
    }

    public init(
        name: String, replica: Int, kind: String, version: String, pid: Int32, address: String, state: AgentState,
        uptimeSeconds: Double, restarts: Int, served: Int, failed: Int, latencyP99Microseconds: Double
    ) {
        self.name = name
        self.replica = replica
        self.kind = kind
        self.version = version
        self.pid = pid
        self.address = address
        self.state = state
        self.uptimeSeconds = uptimeSeconds
        self.restarts = restarts
        self.served = served
        self.failed = failed
        self.latencyP99Microseconds = latencyP99Microseconds
    }
}

/// Where runs live and how their directory is made.
public enum RunDirectory {
    /// The run directory used when none is named: short, per user, under /tmp, so socket
    /// paths stay under the 107-byte limit of Unix sockets.
    public static var defaultPath: String { "/tmp/agentic-\(getuid())/default" }

    /// The longest socket file name the layout makes under the socket directory, plus margin.
    static let longestSocketName = 64

    /// Makes `path` and its socket directory private (mode 0700) and removes stale socket files.
    /// - Throws: ``CoordinatorError/Code/runDirectory``.
    public static func prepare(_ path: String) throws(CoordinatorError) {
        let layout = RunLayout(runDirectory: path)
        guard layout.socketDirectory.utf8.count + 1 + longestSocketName <= 107 else {
            throw CoordinatorError(
                .runDirectory,
                "\(path) is too long for Unix socket paths (107 bytes); use a shorter --run-dir, e.g. under /tmp")
        }
        let manager = FileManager.default
        let parent = (path as NSString).deletingLastPathComponent
        do {
            if !parent.isEmpty, !manager.fileExists(atPath: parent) {
                try manager.createDirectory(
                    atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            for directory in [path, layout.socketDirectory] {
                if !manager.fileExists(atPath: directory) {
                    try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
                }
                guard chmod(directory, 0o700) == 0 else {
                    throw CoordinatorError(
                        .runDirectory, "cannot make \(directory) private: \(String(cString: strerror(errno)))")
                }
            }
            removeSockets(path)
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError(.runDirectory, "cannot make the run directory \(path): \(error)")
        }
    }

    /// Removes every socket file of the run; returns the paths of those it could not remove.
    @discardableResult
    public static func removeSockets(_ path: String) -> [String] {
        let directory = RunLayout(runDirectory: path).socketDirectory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var left: [String] = []
        for name in names {
            let file = "\(directory)/\(name)"
            if unlink(file) != 0, errno != ENOENT { left.append(file) }
        }
        return left
    }

    /// The socket files left in the run's socket directory.
    public static func socketFiles(_ path: String) -> [String] {
        let directory = RunLayout(runDirectory: path).socketDirectory
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }
}
