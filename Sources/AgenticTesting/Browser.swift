import Foundation
import Transport

/// Debian's `chromium`, headless, for tests that check a page as a person sees it. A page is
/// opened with remote debugging on a free port: ``pageTitles()`` reads what each open page's
/// title is now (through the DevTools HTTP endpoint, so the page is never reloaded), and
/// ``consoleMessages()`` what the page wrote to its console or threw (chromium logs both to
/// stderr with `--enable-logging=stderr`). One-shot ``dumpDOM(url:)`` and
/// ``screenshot(url:to:)`` load the page afresh.
public final class HeadlessBrowser: Sendable {
    /// The executable: `AGENTIC_CHROMIUM`, else `chromium` on PATH.
    public let executable: String
    private let profile: ShortDirectory
    private let process: TestProcess
    private let debuggingPort: Int

    /// Opens `url` in a headless browser.
    /// - Throws: `TestFailure` when no chromium is installed (`deploy/install-deps.sh` installs it).
    public init(opening url: String) throws {
        executable = try Self.find()
        profile = try ShortDirectory()
        debuggingPort = try Self.freePort()
        process = try TestProcess(
            executable,
            Self.common(profile: profile.path) + [
                "--enable-logging=stderr", "--v=0", "--remote-debugging-port=\(debuggingPort)", url,
            ])
    }

    /// The titles of the open pages (not the browser's own).
    public func pageTitles() async throws -> [String] {
        let answer = try await HTTP.get("http://127.0.0.1:\(debuggingPort)/json/list", timeout: .seconds(5))
        let targets = (try? JSONSerialization.jsonObject(with: answer.body)) as? [[String: Any]] ?? []
        return targets.filter { ($0["type"] as? String) == "page" }.compactMap { $0["title"] as? String }
    }

    /// What pages logged to their console or threw, one line each.
    public func consoleMessages() -> [String] { process.output().filter { $0.contains(":CONSOLE") } }

    /// Every line chromium wrote (for a failure message).
    public func output() -> [String] { process.output() }

    /// Closes the browser and waits for it.
    public func close() async { await process.stopAndWait() }

    /// The DOM of `url` after its scripts ran for `budget` of virtual time.
    public func dumpDOM(url: String, budget: Duration = .seconds(3)) async throws -> String {
        let once = try ShortDirectory()
        let dump = try TestProcess(
            executable,
            Self.common(profile: once.path) + ["--virtual-time-budget=\(budget.components.seconds * 1000)", "--dump-dom", url])
        _ = try await dump.waitForExit(timeout: .seconds(60))
        return dump.output().joined(separator: "\n")
    }

    /// Loads `url` and writes a PNG of it to `path`.
    public func screenshot(url: String, to path: String, width: Int = 1400, height: Int = 1100) async throws {
        let once = try ShortDirectory()
        let shot = try TestProcess(
            executable,
            Self.common(profile: once.path) + [
                "--window-size=\(width),\(height)", "--virtual-time-budget=3000", "--screenshot=\(path)", url,
            ])
        _ = try await shot.waitForExit(timeout: .seconds(60))
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestFailure("chromium wrote no screenshot to \(path): \(shot.output().suffix(5))")
        }
    }

    /// Flags every run needs here: no sandbox (CI runs as root), no GPU, nothing fetched from
    /// the network on its own, a profile of its own.
    private static func common(profile: String) -> [String] {
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=\(profile)",
        ]
    }

    private static func find() throws -> String {
        if let path = ProcessInfo.processInfo.environment["AGENTIC_CHROMIUM"], !path.isEmpty { return path }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(directory)/chromium"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TestFailure("no chromium on PATH (deploy/install-deps.sh installs Debian's; AGENTIC_CHROMIUM names another)")
    }

    /// A port free a moment ago (the system's choice for port 0).
    private static func freePort() throws -> Int {
        let socket = try Socket(.rep)
        defer { socket.close() }
        guard let port = try socket.listen("tcp://127.0.0.1:0").split(separator: ":").last.flatMap({ Int($0) }), port > 0 else {
            throw TestFailure("cannot find a free port")
        }
        return port
    }
}
