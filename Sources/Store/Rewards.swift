public import AgentProtocol
import Foundation

/// Computes a `RewardReport` from served lists and the positive feedback on them.
///
/// Inner reward of an agent version: the click-through of the served items it contributed (a
/// recall agent contributed the items its candidates held; a pipeline agent, every item of
/// the lists it shaped). Outer reward: per list, whether anything was clicked and its NDCG
/// with clicks as relevance; averaged over the lists an agent version took part in, and
/// over the lists of each epoch.
public struct RewardBuilder: Sendable {
    private struct List {
        var epoch: Int
        var pipeline: [String]
        var items: [(rank: Int, item: String, sources: [String])] = []
    }

    private var clicks = Set<String>()
    private var lists: [String: List] = [:]

    public init() {}

    /// A positive event on `item` in the list served as `requestID`.
    public mutating func click(requestID: String, item: String) { clicks.insert(requestID + "\u{1F}" + item) }

    public mutating func list(requestID: String, epoch: Int, pipeline: [String]) {
        lists[requestID] = List(epoch: epoch, pipeline: pipeline)
    }

    public mutating func item(requestID: String, rank: Int, item: String, sources: [String]) {
        lists[requestID]?.items.append((rank, item, sources))
    }

    private struct Tally {
        var contributed = 0
        var clicked = 0
        var lists = 0
        var listsClicked = 0
        var ndcg = 0.0
    }

    public func report() -> RewardReport {
        var agents: [String: Tally] = [:]
        var epochs: [Int: Tally] = [:]
        for (requestID, list) in lists {
            let clicked = list.items.map { clicks.contains(requestID + "\u{1F}" + $0.item) }
            let clickCount = clicked.count { $0 }
            let ndcg = Self.ndcg(ranks: zip(list.items, clicked).filter(\.1).map(\.0.rank), relevant: clickCount)
            var members = Set(list.pipeline)
            for (entry, hit) in zip(list.items, clicked) {
                for agent in Set(entry.sources).union(list.pipeline) {
                    agents[agent, default: Tally()].contributed += 1
                    if hit { agents[agent, default: Tally()].clicked += 1 }
                }
                members.formUnion(entry.sources)
            }
            for agent in members {
                agents[agent, default: Tally()].lists += 1
                agents[agent, default: Tally()].listsClicked += clickCount > 0 ? 1 : 0
                agents[agent, default: Tally()].ndcg += ndcg
            }
            epochs[list.epoch, default: Tally()].lists += 1
            epochs[list.epoch, default: Tally()].contributed += list.items.count
            epochs[list.epoch, default: Tally()].clicked += clickCount
            epochs[list.epoch, default: Tally()].listsClicked += clickCount > 0 ? 1 : 0
            epochs[list.epoch, default: Tally()].ndcg += ndcg
        }
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        return RewardReport(
            agents: agents.sorted { $0.key < $1.key }.map { agent, tally in
                AgentReward(
                    agent: agent, contributed: tally.contributed, clicked: tally.clicked,
                    innerCTR: ratio(tally.clicked, tally.contributed), lists: tally.lists,
                    listsClicked: ratio(tally.listsClicked, tally.lists),
                    ndcg: tally.lists == 0 ? 0 : tally.ndcg / Double(tally.lists))
            },
            epochs: epochs.sorted { $0.key < $1.key }.map { epoch, tally in
                EpochReward(
                    epoch: epoch, lists: tally.lists, items: tally.contributed, clicked: tally.clicked,
                    listsClicked: ratio(tally.listsClicked, tally.lists),
                    ndcg: tally.lists == 0 ? 0 : tally.ndcg / Double(tally.lists))
            })
    }

    /// DCG of clicks at `ranks` (from 1) over the DCG of `relevant` clicks at the top.
    static func ndcg(ranks: [Int], relevant: Int) -> Double {
        guard relevant > 0 else { return 0 }
        let dcg = ranks.reduce(0.0) { $0 + 1 / log2(Double($1) + 1) }
        let ideal = (1...relevant).reduce(0.0) { $0 + 1 / log2(Double($1) + 1) }
        return dcg / ideal
    }
}
