public import Logging

/// A `StreamLogHandler` that renders its metadata only when it logs. `StreamLogHandler` renders
/// it on every change, and Hummingbird sets a request id on each request's logger: the gateway
/// paid for that rendering on every request, though it logs nothing for most of them.
public struct LazyMetadataLogHandler: LogHandler {
    private var base: StreamLogHandler
    public var metadata: Logger.Metadata = [:]

    public init(_ base: StreamLogHandler) { self.base = base }

    public var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var handler = base
        handler.metadata = metadata
        handler.log(event: event)
    }
}
