import PexRuntime

/// Minimal JSON output for `--json` flags: objects with keys in a fixed order, so that output
/// is stable for scripts and tests.
enum JSONValue {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    var rendered: String {
        switch self {
        case let .string(s): Self.quote(s)
        case let .bool(b): b ? "true" : "false"
        case let .int(i): String(i)
        case .null: "null"
        case let .array(items): "[" + items.map(\.rendered).joined(separator: ",") + "]"
        case let .object(fields):
            "{" + fields.map { Self.quote($0.0) + ":" + $0.1.rendered }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = ""
        JSONLogHandler.appendString(s, to: &out)
        return out
    }
}
