import AgenticTesting
import Coordinator
import Foundation
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The dashboard of a real cluster (`agentic up topology/minimal.yaml`) in Debian's chromium,
/// headless: the page loads with nothing on its console, shows every agent, and after an
/// `agentic swap` shows the new epoch without being loaded again. The screenshot goes to
/// `.build/test-output/dashboard.png`.
@Suite("Dashboard in a browser", .serialized, .timeLimit(.minutes(4)))
struct DashboardBrowserTests {
    @Test("the live page follows a swap without a reload, and logs nothing to its console")
    func followsSwap() async throws {
        let cluster = try await TestCluster(topology: repository.appendingPathComponent("topology/minimal.yaml").path)
        defer { cluster.up.stop() }
        let url = try await cluster.dashboardURL()
        let agents = ["router", "static.a", "static.b", "fusion", "rank"]

        let browser = try HeadlessBrowser(opening: url)
        do {
            try await waitUntil("the page shows epoch 0", timeout: .seconds(30)) {
                try await browser.pageTitles().contains("agentic · minimal · epoch 0")
            }
            let swap = try TestProcess.agentic(
                ["swap", "fusion", "--set", "weight.static.b=1.5", "--run-dir", cluster.runDirectory])
            #expect(try await swap.waitForExit(timeout: .seconds(60)) == 0, "swap: \(swap.output())")
            try await waitUntil("the open page shows epoch 1", timeout: .seconds(30)) {
                try await browser.pageTitles().contains("agentic · minimal · epoch 1")
            }
            // The page followed the swap by itself: it was loaded once.
            let state = try await HTTP.get(url + "api/state")
            #expect(state.object["page_loads"] as? Int == 1)
            #expect(browser.consoleMessages() == [], "console: \(browser.consoleMessages())")
        } catch {
            Issue.record("chromium said: \(browser.output().suffix(20))")
            await browser.close()
            throw error
        }
        await browser.close()

        // A fresh load draws every agent of the serving epoch, the new fusion version, the epoch history.
        let dom = try await browser.dumpDOM(url: url)
        for agent in agents {
            #expect(dom.contains("data-agent=\"\(agent)\""), "\(agent) is not on the page")
        }
        #expect(dom.contains("data-agent=\"fusion\" data-version=\"2\" data-role=\"serving\""))
        #expect(dom.contains("data-epoch=\"1\"") && dom.contains("data-epoch=\"0\""))
        #expect(dom.contains("data-first-data-ms="))

        let output = repository.appendingPathComponent(".build/test-output")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try await browser.screenshot(url: url, to: output.appendingPathComponent("dashboard.png").path)
        await cluster.stop()
    }
}
