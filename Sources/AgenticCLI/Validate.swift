import ArgumentParser
import Foundation
import Topology

/// `agentic validate FILE…`: every error of every file, as `FILE:LINE:COL: FIELD: message`.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check topology files: every error with file, line and field.",
        discussion: "Exits 0 when every file is valid, 1 when any has an error."
    )

    @Argument(help: "Topology files (YAML).") var files: [String]
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        var failed = false
        var results: [[String: String]] = []
        for file in files {
            do {
                let spec = try TopologyValidator.load(contentsOf: file)
                if !json { print("\(file): ok (\(spec.agents.count) agents, \(spec.edges.count) edges, epoch \(spec.epoch))") }
                results.append(["file": file, "ok": "true"])
            } catch {
                failed = true
                let lines = error.issues.isEmpty ? [error.message] : error.issues.map(\.description)
                if !json { lines.forEach { print($0) } }
                results.append(contentsOf: lines.map { ["file": file, "ok": "false", "error": $0] })
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        if failed { throw ExitCode(1) }
    }
}
