import AgenticTesting
import Foundation
import Testing
@testable import Transport

/// The same exchanges with the far end in another process: `agentic peer …`, or `nngcat`
/// from Debian's nng-utils, a client we did not write.
@Suite("Across processes", .serialized, .timeLimit(.minutes(1)))
struct CrossProcessTests {
    @Test("round trips to a replier in another process, over ipc and tcp", arguments: ["ipc", "tcp"])
    func roundTripsAcrossProcesses(transport: String) async throws {
        let directory = try TestDirectory()
        let url = transport == "ipc" ? directory.url("peer") : "tcp://127.0.0.1:0"
        let peer = try TestProcess.agentic(["peer", "serve", url, "--mode", "envelope"])
        defer { peer.stop() }
        // The peer prints the address it bound (with the port it was given for tcp).
        let bound = String(try await peer.waitForLine { $0.hasPrefix("ready ") }.dropFirst("ready ".count))
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(bound)
        for id in 1...100 as ClosedRange<UInt64> {
            let sent = Envelope(type: .request, requestID: id, traceID: .random(), payload: Array(repeating: UInt8(id), count: Int(id) * 40))
            let reply = try await requester.request(Message(envelope: sent)).envelope()
            #expect(reply.type == .reply)
            #expect(reply.requestID == id)
            #expect(reply.traceID == sent.traceID)
            #expect(reply.payload == sent.payload)
        }
    }

    @Test("64 requests in flight to a peer that takes 50 ms each all come back")
    func concurrentAcrossProcesses() async throws {
        let directory = try TestDirectory()
        let peer = try TestProcess.agentic(["peer", "serve", directory.url("slow"), "--delay-ms", "50", "--contexts", "64"])
        defer { peer.stop() }
        _ = try await peer.waitForLine { $0.hasPrefix("ready") }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("slow"))
        let replies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for i in 0..<64 {
                group.addTask { try await requester.request(Message(bytes: Array("r\(i)".utf8)), timeout: .seconds(30)).bytes }
            }
            return try await group.reduce(into: Set<[UInt8]>()) { $0.insert($1) }
        }
        #expect(replies == Set((0..<64).map { Array("r\($0)".utf8) }))
    }

    @Test("a malformed frame over the wire gets an error envelope, and the peer keeps serving")
    func malformedFrameOverTheWire() async throws {
        let directory = try TestDirectory()
        let peer = try TestProcess.agentic(["peer", "serve", directory.url("env"), "--mode", "envelope"])
        defer { peer.stop() }
        _ = try await peer.waitForLine { $0.hasPrefix("ready") }
        let requester = try Requester()
        defer { requester.close() }
        try requester.dial(directory.url("env"))
        var lying = Envelope(type: .request, requestID: 9, payload: [1, 2, 3]).encoded()
        lying[39] = 200  // the length field now claims 200 bytes
        for garbage in [[], [0xA6], Array("hello".utf8), lying, [0xA6, 0x17, 9, 1]] as [[UInt8]] {
            let reply = try await requester.request(Message(bytes: garbage)).envelope()
            #expect(reply.type == .error)
            #expect(!reply.payload.isEmpty)
        }
        let good = try await requester.request(Message(envelope: Envelope(type: .request, requestID: 10))).envelope()
        #expect(good.type == .reply && good.requestID == 10)
        #expect(peer.isRunning)
    }

    @Test("nngcat, a client we did not write, gets replies from our replier")
    func nngcatRequestsFromOurReplier() async throws {
        let nngcat = try Self.nngcat()
        let directory = try TestDirectory()
        let peer = try TestProcess.agentic(["peer", "serve", directory.url("echo")])
        defer { peer.stop() }
        _ = try await peer.waitForLine { $0.hasPrefix("ready") }
        let client = try TestProcess(nngcat, ["--req", "--dial", directory.url("echo"), "--data", "ping-from-nngcat", "--ascii", "--recv-timeout", "10"])
        // Wait for the output itself: the exit can be seen before the reader thread has it.
        _ = try await client.waitForLine { $0.contains("ping-from-nngcat") }
        #expect(try await client.waitForExit() == 0)
    }

    @Test("nngcat subscribes to our publisher and receives its messages")
    func nngcatSubscribesToOurPublisher() async throws {
        let nngcat = try Self.nngcat()
        let directory = try TestDirectory()
        let publisher = try TestProcess.agentic(["peer", "publish", directory.url("pub"), "--text", "hello-from-agentic"])
        defer { publisher.stop() }
        _ = try await publisher.waitForLine { $0 == "ready" }
        let subscriber = try TestProcess(nngcat, ["--sub", "--dial", directory.url("pub"), "--subscribe", "hello", "--ascii", "--count", "3", "--recv-timeout", "10"])
        #expect(try await subscriber.waitForExit() == 0)
        // nngcat prints without newlines; wait until all three bodies have been read.
        // nngcat prints the bodies without newlines: the reader hands them over at EOF.
        let text = try await subscriber.waitForLine { $0.contains("hello-from-agentic") }
        #expect(text.components(separatedBy: "hello-from-agentic").count - 1 == 3)
    }

    @Test("our subscriber receives what nngcat publishes")
    func ourSubscriberHearsNngcat() async throws {
        let nngcat = try Self.nngcat()
        let directory = try TestDirectory()
        let subscriber = try Subscriber()
        defer { subscriber.close() }
        try subscriber.subscribe(Array("tick".utf8))
        try subscriber.listen(directory.url("sub"))
        let publisher = try TestProcess(nngcat, ["--pub", "--dial", directory.url("sub"), "--data", "tick-from-nngcat", "--interval", "1", "--count", "30"])
        defer { publisher.stop() }
        // nngcat sends once a second; closing after 20 s ends the stream, so this cannot hang.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(20))
            subscriber.close()
        }
        defer { watchdog.cancel() }
        var iterator = subscriber.messages.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first.map { String(decoding: $0.bytes, as: UTF8.self) } == "tick-from-nngcat")
    }

    static func nngcat() throws -> String {
        for path in ["/usr/bin/nngcat", "/usr/local/bin/nngcat"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw TestFailure("nngcat is missing: install Debian's nng-utils (the README's test command does)")
    }
}
