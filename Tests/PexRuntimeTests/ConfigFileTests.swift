import Foundation
import Logging
import PexCore
import PexRuntime
import PexWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ConfigFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = "/tmp/pex-config-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        XCTAssertEqual(mkdir(directory, 0o700), 0)
    }

    override func tearDownWithError() throws {
        _ = system("rm -rf '\(directory)'")
    }

    private func write(_ text: String, to name: String) -> String {
        let path = "\(directory)/\(name)"
        let file = fopen(path, "w")
        fputs(text, file)
        fclose(file)
        return path
    }

    private func expectError(_ yaml: String, key: String, reason fragment: String, line: Int? = nil,
                             file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertThrowsError(try ConfigFile(yaml: yaml), file: file, line: lineNumber) { error in
            guard let error = error as? ConfigError else { return XCTFail("\(error)", file: file, line: lineNumber) }
            XCTAssertEqual(error.key, key, "\(error)", file: file, line: lineNumber)
            XCTAssertTrue(error.reason.contains(fragment), "\(error)", file: file, line: lineNumber)
            if let line { XCTAssertEqual(error.line, line, "\(error)", file: file, line: lineNumber) }
        }
    }

    // MARK: The original file

    func testOriginalConfYAMLParsesUnchanged() throws {
        let key = KeyPair.generate()
        let yaml = """
            node:
              private_key: \(key.base64SecretKey)
            network:
              addresses: ["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001"]
            peers:
              exchange_interval: 30s
              connection_timeout: 10s
            logging:
              level: info
              format: text

            """
        let path = write(yaml, to: "conf.yaml")
        let config = try ConfigFile.load(path: path)
        XCTAssertEqual(config.identity?.publicKey, key.publicKey)
        XCTAssertEqual(config.listenAddresses.map(\.text), ["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001"])
        XCTAssertEqual(config.node.syncInterval, .seconds(30))
        XCTAssertEqual(config.node.handshakeTimeout, .seconds(10))
        XCTAssertEqual(config.loggingLevel, .info)
        XCTAssertEqual(config.loggingFormat, .text)
        // No pex section: the defaults.
        XCTAssertEqual(config.node.networkID, "pex-default")
        XCTAssertEqual(config.dataDirectory, "data", "the default is relative to the working directory")
        XCTAssertEqual(try config.loadOrCreateIdentity().keyPair.publicKey, key.publicKey)
        XCTAssertEqual(try config.loadOrCreateIdentity().created, false)

        let other = try ConfigFile(yaml: yaml.replacingOccurrences(of: "30s", with: "1m30s")
            .replacingOccurrences(of: "level: info", with: "level: debug")
            .replacingOccurrences(of: "format: text", with: "format: json"))
        XCTAssertEqual(other.node.syncInterval, .seconds(90))
        XCTAssertEqual(other.loggingLevel, .debug)
        XCTAssertEqual(other.loggingFormat, .json)
    }

    func testTheRequestBudgetFollowsTheExchangeInterval() throws {
        // A one-second exchange: peers on that schedule ask up to every 800 ms, so the node
        // accepts 2 / 0.8 s = 2.5 requests per second instead of the default one per 10 s.
        let fast = try ConfigFile(yaml: "peers:\n  exchange_interval: 1s\npex:\n  timing:\n    sync_jitter: 200ms\n")
        XCTAssertEqual(fast.nodeConfig().rateLimits.request.ratePerSecond, 2.5, accuracy: 1e-12)
        XCTAssertEqual(fast.nodeConfig().rateLimits.request.burst, 3)
        // The default interval keeps the documented default.
        XCTAssertEqual(try ConfigFile(yaml: "peers:\n  exchange_interval: 30s\n").nodeConfig().rateLimits, .default)
    }

    func testPexSectionMapsOntoNodeConfig() throws {
        let members = (0..<3).map { _ in KeyPair.generate().publicKey }
        let config = try ConfigFile(yaml: """
            network:
              addresses: /ip4/127.0.0.1/tcp/0
            pex:
              network_id: fed-1
              data_dir: /var/lib/pex
              bootstrap: ["/dns4/seed.example.org/tcp/4001", "/ip4/1.2.3.4/tcp/4001"]
              dns_seeds: [seeds.example.org]
              dns_seed_port: 4002
              roster: [\(members.map(\.base64).joined(separator: ", "))]
              lab_mode: true
              advertise: ["/ip4/1.2.3.5/tcp/4001"]
              peers_file: peers.yaml
              admin_socket: false
              compression: false
              delta_sync: false
              agent: custody/2.0
              limits:
                target_outbound: 4
                max_inbound: 100
                max_connections_per_ip: 2
                max_pending_handshakes: 8
                relay_fanout: 5
                sync_fanout: 3
                max_peers_per_response: 500
                max_frame_size: 65536
                max_bans: 50
                ban_duration: 2h
                ban_threshold: 200
              timing:
                ping_interval: 20s
                idle_timeout: 1m
                feeler_interval: 3m
                request_timeout: 15s
                sync_jitter: 0s
                record_lifetime: 48h
                record_refresh_margin: 12h
                backoff_base: 500ms
                backoff_cap: 10m
            """, baseDirectory: "/etc/pex")
        let node = config.nodeConfig()
        XCTAssertEqual(node.networkID, "fed-1")
        XCTAssertEqual(config.dataDirectory, "/var/lib/pex")
        XCTAssertEqual(node.bootstrapPeers.map(\.text), ["/dns4/seed.example.org/tcp/4001", "/ip4/1.2.3.4/tcp/4001"])
        XCTAssertEqual(node.dnsSeeds, ["seeds.example.org"])
        XCTAssertEqual(node.dnsSeedPort, 4002)
        XCTAssertEqual(node.roster, Set(members))
        XCTAssertTrue(node.labMode)
        XCTAssertEqual(node.advertisedAddresses.map(\.text), ["/ip4/1.2.3.5/tcp/4001"])
        XCTAssertEqual(config.listenAddresses.map(\.text), ["/ip4/127.0.0.1/tcp/0"])
        XCTAssertEqual(config.peersFile, "/etc/pex/peers.yaml")
        XCTAssertEqual(config.adminSocket, .disabled)
        XCTAssertNil(config.adminSocketPath)
        XCTAssertFalse(node.offerCompression)
        XCTAssertFalse(node.offerDeltaSync)
        XCTAssertEqual(node.agent, "custody/2.0")
        XCTAssertEqual(node.targetOutbound, 4)
        XCTAssertEqual(node.maxInbound, 100)
        XCTAssertEqual(node.maxConnectionsPerIP, 2)
        XCTAssertEqual(node.maxPendingHandshakes, 8)
        XCTAssertEqual(node.relayFanout, 5)
        XCTAssertEqual(node.syncFanout, 3)
        XCTAssertEqual(node.maxPeersPerResponse, 500)
        XCTAssertEqual(node.maxFrameSize, 65536)
        XCTAssertEqual(node.maxBans, 50)
        XCTAssertEqual(node.misbehaviour.banDuration, .hours(2))
        XCTAssertEqual(node.misbehaviour.banThreshold, 200)
        XCTAssertEqual(node.pingInterval, .seconds(20))
        XCTAssertEqual(node.idleTimeout, .minutes(1))
        XCTAssertEqual(node.feelerInterval, .minutes(3))
        XCTAssertEqual(node.requestTimeout, .seconds(15))
        XCTAssertEqual(node.syncJitter, .zero)
        XCTAssertEqual(node.recordLifetime, .hours(48))
        XCTAssertEqual(node.recordRefreshMargin, .hours(12))
        XCTAssertEqual(node.backoffBase, .milliseconds(500))
        XCTAssertEqual(node.backoffCap, .minutes(10))
    }

    func testRateLimitsAndProtectedCapacity() throws {
        let config = try ConfigFile(yaml: """
            pex:
              limits: { max_protected: 20000, bootstrap_dials_at_once: 3 }
              rate_limits:
                frames: { rate: 1e6, burst: 100000 }
                ping: { rate: 2.5, burst: 10, credit_limit: 30 }
            """)
        let node = config.nodeConfig()
        XCTAssertEqual(node.addressBook.maxProtected, 20000)
        XCTAssertEqual(node.bootstrapDialsAtOnce, 3)
        XCTAssertEqual(ConfigFile().nodeConfig().bootstrapDialsAtOnce, 1)
        XCTAssertEqual(node.rateLimits.frames, RateLimitConfig.Bucket(ratePerSecond: 1e6, burst: 100_000))
        XCTAssertEqual(node.rateLimits.ping, RateLimitConfig.Bucket(ratePerSecond: 2.5, burst: 10, creditLimit: 30))
        // Classes not mentioned keep the documented defaults.
        XCTAssertEqual(node.rateLimits.request, RateLimitConfig.default.request)
        XCTAssertEqual(node.rateLimits.records, RateLimitConfig.default.records)

        expectError("pex:\n  rate_limits:\n    ping: { rate: fast }\n", key: "pex.rate_limits.ping.rate",
                    reason: "non-negative number")
        expectError("pex:\n  rate_limits:\n    ping: { rate: -1 }\n", key: "pex.rate_limits.ping.rate",
                    reason: "non-negative number")
        expectError("pex:\n  rate_limits:\n    frames: { burst: 0 }\n", key: "pex.rate_limits.frames.burst",
                    reason: "out of range")
        expectError("pex:\n  rate_limits:\n    records: { credit_limit: 0 }\n",
                    key: "pex.rate_limits.records.credit_limit", reason: "out of range")
        expectError("pex:\n  rate_limits:\n    pings: {}\n", key: "pex.rate_limits.pings", reason: "did you mean \"ping\"")
        expectError("pex:\n  rate_limits:\n    ping: { speed: 1 }\n", key: "pex.rate_limits.ping.speed",
                    reason: "unknown key")
        expectError("pex:\n  limits:\n    max_protected: 0\n", key: "pex.limits.max_protected", reason: "out of range")
        expectError("pex:\n  limits:\n    bootstrap_dials_at_once: 0\n", key: "pex.limits.bootstrap_dials_at_once",
                    reason: "out of range")
    }

    func testDefaultsWithoutAnyFile() throws {
        for config in [ConfigFile(), try ConfigFile(yaml: ""), try ConfigFile(yaml: "pex:\nlogging: ~\n")] {
            XCTAssertNil(config.identity)
            XCTAssertEqual(config.listenAddresses.map(\.text), ["/ip4/0.0.0.0/tcp/4001"])
            XCTAssertEqual(config.dataDirectory, "data")
            XCTAssertEqual(config.keyFilePath, "data/node.key")
            XCTAssertEqual(config.adminSocketPath, "data/admin.sock")
            XCTAssertNil(config.peersFile)
            XCTAssertEqual(config.loggingLevel, .info)
            XCTAssertEqual(config.loggingFormat, .text)
            let node = config.nodeConfig()
            XCTAssertEqual(node.networkID, "pex-default")
            XCTAssertNil(node.roster)
            XCTAssertFalse(node.labMode)
            XCTAssertEqual(node.advertisedAddresses, config.listenAddresses)
            // Everything else is NodeConfig's own default.
            var expected = NodeConfig(networkID: "pex-default", advertisedAddresses: config.listenAddresses)
            expected.advertisedAddresses = node.advertisedAddresses
            XCTAssertEqual(node, expected)
        }
    }

    // MARK: Errors name key and reason

    func testEveryInvalidValueNamesItsKey() {
        expectError("peers:\n  exchange_interval: 30\n", key: "peers.exchange_interval", reason: "missing unit", line: 2)
        expectError("peers:\n  exchange_interval: -1s\n", key: "peers.exchange_interval", reason: "must not be negative")
        expectError("peers:\n  connection_timeout: 0s\n", key: "peers.connection_timeout", reason: "must be at least 1ns")
        expectError("peers:\n  exchange_interval: [1s]\n", key: "peers.exchange_interval", reason: "got a list")
        expectError("peers:\n  exchange_interval: {a: 1}\n", key: "peers.exchange_interval", reason: "got a mapping")
        expectError("node:\n  private_key: abc\n", key: "node.private_key", reason: "invalid base64")
        expectError("node:\n  private_key: \(KeyPair.generate().publicKey.base64)\n", key: "node.private_key",
                    reason: "32 bytes, expected 64")
        expectError("network:\n  addresses: []\n", key: "network.addresses", reason: "at least one")
        expectError("network:\n  addresses: [/ip4/0.0.0.0/tcp/1, /ip4/1.2.3/tcp/1]\n", key: "network.addresses[1]",
                    reason: "invalid ip4 value", line: 2)
        expectError("network:\n  addresses:\n    - /ip4/0.0.0.0/tcp/1\n    - /dns4/a.example/tcp/1\n",
                    key: "network.addresses[1]", reason: "a listen address is /ip4", line: 4)
        expectError("network:\n  addresses: [[a]]\n", key: "network.addresses[0]", reason: "got a list")
        expectError("network:\n  addresses: {a: b}\n", key: "network.addresses", reason: "expected a list")
        expectError("network: 5\n", key: "network", reason: "expected a mapping")
        expectError("- a\n", key: "(document)", reason: "expected a mapping")
        expectError("logging:\n  level: loud\n", key: "logging.level", reason: "unknown level \"loud\"")
        expectError("logging:\n  format: xml\n", key: "logging.format", reason: "text or json")
        expectError("pex:\n  network_id: Fed\n", key: "pex.network_id", reason: "a-z")
        expectError("pex:\n  data_dir: \"\"\n", key: "pex.data_dir", reason: "must not be empty")
        expectError("pex:\n  peers_file: \"\"\n", key: "pex.peers_file", reason: "must not be empty")
        expectError("pex:\n  admin_socket: \"\"\n", key: "pex.admin_socket", reason: "true, false or a path")
        expectError("pex:\n  bootstrap: [/ip4/1.2.3.4/tcp/0]\n", key: "pex.bootstrap[0]", reason: "not dialable")
        expectError("pex:\n  bootstrap: [/ip4/1.2.3.4/udp/1/quic-v1]\n", key: "pex.bootstrap[0]", reason: "only TCP")
        expectError("pex:\n  bootstrap: [nonsense]\n", key: "pex.bootstrap[0]", reason: "must start with")
        expectError("pex:\n  advertise: [/ip4/1.2.3.4/tcp/4001, /ip4/1.2.3.4]\n", key: "pex.advertise[1]",
                    reason: "not dialable")
        expectError("pex:\n  advertise: [\((0...10).map { "/ip4/1.2.3.4/tcp/\($0 + 1)" }.joined(separator: ","))]\n",
                    key: "pex.advertise", reason: "at most 10")
        expectError("pex:\n  dns_seeds: [\"bad name!\"]\n", key: "pex.dns_seeds[0]", reason: "not a valid DNS name")
        expectError("pex:\n  dns_seed_port: 0\n", key: "pex.dns_seed_port", reason: "out of range 1…65535")
        expectError("pex:\n  dns_seed_port: many\n", key: "pex.dns_seed_port", reason: "expected an integer")
        expectError("pex:\n  roster: [AAAA]\n", key: "pex.roster[0]", reason: "invalid public key")
        expectError("pex:\n  roster: []\n", key: "pex.roster", reason: "admits nobody")
        expectError("pex:\n  roster: [a]\n  roster_file: r.yaml\n", key: "pex.roster_file", reason: "not both")
        expectError("pex:\n  lab_mode: maybe\n", key: "pex.lab_mode", reason: "expected true or false")
        expectError("pex:\n  agent: \"\(String(repeating: "a", count: 129))\"\n", key: "pex.agent", reason: "1 to 128")
        expectError("pex:\n  limits:\n    target_outbound: 1000\n", key: "pex.limits.target_outbound",
                    reason: "out of range 0…256", line: 3)
        expectError("pex:\n  limits:\n    max_frame_size: 100\n", key: "pex.limits.max_frame_size", reason: "out of range")
        expectError("pex:\n  limits:\n    ban_duration: forever\n", key: "pex.limits.ban_duration", reason: "invalid duration")
        expectError("pex:\n  timing:\n    record_lifetime: 30s\n", key: "pex.timing.record_lifetime",
                    reason: "at least 1m, got \"30s\"")
    }

    func testCrossFieldRules() {
        expectError("peers:\n  exchange_interval: 5s\n", key: "pex.timing.sync_jitter",
                    reason: "shorter than peers.exchange_interval")
        expectError("pex:\n  timing:\n    idle_timeout: 10s\n", key: "pex.timing.idle_timeout",
                    reason: "longer than pex.timing.ping_interval")
        expectError("pex:\n  timing:\n    backoff_cap: 100ms\n", key: "pex.timing.backoff_cap",
                    reason: "must not be shorter than pex.timing.backoff_base")
        expectError("pex:\n  timing:\n    record_lifetime: 721h\n", key: "pex.timing.record_lifetime",
                    reason: "at most 720h")
        expectError("pex:\n  timing:\n    record_refresh_margin: 24h\n", key: "pex.timing.record_refresh_margin",
                    reason: "shorter than pex.timing.record_lifetime")
    }

    func testUnknownAndDuplicateKeysAreRefused() {
        expectError("peers:\n  exchange_intervall: 30s\n", key: "peers.exchange_intervall",
                    reason: "unknown key (did you mean \"exchange_interval\"?)", line: 2)
        expectError("pex:\n  limits:\n    frobnicate: 1\n", key: "pex.limits.frobnicate", reason: "unknown key")
        expectError("nodes:\n  private_key: x\n", key: "nodes", reason: "did you mean \"node\"")
        expectError("peers:\n  exchange_interval: 1s\n  exchange_interval: 2s\n", key: "peers.exchange_interval",
                    reason: "duplicate key", line: 3)
        expectError("peers:\n  [a]: 1\n", key: "peers", reason: "keys must be plain strings")
    }

    func testSyntaxErrorsDoNotQuoteTheFile() {
        let secret = KeyPair.generate().base64SecretKey
        XCTAssertThrowsError(try ConfigFile(yaml: "node:\n  private_key: \(secret)\n  : [\n", fileName: "c.yaml")) {
            guard let error = $0 as? ConfigError else { return XCTFail("\($0)") }
            XCTAssertEqual(error.key, "c.yaml")
            XCTAssertTrue(error.reason.hasPrefix("invalid YAML"), error.reason)
            XCTAssertNotNil(error.line)
            XCTAssertFalse(error.description.contains(secret))
        }
    }

    func testErrorDescription() {
        XCTAssertEqual(ConfigError(key: "a.b", reason: "bad", line: 3).description, "a.b (line 3): bad")
        XCTAssertEqual(ConfigError(key: "--listen", reason: "bad").description, "--listen: bad")
    }

    func testFileErrors() {
        XCTAssertThrowsError(try ConfigFile.load(path: "\(directory)/missing.yaml")) {
            let error = $0 as? ConfigError
            XCTAssertEqual(error?.key, "\(directory)/missing.yaml")
            XCTAssertTrue(error?.reason.contains("No such file") ?? false, "\($0)")
        }
        let binary = write("\u{FF}", to: "x")  // written as UTF-8, so valid; replace with raw bytes
        let file = fopen(binary, "wb")
        fputc(0xFF, file)
        fclose(file)
        XCTAssertThrowsError(try ConfigFile.load(path: binary)) {
            XCTAssertTrue(($0 as? ConfigError)?.reason.contains("not UTF-8") ?? false, "\($0)")
        }
        let big = write(String(repeating: "#", count: ConfigFile.maxFileSize + 1), to: "big.yaml")
        XCTAssertThrowsError(try ConfigFile.load(path: big)) {
            XCTAssertTrue(($0 as? ConfigError)?.reason.contains("larger than") ?? false, "\($0)")
        }
    }

    // MARK: Roster file and relative paths

    func testRosterFileRelativeToTheConfigFile() throws {
        let members = (0..<2).map { _ in KeyPair.generate().publicKey }
        _ = write("# federation members\n- \(members[0].base64)\n- \(members[1].base64)\n", to: "roster.yaml")
        let path = write("pex:\n  roster_file: roster.yaml\n  data_dir: state\n  admin_socket: run/admin.sock\n",
                         to: "conf.yaml")
        let config = try ConfigFile.load(path: path)
        XCTAssertEqual(config.node.roster, Set(members))
        XCTAssertEqual(config.dataDirectory, "\(directory)/state")
        XCTAssertEqual(config.adminSocketPath, "\(directory)/run/admin.sock")

        _ = write("- \(members[0].base64)\n- nope\n", to: "bad.yaml")
        _ = write("", to: "empty.yaml")
        _ = write("a: b\n", to: "map.yaml")
        _ = write("[\n", to: "broken.yaml")
        for (file, fragment) in [("bad.yaml", "entry 1: \"nope\""), ("empty.yaml", "empty"), ("map.yaml", "expected a list"),
                                 ("broken.yaml", "not a YAML list"), ("absent.yaml", "cannot open")] {
            let path = write("pex:\n  roster_file: \(file)\n", to: "conf.yaml")
            XCTAssertThrowsError(try ConfigFile.load(path: path), file) {
                guard let error = $0 as? ConfigError else { return XCTFail("\($0)") }
                XCTAssertEqual(error.key, "pex.roster_file", "\(error)")
                XCTAssertTrue(error.reason.contains(fragment), "\(error)")
            }
        }
        // Absolute paths stay as they are; admin_socket: true means the data directory.
        let absolute = try ConfigFile(yaml: "pex:\n  data_dir: /srv/pex\n  admin_socket: true\n", baseDirectory: "/etc")
        XCTAssertEqual(absolute.adminSocketPath, "/srv/pex/admin.sock")
        XCTAssertEqual(try ConfigFile(yaml: "pex:\n  peers_file: p.yaml\n", baseDirectory: "/etc/").peersFile,
                       "/etc/p.yaml")
    }

    // MARK: Overrides

    func testOverridesApplyOnTopOfTheFile() throws {
        var config = try ConfigFile(yaml: "pex:\n  network_id: file-net\n  lab_mode: false\n")
        var overrides = ConfigOverrides()
        overrides.dataDirectory = "/tmp/x"
        overrides.networkID = "cli-net"
        overrides.listenAddresses = ["/ip4/127.0.0.1/tcp/5000"]
        overrides.bootstrapPeers = ["/ip4/1.2.3.4/tcp/4001"]
        overrides.advertisedAddresses = ["/ip4/1.2.3.9/tcp/5000"]
        overrides.logLevel = "warn"
        overrides.logFormat = "json"
        overrides.labMode = true
        overrides.adminSocket = "/tmp/admin.sock"
        overrides.peersFile = "peers.yaml"
        try config.apply(overrides)
        XCTAssertEqual(config.dataDirectory, "/tmp/x")
        XCTAssertEqual(config.node.networkID, "cli-net")
        XCTAssertEqual(config.listenAddresses.map(\.text), ["/ip4/127.0.0.1/tcp/5000"])
        XCTAssertEqual(config.node.bootstrapPeers.map(\.text), ["/ip4/1.2.3.4/tcp/4001"])
        XCTAssertEqual(config.nodeConfig().advertisedAddresses.map(\.text), ["/ip4/1.2.3.9/tcp/5000"])
        XCTAssertEqual(config.loggingLevel, .warning)
        XCTAssertEqual(config.loggingFormat, .json)
        XCTAssertTrue(config.node.labMode)
        XCTAssertEqual(config.adminSocketPath, "/tmp/admin.sock")
        XCTAssertEqual(config.peersFile, "peers.yaml")

        overrides = ConfigOverrides()
        overrides.adminSocket = ""
        try config.apply(overrides)
        XCTAssertNil(config.adminSocketPath)
        XCTAssertEqual(config.node.networkID, "cli-net", "an empty override set changes nothing else")
    }

    func testOverrideErrorsNameTheOption() {
        func check(_ option: String, _ fragment: String, _ set: (inout ConfigOverrides) -> Void) {
            var overrides = ConfigOverrides()
            set(&overrides)
            var config = ConfigFile()
            XCTAssertThrowsError(try config.apply(overrides), option) {
                guard let error = $0 as? ConfigError else { return XCTFail("\($0)") }
                XCTAssertEqual(error.key, option)
                XCTAssertTrue(error.reason.contains(fragment), "\(error)")
                XCTAssertNil(error.line)
            }
        }
        check("--data-dir", "must not be empty") { $0.dataDirectory = "" }
        check("--network-id", "a-z") { $0.networkID = "UPPER" }
        check("--listen", "at least one") { $0.listenAddresses = [] }
        check("--listen", "listen address") { $0.listenAddresses = ["/dns4/x.example/tcp/1"] }
        check("--bootstrap", "not dialable") { $0.bootstrapPeers = ["/ip4/1.2.3.4"] }
        check("--advertise", "must start with") { $0.advertisedAddresses = ["ip4"] }
        check("--advertise", "at most 10") { $0.advertisedAddresses = (1...11).map { "/ip4/1.2.3.4/tcp/\($0)" } }
        check("--log-level", "unknown level") { $0.logLevel = "verbose" }
        check("--log-format", "text or json") { $0.logFormat = "yaml" }
        check("--peers-file", "must not be empty") { $0.peersFile = "" }
    }

    func testAllLogLevels() throws {
        let levels: [(String, Logger.Level)] = [
            ("trace", .trace), ("debug", .debug), ("info", .info), ("notice", .notice), ("warn", .warning),
            ("warning", .warning), ("error", .error), ("critical", .critical), ("INFO", .info),
        ]
        for (text, level) in levels {
            XCTAssertEqual(try ConfigFile(yaml: "logging:\n  level: \(text)\n").loggingLevel, level, text)
        }
    }

    // MARK: Identity

    func testMissingKeyIsGeneratedIntoTheDataDirectoryWithMode0600() throws {
        var overrides = ConfigOverrides()
        overrides.dataDirectory = "\(directory)/a/b"
        var config = ConfigFile()
        try config.apply(overrides)
        let first = try config.loadOrCreateIdentity()
        XCTAssertTrue(first.created)
        var info = stat()
        XCTAssertEqual(stat("\(directory)/a/b/node.key", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(stat("\(directory)/a/b", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700)
        XCTAssertEqual(try KeyPair.load(from: config.keyFilePath).publicKey, first.keyPair.publicKey)

        let second = try config.loadOrCreateIdentity()
        XCTAssertFalse(second.created)
        XCTAssertEqual(second.keyPair.publicKey, first.keyPair.publicKey)
    }

    func testIdentityErrors() throws {
        _ = write("garbage\n", to: "node.key")
        var overrides = ConfigOverrides()
        overrides.dataDirectory = directory
        var config = ConfigFile()
        try config.apply(overrides)
        XCTAssertThrowsError(try config.loadOrCreateIdentity()) {
            guard let error = $0 as? ConfigError else { return XCTFail("\($0)") }
            XCTAssertEqual(error.key, "node.private_key")
            XCTAssertTrue(error.reason.contains("node.key"), "\(error)")
        }
        // A data directory that cannot be created.
        _ = write("", to: "file")
        overrides.dataDirectory = "\(directory)/file/sub"
        try config.apply(overrides)
        XCTAssertThrowsError(try config.loadOrCreateIdentity()) {
            XCTAssertEqual(($0 as? ConfigError)?.key, "pex.data_dir", "\($0)")
        }
    }
}
