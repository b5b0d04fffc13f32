import PexCore
import Yams

/// One mapping of the configuration file, read key by key with typed accessors.
///
/// Every accessor names the full dotted key in its errors. `finish(allowed:)` refuses any key
/// nobody asked for, so a typo (`exchange_intervall`) is an error instead of a silently ignored
/// setting.
struct YAMLSection {
    /// Dotted path of this mapping ("" for the document root).
    let path: String
    private var entries: [String: (key: Yams.Node, value: Yams.Node)] = [:]
    private var order: [String] = []

    /// Reads `node` as a mapping; an empty value (`pex:` with nothing under it) is an empty section.
    init(_ node: Yams.Node?, path: String) throws(ConfigError) {
        self.path = path
        guard let node, !Self.isNull(node) else { return }
        guard case let .mapping(mapping) = node else {
            throw ConfigError(key: path.isEmpty ? "(document)" : path, reason: "expected a mapping of keys",
                              line: node.mark?.line)
        }
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else {
                throw ConfigError(key: path.isEmpty ? "(document)" : path, reason: "keys must be plain strings",
                                  line: key.mark?.line)
            }
            let name = scalar.string
            guard entries[name] == nil else {
                throw ConfigError(key: qualified(name), reason: "duplicate key", line: key.mark?.line)
            }
            entries[name] = (key, value)
            order.append(name)
        }
    }

    /// `path.key`.
    func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Refuses keys outside `allowed`, naming the first one in file order.
    func finish(allowed: [String]) throws(ConfigError) {
        for name in order where !allowed.contains(name) {
            var reason = "unknown key"
            if let close = allowed.min(by: { editDistance(name, $0) < editDistance(name, $1) }),
               editDistance(name, close) <= 2
            {
                reason += " (did you mean \"\(close)\"?)"
            }
            throw ConfigError(key: qualified(name), reason: reason, line: entries[name]?.key.mark?.line)
        }
    }

    /// The value of `key`; `nil` when absent or explicitly empty (`key:` or `key: null`).
    func value(_ key: String) -> Yams.Node? {
        guard let node = entries[key]?.value, !Self.isNull(node) else { return nil }
        return node
    }

    func section(_ key: String) throws(ConfigError) -> YAMLSection {
        try YAMLSection(value(key), path: qualified(key))
    }

    func error(_ key: String, _ reason: String) -> ConfigError {
        ConfigError(key: qualified(key), reason: reason, line: entries[key]?.value.mark?.line)
    }

    // MARK: Scalars

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let node = value(key) else { return nil }
        return try Self.scalar(node, key: qualified(key))
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw error(key, "expected true or false, got \"\(text)\"")
        }
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let number = Int(text) else { throw error(key, "expected an integer, got \"\(text)\"") }
        guard range.contains(number) else {
            throw error(key, "\(number) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return number
    }

    /// A Go duration string; `minimum` is inclusive.
    func duration(_ key: String, minimum: TimeSpan = TimeSpan(nanoseconds: 1)) throws(ConfigError) -> TimeSpan? {
        guard let text = try string(key) else { return nil }
        let span: TimeSpan
        do {
            span = try GoDuration.parse(text)
        } catch {
            throw self.error(key, error.description)
        }
        guard span >= minimum else {
            throw self.error(key, "must be at least \(GoDuration.format(minimum)), got \"\(text)\"")
        }
        return span
    }

    // MARK: Lists

    /// A list of strings; a single string counts as a one-element list. Element errors are
    /// reported by the caller with `key[index]` (see `elementError`).
    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let node = value(key) else { return nil }
        return try Self.strings(node, key: qualified(key))
    }

    /// The error for element `index` of the list at `key`.
    func elementError(_ key: String, _ index: Int, _ reason: String) -> ConfigError {
        var line = entries[key]?.value.mark?.line
        if case let .sequence(sequence) = entries[key]?.value, index < sequence.count {
            line = sequence[index].mark?.line ?? line
        }
        return ConfigError(key: "\(qualified(key))[\(index)]", reason: reason, line: line)
    }

    static func strings(_ node: Yams.Node, key: String) throws(ConfigError) -> [String] {
        switch node {
        case .scalar:
            return [try scalar(node, key: key)]
        case let .sequence(sequence):
            var out: [String] = []
            for (index, element) in sequence.enumerated() {
                out.append(try scalar(element, key: "\(key)[\(index)]"))
            }
            return out
        case .mapping:
            throw ConfigError(key: key, reason: "expected a list, got a mapping", line: node.mark?.line)
        }
    }

    private static func scalar(_ node: Yams.Node, key: String) throws(ConfigError) -> String {
        switch node {
        case let .scalar(scalar): return scalar.string
        case .mapping: throw ConfigError(key: key, reason: "expected a value, got a mapping", line: node.mark?.line)
        case .sequence: throw ConfigError(key: key, reason: "expected a value, got a list", line: node.mark?.line)
        }
    }

    /// An unquoted `~`, `null` or nothing at all.
    static func isNull(_ node: Yams.Node) -> Bool {
        guard case let .scalar(scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}

/// Levenshtein distance, for "did you mean" hints on short keys.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
