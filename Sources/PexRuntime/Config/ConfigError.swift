/// A configuration value that cannot be used: which key, and why.
///
/// `key` is the dotted path in conf.yaml (`peers.exchange_interval`, `network.addresses[1]`), the
/// command-line option for an override (`--listen`), or the file's path for a file-level fault
/// (unreadable, not YAML). The daemon prints `description` and exits with status 2.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The offending key, option or file.
    public let key: String
    /// What is wrong with it.
    public let reason: String
    /// The 1-based line in the YAML file, when known.
    public let line: Int?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - key: The offending key, option or file.
    ///   - reason: What is wrong with it.
    ///   - line: The 1-based line in the YAML file, when known.
    public init(key: String, reason: String, line: Int? = nil) {
        self.key = key
        self.reason = reason
        self.line = line
    }

    /// `key (line N): reason`, or `key: reason` without a line.
    public var description: String {
        if let line { return "\(key) (line \(line)): \(reason)" }
        return "\(key): \(reason)"
    }
}
