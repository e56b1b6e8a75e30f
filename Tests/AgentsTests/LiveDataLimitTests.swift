import AgenticTesting
import Testing

@testable import Agents

/// Feedback can name any item and any user: the live view takes new ones only up to its
/// limits, refuses and counts the rest, and keeps applying what it already knows.
@Suite("Live data limits")
struct LiveDataLimitTests {
    let directory: ShortDirectory
    let loaded: MovieLensData

    init() throws {
        directory = try ShortDirectory()
        loaded = try MovieLensData.load(DataConfiguration(directory: try Fixture.write(to: directory.path + "/ml")))
    }

    static func click(_ user: String, _ item: String) -> FeedbackPayload {
        FeedbackPayload(user: user, item: item, event: "click", value: nil)
    }

    @Test("new items past the limit are refused and counted; known items still apply")
    func newItems() throws {
        var live = LiveData(data: loaded)
        live.maximumNewItems = 2
        let known = live.itemIDs[0]
        let fitted = live.itemCount
        #expect(live.apply(Self.click("1", "new-a"))?.newItem == true)
        #expect(live.apply(Self.click("1", "new-b"))?.newItem == true)
        #expect(live.apply(Self.click("1", "new-c")) == nil)
        #expect(live.apply(Self.click("2", "new-d")) == nil)
        #expect(live.refusedNewItems == 2)
        #expect(live.itemCount == fitted + 2)
        #expect(live.itemIndex("new-c") == nil)
        // Items already in the catalogue, old or new, still count.
        #expect(live.apply(Self.click("2", "new-a"))?.newInteraction == true)
        #expect(live.apply(Self.click("2", known)) != nil)
        #expect(live.refusedNewItems == 2)
    }

    @Test("new users past the limit are refused and counted; known and admitted users still apply")
    func newUsers() throws {
        var live = LiveData(data: loaded)
        live.maximumNewUsers = 1
        let item = live.itemIDs[0]
        #expect(live.apply(Self.click("stranger-1", item)) != nil)
        #expect(live.apply(Self.click("stranger-2", item)) == nil)
        #expect(live.refusedNewUsers == 1)
        #expect(live.historyCount("stranger-2") == 0)
        // The admitted stranger goes on learning; a training user is not new.
        #expect(live.apply(Self.click("stranger-1", live.itemIDs[1])) != nil)
        #expect(live.historyCount("stranger-1") == 2)
        #expect(live.apply(Self.click("1", item)) != nil)
        #expect(live.refusedNewUsers == 1)
    }
}
