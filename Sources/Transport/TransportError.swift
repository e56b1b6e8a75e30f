internal import CNNG

/// The one error type of the transport: a code to branch on, NNG's own error number
/// when NNG raised it, a readable message, and where it was made.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a value to compare against (`error.code == .timedOut`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case timedOut, closed, cancelled, connectionRefused, addressInUse, invalidAddress
            case malformedFrame, unsupportedVersion, messageTooLarge, protocolState, nng
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The operation did not complete before its deadline; the socket is still usable.
        public static let timedOut = Code(.timedOut)
        /// The socket (or context) was closed; nothing more will pass through it.
        public static let closed = Code(.closed)
        /// The operation was cancelled (task cancellation, or the socket is shutting down).
        public static let cancelled = Code(.cancelled)
        /// Nobody listens at the dialled address.
        public static let connectionRefused = Code(.connectionRefused)
        /// Somebody else listens at the address already.
        public static let addressInUse = Code(.addressInUse)
        /// The URL is not one NNG can use.
        public static let invalidAddress = Code(.invalidAddress)
        /// A frame that does not decode: truncated, bad magic, lying length fields.
        public static let malformedFrame = Code(.malformedFrame)
        /// A frame in an envelope version this build does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A frame larger than the configured limit.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// The protocol refused the operation in its current state (e.g. reply before request).
        public static let protocolState = Code(.protocolState)
        /// Any other NNG error; `nngErrorCode` says which.
        public static let nng = Code(.nng)

        public var description: String {
            switch base {
            case .timedOut: "timedOut"
            case .closed: "closed"
            case .cancelled: "cancelled"
            case .connectionRefused: "connectionRefused"
            case .addressInUse: "addressInUse"
            case .invalidAddress: "invalidAddress"
            case .malformedFrame: "malformedFrame"
            case .unsupportedVersion: "unsupportedVersion"
            case .messageTooLarge: "messageTooLarge"
            case .protocolState: "protocolState"
            case .nng: "nng"
            }
        }
    }

    public let code: Code
    /// NNG's error number (`NNG_ETIMEDOUT` …) when NNG reported the error.
    public let nngErrorCode: Int32?
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, nngErrorCode: Int32? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.nngErrorCode = nngErrorCode
        self.file = file
        self.line = line
    }

    /// Maps an NNG return value to the matching code, keeping NNG's own text.
    init(nng rv: Int32, _ context: String, file: String = #fileID, line: Int = #line) {
        let code: Code =
            switch UInt32(bitPattern: rv) {
            case NNG_ETIMEDOUT.rawValue: .timedOut
            case NNG_ECLOSED.rawValue: .closed
            case NNG_ECANCELED.rawValue: .cancelled
            case NNG_ECONNREFUSED.rawValue: .connectionRefused
            case NNG_EADDRINUSE.rawValue: .addressInUse
            case NNG_EADDRINVAL.rawValue, NNG_ENOTSUP.rawValue: .invalidAddress
            case NNG_EMSGSIZE.rawValue: .messageTooLarge
            case NNG_ESTATE.rawValue: .protocolState
            default: .nng
            }
        let text = String(cString: nng_strerror(rv))
        self.init(code, "\(context): \(text)", nngErrorCode: rv, file: file, line: line)
    }

    public var description: String {
        if let nngErrorCode {
            return "TransportError.\(code) (nng \(nngErrorCode)): \(message)"
        }
        return "TransportError.\(code): \(message)"
    }
}

extension TransportError: Equatable {
    /// Errors are equal when their codes are: the message and location are for people.
    public static func == (lhs: TransportError, rhs: TransportError) -> Bool { lhs.code == rhs.code }
}

/// Throws the matching `TransportError` when an NNG call failed.
@inline(__always)
func check(_ rv: Int32, _ context: @autoclosure () -> String, file: String = #fileID, line: Int = #line) throws {
    if rv != 0 { throw TransportError(nng: rv, context(), file: file, line: line) }
}

extension Duration {
    /// NNG's millisecond durations, rounding up so a tiny timeout is not "no wait".
    var nngMilliseconds: nng_duration {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return nng_duration(clamping: max(ms, 0))
    }
}
