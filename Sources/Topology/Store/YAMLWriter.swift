import Yams

extension TopologySpec {
    /// The spec as YAML, in a fixed key order, such that parsing it gives back an equal spec.
    ///
    /// Fields equal to their defaults are left out where the schema has defaults, so a rewrite
    /// stays as short as what a person would write; comments of the original file are not kept.
    public func renderYAML() -> String {
        var writer = YAMLWriter()
        writer.write(self)
        return writer.output
    }
}

/// A small emitter of our own: the order of keys and the quoting of strings are part of the contract
/// (stable diffs between epochs, `"1"` stays a string), so they are not left to a generic serializer.
struct YAMLWriter {
    private(set) var output = ""

    mutating func write(_ spec: TopologySpec) {
        line(
            0,
            "# agentic topology '\(spec.name.replacingNewlines)', epoch \(spec.epoch). Written by TopologyStore; comments are not kept."
        )
        line(0, "epoch: \(spec.epoch)")
        line(0, "name: \(Self.scalar(spec.name))")
        writeTransport(spec.transport)
        if let directory = spec.artifacts { line(0, "artifacts: \(Self.scalar(directory))") }
        if spec.agents.isEmpty {
            line(0, "agents: []")
        } else {
            line(0, "agents:")
            for agent in spec.agents { writeAgent(agent) }
        }
        if spec.edges.isEmpty {
            line(0, "edges: []")
        } else {
            line(0, "edges:")
            for edge in spec.edges {
                let segments = edge.segments.map { ", segments: \(Self.list($0))" } ?? ""
                line(1, "- { from: \(Self.scalar(edge.from)), to: \(Self.scalar(edge.to))\(segments) }")
            }
        }
        writeGateway(spec.gateway)
        writeRewards(spec.rewards)
    }

    private mutating func writeTransport(_ transport: TransportSpec) {
        let defaults = TransportSpec()
        line(0, "transport:")
        line(1, "kind: \(Self.scalar(transport.kind.rawValue))")
        if let directory = transport.runDirectory { line(1, "run_dir: \(Self.scalar(directory))") }
        if transport.host != defaults.host { line(1, "host: \(Self.scalar(transport.host))") }
        if transport.basePort != defaults.basePort { line(1, "base_port: \(transport.basePort)") }
        if transport.allowNonLoopback { line(1, "allow_non_loopback: true") }
    }

    private mutating func writeAgent(_ agent: AgentSpec) {
        line(1, "- name: \(Self.scalar(agent.name))")
        line(2, "kind: \(Self.scalar(agent.kind))")
        line(2, "version: \(Self.scalar(agent.version))")
        line(2, "replicas: \(agent.replicas)")
        if !agent.parameters.isEmpty {
            line(2, "parameters:")
            for name in agent.parameters.keys.sorted() {
                line(3, "\(Self.scalar(name)): \(Self.value(agent.parameters[name]!))")
            }
        }
        if !agent.decisionSpace.isEmpty {
            line(2, "decision_space:")
            for name in agent.decisionSpace.keys.sorted() {
                line(3, "\(Self.scalar(name)): \(Self.dimension(agent.decisionSpace[name]!))")
            }
        }
        if agent.restart != RestartPolicy() {
            let restart = agent.restart
            line(
                2,
                "restart: { policy: \(Self.scalar(restart.strategy.rawValue)), intensity: \(restart.intensity), "
                    + "period_s: \(restart.periodSeconds), backoff_ms: \(restart.backoffMilliseconds), "
                    + "max_backoff_ms: \(restart.maxBackoffMilliseconds) }")
        }
        if let reward = agent.innerReward { line(2, "inner_reward: \(Self.scalar(reward))") }
    }

    private mutating func writeGateway(_ gateway: GatewaySpec) {
        line(0, "gateway:")
        if gateway.listen.isEmpty {
            line(1, "listen: []")
        } else {
            line(1, "listen:")
            for address in gateway.listen { line(2, "- \(Self.scalar(address))") }
        }
        if let nng = gateway.nng { line(1, "nng: \(Self.scalar(nng))") }
        if gateway.entry.count == 1 {
            line(1, "entry: \(Self.scalar(gateway.entry[0]))")
        } else {
            line(1, "entry: [\(gateway.entry.map(Self.scalar).joined(separator: ", "))]")
        }
        line(1, "exit: \(Self.scalar(gateway.exit))")
        line(1, "deadline_ms: \(gateway.deadlineMilliseconds)")
        if gateway.allowNonLoopback { line(1, "allow_non_loopback: true") }
        if let value = gateway.maximumInFlight { line(1, "max_in_flight: \(value)") }
        if let value = gateway.maximumQueued { line(1, "max_queued: \(value)") }
        if let value = gateway.maximumWaitMilliseconds { line(1, "max_wait_ms: \(value)") }
        if let value = gateway.maximumBodyBytes { line(1, "max_body_bytes: \(value)") }
    }

    private mutating func writeRewards(_ rewards: RewardsSpec) {
        line(0, "rewards:")
        if !rewards.inner.isEmpty {
            line(1, "inner:")
            for agent in rewards.inner.keys.sorted() {
                line(2, "\(Self.scalar(agent)): \(Self.scalar(rewards.inner[agent]!))")
            }
        }
        line(1, "outer:")
        line(2, "metric: \(Self.scalar(rewards.outer.metric))")
        if let budget = rewards.outer.latencyBudgetMilliseconds { line(2, "latency_budget_ms: \(budget)") }
        if let floor = rewards.outer.diversityFloor { line(2, "diversity_floor: \(Self.double(floor))") }
    }

    private mutating func line(_ depth: Int, _ text: String) {
        output += String(repeating: "  ", count: depth) + text + "\n"
    }

    // MARK: - Scalars

    static func value(_ value: ParameterValue) -> String {
        switch value {
        case .int(let number): String(number)
        case .double(let number): double(number)
        case .bool(let flag): flag ? "true" : "false"
        case .string(let text): scalar(text)
        }
    }

    /// Always with a `.` or an exponent, so it reads back as a double, never an int.
    static func double(_ number: Double) -> String {
        if number.isNaN { return ".nan" }
        if number.isInfinite { return number < 0 ? "-.inf" : ".inf" }
        return String(number)
    }

    /// A flow list of text: `[light, heavy]`.
    static func list(_ items: [String]) -> String { "[\(items.map(scalar).joined(separator: ", "))]" }

    static func dimension(_ dimension: DecisionDimension) -> String {
        var parts = ["type: \(scalar(dimension.type.rawValue))"]
        let number: (Double) -> String = {
            dimension.type == .int && $0.rounded() == $0 && abs($0) < 1e15 ? String(Int($0)) : double($0)
        }
        if let low = dimension.min { parts.append("min: \(number(low))") }
        if let high = dimension.max { parts.append("max: \(number(high))") }
        if let values = dimension.values { parts.append("values: [\(values.map(scalar).joined(separator: ", "))]") }
        if dimension.log { parts.append("log: true") }
        return "{ \(parts.joined(separator: ", ")) }"
    }

    /// Plain when YAML would read it back as the same text, double-quoted otherwise.
    static func scalar(_ text: String) -> String {
        let safe =
            !text.isEmpty
            && text.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.@/+-".unicodeScalars.contains($0))
            }
            && text.unicodeScalars.first.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" }
                == true
            && NodeDecoder.resolvedTag(text) == .str
        return safe ? text : quoted(text)
    }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    result +=
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}

extension String {
    fileprivate var replacingNewlines: String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
