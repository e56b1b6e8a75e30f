import AgentProtocol
import ArgumentParser
import Coordinator
import Foundation
import Store

/// `agentic report`: the inner and outer rewards per agent version and per epoch, computed
/// from the store's served lists and the feedback on them.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewards per agent version and per epoch, from the knowledge store.",
        discussion: """
            Inner reward of an agent version: click-through of the served items it contributed. \
            Outer reward: the share of lists with a click and the mean NDCG (clicks as relevance) \
            of the lists it took part in, and of each epoch's lists.
            """
    )

    @Option(help: "The run directory (default: /tmp/agentic-UID/default).") var runDir: String?
    @Option(help: "The store's database (default: store.sqlite in the run directory).") var database: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let path = absolute(database ?? (absolute(runDir ?? RunDirectory.defaultPath) + "/" + KnowledgeStore.defaultFileName))
        let counts: StoreCounts
        let report: RewardReport
        do {
            let store = try KnowledgeStore(path: path, create: false)
            counts = try store.counts()
            report = try store.report()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        if json {
            struct Output: Encodable {
                var database: String
                var counts: StoreCounts
                var agents: [AgentReward]
                var epochs: [EpochReward]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let output = Output(database: path, counts: counts, agents: report.agents, epochs: report.epochs)
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        print(
            "store \(path): \(counts.users) users, \(counts.items) items, \(counts.interactions) interactions "
                + "(\(counts.feedback) feedback), \(counts.servedLists) served lists")
        print("")
        table(
            ["AGENT", "CONTRIBUTED", "CLICKED", "INNER_CTR", "LISTS", "LISTS_CLICKED", "NDCG"],
            report.agents.map {
                [
                    $0.agent, "\($0.contributed)", "\($0.clicked)", String(format: "%.4f", $0.innerCTR), "\($0.lists)",
                    String(format: "%.4f", $0.listsClicked), String(format: "%.4f", $0.ndcg),
                ]
            })
        print("")
        table(
            ["EPOCH", "LISTS", "ITEMS", "CLICKED", "LISTS_CLICKED", "NDCG"],
            report.epochs.map {
                [
                    "\($0.epoch)", "\($0.lists)", "\($0.items)", "\($0.clicked)", String(format: "%.4f", $0.listsClicked),
                    String(format: "%.4f", $0.ndcg),
                ]
            })
    }

    private func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}
