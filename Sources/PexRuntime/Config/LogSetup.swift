import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log handler that writes one JSON object per line (`logging.format: json`):
///
/// ```json
/// {"timestamp":"2025-01-02T03:04:05.678Z","level":"info","label":"pex","message":"peer connected","metadata":{"peer":"12D3KooW…"}}
/// ```
///
/// Keys come in this fixed order and metadata keys are sorted, so lines diff and grep well.
/// `metadata` is left out when empty. Each line goes out in one `write`, so lines from several
/// loggers do not interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    /// Creates a handler.
    ///
    /// - Parameters:
    ///   - label: The logger's label, written as `label`.
    ///   - level: Messages below this level are dropped.
    ///   - metadataProvider: Contextual metadata added to each message.
    ///   - sink: Receives each line, newline included; standard error by default.
    public init(
        label: String, level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
        sink: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError
    ) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // Precedence as in swift-log's own handlers: handler < provider < the call's own metadata.
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        sink(Self.line(timestamp: Self.now(), level: event.level, label: label, message: event.message.description,
                       metadata: merged))
    }

    /// One log line, newline included.
    ///
    /// - Parameters:
    ///   - timestamp: Unix time in nanoseconds.
    ///   - level: The message's level.
    ///   - label: The logger's label.
    ///   - message: The message text.
    ///   - metadata: Merged metadata; keys are written sorted.
    /// - Returns: A JSON object followed by `\n`.
    public static func line(
        timestamp: UInt64, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var out = "{\"timestamp\":\"\(rfc3339(timestamp))\",\"level\":\"\(level.rawValue)\",\"label\":"
        appendString(label, to: &out)
        out += ",\"message\":"
        appendString(message, to: &out)
        if !metadata.isEmpty {
            out += ",\"metadata\":"
            appendValue(.dictionary(metadata), to: &out)
        }
        out += "}\n"
        return out
    }

    /// Writes `line` to standard error in one `write` call (retried on partial writes).
    public static let standardError: @Sendable (String) -> Void = { line in
        var line = line
        line.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                // Nowhere left to report a failing stderr; drop the line.
                if n <= 0 { return }
                offset += n
            }
        }
    }

    // MARK: Encoding

    private static func appendValue(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case let .string(text):
            appendString(text, to: &out)
        case let .stringConvertible(item):
            appendString(item.description, to: &out)
        case let .array(items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                appendValue(item, to: &out)
            }
            out += "]"
        case let .dictionary(entries):
            out += "{"
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                // The key comes from `entries`, so the lookup always succeeds.
                if let item = entries[key] { appendValue(item, to: &out) }
            }
            out += "}"
        }
    }

    /// Appends a JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
    ///
    /// - Parameters:
    ///   - text: The string.
    ///   - out: Where the literal goes.
    public static func appendString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func rfc3339(_ nanoseconds: UInt64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let millis = Int32(nanoseconds / 1_000_000 % 1000)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(millis, 3))Z"
    }

    private static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(max(0, spec.tv_sec)) * 1_000_000_000 + UInt64(max(0, spec.tv_nsec))
    }
}

/// Sets up swift-log from the configuration.
public enum PexLogging {
    /// A handler for `format` at `level`: swift-log's stream handler on standard error for
    /// `.text`, `JSONLogHandler` for `.json`.
    ///
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - level: The lowest level written.
    ///   - format: `logging.format`.
    /// - Returns: The handler.
    public static func handler(label: String, level: Logger.Level, format: LogFormat) -> any LogHandler {
        var handler: any LogHandler
        switch format {
        case .text: handler = StreamLogHandler.standardError(label: label)
        case .json: handler = JSONLogHandler(label: label)
        }
        handler.logLevel = level
        return handler
    }

    /// Installs the configured handler for every logger of the process. swift-log allows this
    /// once per process: call it at daemon start, not in libraries or tests.
    ///
    /// - Parameters:
    ///   - level: `ConfigFile.loggingLevel`.
    ///   - format: `ConfigFile.loggingFormat`.
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in handler(label: label, level: level, format: format) }
    }
}
