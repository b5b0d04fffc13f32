import Logging
import PexCore
import PexWire
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Log line format (`logging.format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// Human-readable lines (swift-log's stream handler).
    case text
    /// One JSON object per line (`JSONLogHandler`).
    case json
}

/// Where the admin socket listens (`pex.admin_socket`).
public enum AdminSocketSetting: Hashable, Sendable {
    /// No admin socket.
    case disabled
    /// `admin.sock` in the data directory (the default, and `admin_socket: true`).
    case inDataDirectory
    /// This path (`admin_socket: /run/pex/admin.sock`).
    case path(String)
}

/// A node's whole configuration: the federation's original conf.yaml, read unchanged, plus the
/// `pex:` section, with command-line overrides applied on top.
///
/// ```yaml
/// node:
///   private_key: <base64 of the 64-byte Ed25519 secret key>   # optional, see below
/// network:
///   addresses: ["/ip4/0.0.0.0/tcp/4001"]                      # listen addresses
/// peers:
///   exchange_interval: 30s                                     # → NodeConfig.syncInterval (and the
///                                                              #   request budget, see NodeConfig.rateLimits)
///   connection_timeout: 10s                                    # → NodeConfig.handshakeTimeout
/// logging:
///   level: info                                                # trace|debug|info|notice|warn|error|critical
///   format: text                                               # text|json
/// pex:
///   network_id: my-federation
///   data_dir: data
///   bootstrap: ["/dns4/seed.example.org/tcp/4001"]
///   dns_seeds: [seed.example.org]
///   dns_seed_port: 4001
///   roster: [<base64 public key>, …]       # or roster_file: roster.yaml (a YAML list of keys)
///   lab_mode: false
///   advertise: ["/ip4/203.0.113.7/tcp/4001"]
///   peers_file: peers.yaml
///   admin_socket: true                      # true | false | a path
///   compression: true
///   delta_sync: true
///   agent: pex/0.1.0
///   limits: { target_outbound, max_inbound, max_connections_per_ip, max_pending_handshakes,
///             relay_fanout, sync_fanout, max_peers_per_response, max_frame_size, max_bans,
///             ban_duration, ban_threshold, max_protected, bootstrap_dials_at_once }
///   rate_limits:                            # per-connection buckets (PexCore RateLimitConfig)
///     frames: { rate: 20, burst: 200, credit_limit: 400 }   # likewise request, records, ping
///   timing: { ping_interval, idle_timeout, feeler_interval, request_timeout, sync_jitter,
///             record_lifetime, record_refresh_margin, backoff_base, backoff_cap }
/// ```
///
/// Decisions:
/// - Every section and key is optional; with no file at all the node runs on the defaults below.
/// - Unknown keys are errors (with a "did you mean" hint): a typo must not pass silently.
/// - Relative paths in the file (`data_dir`, `roster_file`, `peers_file`, `admin_socket`) are
///   relative to the file's directory, so the daemon behaves the same whatever its working
///   directory; paths given on the command line are relative to the working directory.
/// - Without `node.private_key`, the identity lives in `<data_dir>/node.key` (the same base64
///   format, mode 0600), generated on first start. The YAML file is never rewritten: it may be
///   read-only, shared between tools, or under configuration management.
/// - Defaults: listen on `/ip4/0.0.0.0/tcp/4001` (as the original conf.yaml example and the
///   default DNS seed port), network id `pex-default`, data directory `data` (relative to the
///   working directory, like command-line paths), admin socket
///   `<data_dir>/admin.sock`, log level `info`, format `text`, open network (no roster).
public struct ConfigFile: Sendable {
    public static let defaultNetworkID = "pex-default"
    public static let defaultDataDirectory = "data"
    public static let defaultListenAddress = "/ip4/0.0.0.0/tcp/4001"
    /// Name of the generated key file inside the data directory.
    public static let keyFileName = "node.key"
    /// Name of the admin socket inside the data directory.
    public static let adminSocketName = "admin.sock"
    /// Largest configuration or roster file read.
    public static let maxFileSize = 1 << 20

    /// `node.private_key`, when configured; otherwise see `loadOrCreateIdentity()`.
    public var identity: KeyPair?
    /// `network.addresses`: `/ip4|ip6/<address>/tcp/<port>`; port 0 picks a free port.
    public var listenAddresses: [Multiaddr]
    /// `pex.advertise`: the addresses of our record. Empty: the listen addresses, which the
    /// runtime completes (an unspecified host or port 0 becomes what the listener bound).
    public var advertisedAddresses: [Multiaddr] = []
    public var loggingLevel: Logger.Level = .info
    public var loggingFormat: LogFormat = .text
    /// `pex.data_dir`: the store, the key file and the admin socket.
    public var dataDirectory: String = Self.defaultDataDirectory
    /// `pex.peers_file`: the original project's peers.yaml, if any.
    public var peersFile: String?
    public var adminSocket: AdminSocketSetting = .inDataDirectory
    /// Protocol settings: network id, bootstrap, roster, lab mode, timers and limits.
    /// `advertisedAddresses` in here is ignored; `nodeConfig()` fills it.
    public var node: NodeConfig

    /// The defaults, as used when there is no configuration file.
    public init() {
        // The literal is valid, so the fallback is never taken.
        listenAddresses = (try? Multiaddr(Self.defaultListenAddress)).map { [$0] } ?? []
        node = NodeConfig(networkID: Self.defaultNetworkID, advertisedAddresses: [])
    }

    /// Reads a configuration file.
    ///
    /// - Parameter path: The YAML file.
    /// - Returns: The configuration, relative paths resolved against the file's directory.
    /// - Throws: `ConfigError` with `key` = `path` when the file cannot be read or is not YAML,
    ///   or naming the first invalid key.
    public static func load(path: String) throws(ConfigError) -> ConfigFile {
        let text = try readTextFile(path, key: path)
        return try ConfigFile(yaml: text, baseDirectory: directory(of: path), fileName: path)
    }

    /// Parses configuration text.
    ///
    /// - Parameters:
    ///   - yaml: The YAML document.
    ///   - baseDirectory: Directory that relative paths in the document are relative to.
    ///   - fileName: Names the document in syntax errors.
    /// - Throws: `ConfigError` naming the first invalid key and why.
    public init(yaml: String, baseDirectory: String = ".", fileName: String = "conf.yaml") throws(ConfigError) {
        self.init()
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw Self.syntaxError(error, fileName: fileName)
        } catch {
            throw ConfigError(key: fileName, reason: "not valid YAML")
        }
        try read(YAMLSection(root, path: ""), base: baseDirectory)
    }

    // MARK: Reading

    private mutating func read(_ document: YAMLSection, base: String) throws(ConfigError) {
        try document.finish(allowed: ["node", "network", "peers", "logging", "pex"])

        let nodeSection = try document.section("node")
        try nodeSection.finish(allowed: ["private_key"])
        if let key = try nodeSection.string("private_key") {
            do {
                identity = try KeyPair(base64SecretKey: key)
            } catch {
                throw nodeSection.error("private_key", "\(error) (expected the base64 of a 64-byte Ed25519 secret key)")
            }
        }

        let network = try document.section("network")
        try network.finish(allowed: ["addresses"])
        if let addresses = try network.strings("addresses") {
            guard !addresses.isEmpty else { throw network.error("addresses", "at least one listen address is needed") }
            listenAddresses = try Self.parseAll(addresses, Self.listenAddress) { network.elementError("addresses", $0, $1) }
        }

        let peers = try document.section("peers")
        try peers.finish(allowed: ["exchange_interval", "connection_timeout"])
        if let span = try peers.duration("exchange_interval") { node.syncInterval = span }
        if let span = try peers.duration("connection_timeout") { node.handshakeTimeout = span }

        let logging = try document.section("logging")
        try logging.finish(allowed: ["level", "format"])
        if let level = try logging.string("level") {
            guard let parsed = Self.logLevel(level) else {
                throw logging.error("level", "unknown level \"\(level)\" (trace, debug, info, notice, warn, error, critical)")
            }
            loggingLevel = parsed
        }
        if let format = try logging.string("format") {
            guard let parsed = LogFormat(rawValue: format) else {
                throw logging.error("format", "unknown format \"\(format)\" (text or json)")
            }
            loggingFormat = parsed
        }

        try readPex(document.section("pex"), base: base)
        try checkConsistency(advertiseKey: "pex.advertise")
    }

    private mutating func readPex(_ pex: YAMLSection, base: String) throws(ConfigError) {
        try pex.finish(allowed: [
            "network_id", "data_dir", "bootstrap", "dns_seeds", "dns_seed_port", "roster", "roster_file", "lab_mode",
            "advertise", "peers_file", "admin_socket", "compression", "delta_sync", "agent", "limits", "timing",
            "rate_limits",
        ])
        if let id = try pex.string("network_id") {
            do { try WireLimits.validateNetworkID(id) } catch {
                throw pex.error("network_id", "\"\(id)\" must be 1 to 64 characters of a-z, 0-9, \".\", \"_\", \"-\"")
            }
            node.networkID = id
        }
        if let directory = try pex.string("data_dir") {
            guard !directory.isEmpty else { throw pex.error("data_dir", "must not be empty") }
            dataDirectory = Self.resolve(directory, against: base)
        }
        if let list = try pex.strings("bootstrap") {
            node.bootstrapPeers = try Self.parseAll(list, Self.dialableAddress) { pex.elementError("bootstrap", $0, $1) }
        }
        if let list = try pex.strings("dns_seeds") {
            node.dnsSeeds = try Self.parseAll(list, Self.dnsName) { pex.elementError("dns_seeds", $0, $1) }
        }
        if let port = try pex.int("dns_seed_port", in: 1...65535) { node.dnsSeedPort = UInt16(port) }
        if let list = try pex.strings("roster") {
            if pex.value("roster_file") != nil {
                throw pex.error("roster_file", "give either pex.roster or pex.roster_file, not both")
            }
            node.roster = try Self.roster(list) { index, reason in pex.elementError("roster", index, reason) }
            guard !(node.roster?.isEmpty ?? true) else {
                throw pex.error("roster", "an empty roster admits nobody; omit it for an open network")
            }
        }
        if let file = try pex.string("roster_file") {
            node.roster = try Self.loadRoster(Self.resolve(file, against: base), key: pex.qualified("roster_file"))
        }
        if let lab = try pex.bool("lab_mode") { node.labMode = lab }
        if let list = try pex.strings("advertise") {
            advertisedAddresses = try Self.parseAll(list, Self.dialableAddress) { pex.elementError("advertise", $0, $1) }
        }
        if let file = try pex.string("peers_file") {
            guard !file.isEmpty else { throw pex.error("peers_file", "must not be empty") }
            peersFile = Self.resolve(file, against: base)
        }
        if let text = try pex.string("admin_socket") {
            switch text {
            case "true", "True", "TRUE": adminSocket = .inDataDirectory
            case "false", "False", "FALSE": adminSocket = .disabled
            case "": throw pex.error("admin_socket", "expected true, false or a path")
            default: adminSocket = .path(Self.resolve(text, against: base))
            }
        }
        if let on = try pex.bool("compression") { node.offerCompression = on }
        if let on = try pex.bool("delta_sync") { node.offerDeltaSync = on }
        if let agent = try pex.string("agent") {
            guard !agent.isEmpty, agent.utf8.count <= WireLimits.maxAgentLength else {
                throw pex.error("agent", "must be 1 to \(WireLimits.maxAgentLength) bytes")
            }
            node.agent = agent
        }
        try readLimits(pex.section("limits"))
        try readTiming(pex.section("timing"))
        try readRateLimits(pex.section("rate_limits"))
    }

    /// `pex.rate_limits.<class>`: `rate` (tokens per second, a decimal number), `burst` and
    /// `credit_limit`. Benchmarks and load tests raise them; a federation keeps the defaults.
    private mutating func readRateLimits(_ section: YAMLSection) throws(ConfigError) {
        try section.finish(allowed: RateClass.allCases.map(\.rawValue))
        for rateClass in RateClass.allCases {
            let bucket = try section.section(rateClass.rawValue)
            try bucket.finish(allowed: ["rate", "burst", "credit_limit"])
            if let text = try bucket.string("rate") {
                guard let rate = Double(text), rate.isFinite, rate >= 0 else {
                    throw bucket.error("rate", "expected a non-negative number of tokens per second, got \"\(text)\"")
                }
                node.rateLimits[rateClass].ratePerSecond = rate
            }
            if let n = try bucket.int("burst", in: 1...1_000_000_000) { node.rateLimits[rateClass].burst = n }
            if let n = try bucket.int("credit_limit", in: 1...1_000_000_000) {
                node.rateLimits[rateClass].creditLimit = n
            }
        }
    }

    private mutating func readLimits(_ limits: YAMLSection) throws(ConfigError) {
        try limits.finish(allowed: [
            "target_outbound", "max_inbound", "max_connections_per_ip", "max_pending_handshakes", "relay_fanout",
            "sync_fanout", "max_peers_per_response", "max_frame_size", "max_bans", "ban_duration", "ban_threshold",
            "max_protected", "bootstrap_dials_at_once",
        ])
        if let n = try limits.int("target_outbound", in: 0...256) { node.targetOutbound = n }
        if let n = try limits.int("max_inbound", in: 0...10_000) { node.maxInbound = n }
        if let n = try limits.int("bootstrap_dials_at_once", in: 1...64) { node.bootstrapDialsAtOnce = n }
        if let n = try limits.int("max_connections_per_ip", in: 1...1_000) { node.maxConnectionsPerIP = n }
        if let n = try limits.int("max_pending_handshakes", in: 1...10_000) { node.maxPendingHandshakes = n }
        if let n = try limits.int("relay_fanout", in: 0...64) { node.relayFanout = n }
        if let n = try limits.int("sync_fanout", in: 0...64) { node.syncFanout = n }
        if let n = try limits.int("max_peers_per_response", in: 1...WireLimits.maxRecordsPerMessage) {
            node.maxPeersPerResponse = n
        }
        if let n = try limits.int("max_frame_size", in: WireLimits.minFrameSize...WireLimits.maxFrameSize) {
            node.maxFrameSize = n
        }
        if let n = try limits.int("max_bans", in: 1...1_000_000) { node.maxBans = n }
        if let span = try limits.duration("ban_duration") { node.misbehaviour.banDuration = span }
        if let n = try limits.int("ban_threshold", in: 1...1_000_000) { node.misbehaviour.banThreshold = n }
        if let n = try limits.int("max_protected", in: 1...1_000_000) { node.addressBook.maxProtected = n }
    }

    private mutating func readTiming(_ timing: YAMLSection) throws(ConfigError) {
        try timing.finish(allowed: [
            "ping_interval", "idle_timeout", "feeler_interval", "request_timeout", "sync_jitter", "record_lifetime",
            "record_refresh_margin", "backoff_base", "backoff_cap",
        ])
        if let span = try timing.duration("ping_interval") { node.pingInterval = span }
        if let span = try timing.duration("idle_timeout") { node.idleTimeout = span }
        if let span = try timing.duration("feeler_interval") { node.feelerInterval = span }
        if let span = try timing.duration("request_timeout") { node.requestTimeout = span }
        if let span = try timing.duration("sync_jitter", minimum: .zero) { node.syncJitter = span }
        if let span = try timing.duration("record_lifetime", minimum: .minutes(1)) { node.recordLifetime = span }
        if let span = try timing.duration("record_refresh_margin") { node.recordRefreshMargin = span }
        if let span = try timing.duration("backoff_base") { node.backoffBase = span }
        if let span = try timing.duration("backoff_cap") { node.backoffCap = span }
    }

    /// Rules between values, checked once everything is read.
    /// Cross-field errors name the later key of the pair; `advertiseKey` is `pex.advertise` or
    /// the command-line option that set it.
    private func checkConsistency(advertiseKey: String) throws(ConfigError) {
        guard node.syncJitter < node.syncInterval else {
            throw ConfigError(key: "pex.timing.sync_jitter", reason: "must be shorter than peers.exchange_interval "
                + "(\(GoDuration.format(node.syncInterval)))")
        }
        guard node.pingInterval < node.idleTimeout else {
            throw ConfigError(key: "pex.timing.idle_timeout", reason: "must be longer than pex.timing.ping_interval "
                + "(\(GoDuration.format(node.pingInterval))), or idle peers are dropped before being pinged")
        }
        guard node.backoffBase <= node.backoffCap else {
            throw ConfigError(key: "pex.timing.backoff_cap", reason: "must not be shorter than pex.timing.backoff_base "
                + "(\(GoDuration.format(node.backoffBase)))")
        }
        guard node.recordLifetime.nanoseconds / 1_000_000_000 <= WireLimits.maxRecordLifetimeSeconds else {
            throw ConfigError(key: "pex.timing.record_lifetime", reason: "must be at most 720h (what verifiers accept)")
        }
        guard node.recordRefreshMargin < node.recordLifetime else {
            throw ConfigError(key: "pex.timing.record_refresh_margin", reason: "must be shorter than "
                + "pex.timing.record_lifetime (\(GoDuration.format(node.recordLifetime)))")
        }
        guard advertisedAddresses.count <= WireLimits.maxAddressesPerRecord else {
            throw ConfigError(key: advertiseKey, reason: "\(advertisedAddresses.count) addresses, a record holds "
                + "at most \(WireLimits.maxAddressesPerRecord)")
        }
    }

    // MARK: Overrides

    /// Applies command-line overrides on top of the file (or the defaults).
    ///
    /// - Parameter overrides: The values the command line set; `nil` fields leave the file's.
    /// - Throws: `ConfigError` whose `key` is the command-line option (`--listen`, …).
    public mutating func apply(_ overrides: ConfigOverrides) throws(ConfigError) {
        if let directory = overrides.dataDirectory {
            guard !directory.isEmpty else { throw ConfigError(key: "--data-dir", reason: "must not be empty") }
            dataDirectory = directory
        }
        if let id = overrides.networkID {
            do { try WireLimits.validateNetworkID(id) } catch {
                throw ConfigError(key: "--network-id",
                                  reason: "\"\(id)\" must be 1 to 64 characters of a-z, 0-9, \".\", \"_\", \"-\"")
            }
            node.networkID = id
        }
        if let list = overrides.listenAddresses {
            guard !list.isEmpty else { throw ConfigError(key: "--listen", reason: "at least one listen address is needed") }
            listenAddresses = try Self.parseAll(list, Self.listenAddress) { ConfigError(key: "--listen", reason: $1) }
        }
        if let list = overrides.bootstrapPeers {
            node.bootstrapPeers = try Self.parseAll(list, Self.dialableAddress) { ConfigError(key: "--bootstrap", reason: $1) }
        }
        if let list = overrides.advertisedAddresses {
            advertisedAddresses = try Self.parseAll(list, Self.dialableAddress) { ConfigError(key: "--advertise", reason: $1) }
        }
        if let level = overrides.logLevel {
            guard let parsed = Self.logLevel(level) else {
                throw ConfigError(key: "--log-level",
                                  reason: "unknown level \"\(level)\" (trace, debug, info, notice, warn, error, critical)")
            }
            loggingLevel = parsed
        }
        if let format = overrides.logFormat {
            guard let parsed = LogFormat(rawValue: format) else {
                throw ConfigError(key: "--log-format", reason: "unknown format \"\(format)\" (text or json)")
            }
            loggingFormat = parsed
        }
        if let lab = overrides.labMode { node.labMode = lab }
        if let socket = overrides.adminSocket {
            adminSocket = socket.isEmpty ? .disabled : .path(socket)
        }
        if let file = overrides.peersFile {
            guard !file.isEmpty else { throw ConfigError(key: "--peers-file", reason: "must not be empty") }
            peersFile = file
        }
        try checkConsistency(advertiseKey: "--advertise")
    }

    // MARK: Results

    /// The protocol configuration to start a `Node` with.
    ///
    /// - Returns: `node` with `advertisedAddresses` set to `advertisedAddresses`, or to the
    ///   listen addresses when none are configured (the runtime completes those).
    public func nodeConfig() -> NodeConfig {
        var config = node
        config.advertisedAddresses = advertisedAddresses.isEmpty ? listenAddresses : advertisedAddresses
        return config
    }

    /// `<data_dir>/node.key`.
    public var keyFilePath: String { "\(dataDirectory)/\(Self.keyFileName)" }

    /// The admin socket's path, or `nil` when disabled.
    public var adminSocketPath: String? {
        switch adminSocket {
        case .disabled: nil
        case .inDataDirectory: "\(dataDirectory)/\(Self.adminSocketName)"
        case let .path(path): path
        }
    }

    /// The node's identity: `node.private_key` when configured; otherwise `<data_dir>/node.key`,
    /// generated and saved (mode 0600, data directory created with mode 0700) on first start.
    ///
    /// - Returns: The key pair and whether it was just generated.
    /// - Throws: `ConfigError` with key `node.private_key` when the key file cannot be read,
    ///   holds no valid key, or cannot be written.
    public func loadOrCreateIdentity() throws(ConfigError) -> (keyPair: KeyPair, created: Bool) {
        if let identity { return (identity, false) }
        let path = keyFilePath
        var info = stat()
        if stat(path, &info) == 0 {
            do {
                return (try KeyPair.load(from: path), false)
            } catch {
                throw ConfigError(key: "node.private_key", reason: "not configured, and \(error)")
            }
        }
        try Self.makeDirectories(dataDirectory, key: "pex.data_dir")
        let keyPair = KeyPair.generate()
        do {
            try keyPair.save(to: path)
        } catch {
            throw ConfigError(key: "node.private_key", reason: "not configured, and the new key cannot be saved: \(error)")
        }
        return (keyPair, true)
    }

    // MARK: Value parsers

    /// Why a value was refused, before it is attached to a key.
    struct ValueError: Error {
        let reason: String
    }

    /// Parses every element; `makeError` turns the first refusal (element index, reason) into
    /// the error naming its key.
    static func parseAll<T>(
        _ list: [String], _ parse: (String) throws(ValueError) -> T, error makeError: (Int, String) -> ConfigError
    ) throws(ConfigError) -> [T] {
        var out: [T] = []
        for (index, text) in list.enumerated() {
            do throws(ValueError) {
                out.append(try parse(text))
            } catch {
                throw makeError(index, error.reason)
            }
        }
        return out
    }

    /// A listen address: exactly `/ip4|ip6/<address>/tcp/<port>`.
    static func listenAddress(_ text: String) throws(ValueError) -> Multiaddr {
        let address: Multiaddr
        do { address = try Multiaddr(text) } catch { throw ValueError(reason: "\"\(text)\": \(error)") }
        let components = address.components
        guard components.count == 2, [.ip4, .ip6].contains(components[0].protocolID),
              components[1].protocolID == .tcp
        else {
            throw ValueError(reason: "\"\(text)\": a listen address is /ip4/<address>/tcp/<port> or /ip6/<address>/tcp/<port>")
        }
        return address
    }

    /// An address to dial or advertise: `(ip4|ip6|dns|dns4|dns6)/tcp/<port>`, optionally `/p2p/<id>`.
    static func dialableAddress(_ text: String) throws(ValueError) -> Multiaddr {
        let address: Multiaddr
        do { address = try Multiaddr(text) } catch { throw ValueError(reason: "\"\(text)\": \(error)") }
        let target: Multiaddr.DialTarget
        do throws(Multiaddr.NotDialable) {
            target = try address.dialTarget()
        } catch {
            throw ValueError(reason: "\"\(text)\": not dialable: \(error.reason)")
        }
        guard target.transport == .tcp else { throw ValueError(reason: "\"\(text)\": only TCP is supported") }
        return address
    }

    /// A DNS seed name, validated as multiaddr `/dns/<name>` values are.
    static func dnsName(_ name: String) throws(ValueError) -> String {
        do {
            _ = try Multiaddr.Component(.dns, value: name)
        } catch {
            throw ValueError(reason: "\"\(name)\" is not a valid DNS name")
        }
        return name
    }

    /// Roster keys; `error` builds the error for element `index`.
    static func roster(_ list: [String], error makeError: (Int, String) -> ConfigError) throws(ConfigError)
        -> Set<PublicKey>
    {
        var keys = Set<PublicKey>()
        for (index, text) in list.enumerated() {
            do { keys.insert(try PublicKey(base64: text)) } catch { throw makeError(index, "\"\(text)\": \(error)") }
        }
        return keys
    }

    /// A roster file: a YAML list of base64 public keys.
    static func loadRoster(_ path: String, key: String) throws(ConfigError) -> Set<PublicKey> {
        let text = try readTextFile(path, key: key)
        let list: [String]
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(key: key, reason: "\(path) is empty; an empty roster admits nobody")
            }
            list = try YAMLSection.strings(node, key: key)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(key: key, reason: "\(path) is not a YAML list of base64 public keys")
        }
        guard !list.isEmpty else { throw ConfigError(key: key, reason: "\(path) is empty; an empty roster admits nobody") }
        return try roster(list) { index, reason in ConfigError(key: key, reason: "\(path) entry \(index): \(reason)") }
    }

    static func logLevel(_ text: String) -> Logger.Level? {
        switch text.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info": .info
        case "notice": .notice
        case "warn", "warning": .warning
        case "error": .error
        case "critical": .critical
        default: nil
        }
    }

    // MARK: Files

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") || base == "." { return path }
        return base.hasSuffix("/") ? base + path : "\(base)/\(path)"
    }

    /// Reads a whole UTF-8 file of at most `maxFileSize` bytes.
    static func readTextFile(_ path: String, key: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigError(key: key, reason: "cannot open \(path): \(errnoText())") }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigError(key: key, reason: "cannot read \(path): \(errnoText())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
            guard bytes.count <= maxFileSize else {
                throw ConfigError(key: key, reason: "\(path) is larger than \(maxFileSize) bytes")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(key: key, reason: "\(path) is not UTF-8 text")
        }
        return text
    }

    /// `mkdir -p` with mode 0700 for the directories it creates: the data directory holds the
    /// node's secret key.
    static func makeDirectories(_ path: String, key: String) throws(ConfigError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw ConfigError(key: key, reason: "cannot create \(prefix): \(errnoText())")
            }
            prefix += "/"
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func syntaxError(_ error: YamlError, fileName: String) -> ConfigError {
        // Only the problem and position: YamlError's description quotes the offending line,
        // which may be the private key.
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return ConfigError(key: fileName, reason: "invalid YAML: \(problem)", line: mark.line)
        case let .reader(problem, _, _, _):
            return ConfigError(key: fileName, reason: "invalid YAML: \(problem)")
        default:
            return ConfigError(key: fileName, reason: "invalid YAML")
        }
    }
}

/// Values set on the command line; each non-`nil` field replaces the file's.
///
/// Errors name the option: `--data-dir`, `--network-id`, `--listen`, `--bootstrap`,
/// `--advertise`, `--log-level`, `--log-format`, `--admin-socket`, `--peers-file`.
public struct ConfigOverrides: Sendable, Equatable {
    public var dataDirectory: String?
    public var networkID: String?
    /// Multiaddr texts; replace `network.addresses`.
    public var listenAddresses: [String]?
    /// Multiaddr texts; replace `pex.bootstrap`.
    public var bootstrapPeers: [String]?
    /// Multiaddr texts; replace `pex.advertise`.
    public var advertisedAddresses: [String]?
    public var logLevel: String?
    public var logFormat: String?
    public var labMode: Bool?
    /// A path, or `""` to disable the admin socket.
    public var adminSocket: String?
    public var peersFile: String?

    /// No overrides.
    public init() {}
}
