/// The decoders that take bytes from outside a process, as fuzz targets: each takes any bytes,
/// must not trap, and checks a property that would catch a wrong answer, not only a crash
/// (a decoded value encodes back to bytes that decode to the same value; the hand-written
/// JSON reader and writer agree with Foundation's). A broken property stops the process
/// (`preconditionFailure`), which libFuzzer reports as a crash and saves the input.
///
/// `agentic-fuzz` runs them under libFuzzer (`deploy/fuzz.sh`); `FuzzTests` replays the
/// corpus in `Tests/FuzzTests/Corpus` through them in every `swift test`.

package enum FuzzTarget: String, CaseIterable, Sendable {
    /// `Envelope.decode`, `Topic.split` and `Batch.envelopes`: every NNG frame's header.
    case envelope
    /// `WireCodec.decode` of the binary data-plane and store payloads.
    case wire
    /// `TopologyValidator.load(source:)` and its YAML writer.
    case topology
    /// The gateway's request validation (recommend, feedback) and its flat JSON reader.
    case request
    /// The gateway's hand-written response JSON against `JSONEncoder`.
    case response

    /// Runs one input.
    package func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .envelope: EnvelopeTarget.run(bytes)
        case .wire: WireTarget.run(Array(bytes))
        case .topology: TopologyTarget.run(bytes)
        case .request: RequestTarget.run(Array(bytes))
        case .response: ResponseTarget.run(Array(bytes))
        }
    }

    package func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }
}

/// A broken property: the input and what was wrong go to stderr, then the process stops.
func violated(_ what: String, file: StaticString = #file, line: UInt = #line) -> Never {
    preconditionFailure("fuzz property violated: \(what)", file: file, line: line)
}
