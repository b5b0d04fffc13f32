import ArgumentParser
import Logging
import PexCore
import PexRuntime
import PexWire

/// `pexd run`: the daemon.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a node (the daemon).",
        discussion: """
            Reads the original conf.yaml (node.private_key, network.addresses, peers.exchange_interval, \
            peers.connection_timeout, logging.level, logging.format) plus its `pex` section; options on \
            the command line override the file. With no file at all the node starts on the defaults: \
            data in ./data (key generated into data/node.key, mode 0600), listening on \
            /ip4/0.0.0.0/tcp/4001. SIGINT/SIGTERM stop it gracefully; SIGHUP re-reads the file and applies \
            it without dropping connections (an invalid file is rejected and the old configuration kept). \
            Invalid configuration: a message naming the key and the reason, exit code 2.
            """)

    @Option(name: .shortAndLong, help: "Configuration file (YAML). Default: conf.yaml when it exists.")
    var config: String?

    @Option(help: "Data directory (store, key, admin socket).")
    var dataDir: String?

    @Option(help: "Network id.")
    var networkId: String?

    @Option(help: "Listen address, e.g. /ip4/127.0.0.1/tcp/4001 (repeatable).")
    var listen: [String] = []

    @Option(help: "Bootstrap peer multiaddr (repeatable).")
    var bootstrap: [String] = []

    @Option(help: "Address to advertise in our record (repeatable). Default: the bound listen addresses.")
    var advertise: [String] = []

    @Option(help: "Log level: debug, info, warn, error.")
    var logLevel: String?

    @Option(help: "Log format: text or json.")
    var logFormat: String?

    @Flag(help: "Lab mode: loopback and private addresses are acceptable.")
    var lab = false

    @Option(help: "peers.yaml whose peers are used as bootstrap peers.")
    var peersFile: String?

    func run() throws {
        let path = config ?? (fileExists("conf.yaml") ? "conf.yaml" : nil)
        var file: ConfigFile
        do {
            file = try path.map { p throws(ConfigError) in try ConfigFile.load(path: p) } ?? ConfigFile()
            var overrides = ConfigOverrides()
            overrides.dataDirectory = dataDir
            overrides.networkID = networkId
            overrides.listenAddresses = listen.isEmpty ? nil : listen
            overrides.bootstrapPeers = bootstrap.isEmpty ? nil : bootstrap
            overrides.advertisedAddresses = advertise.isEmpty ? nil : advertise
            overrides.logLevel = logLevel
            overrides.logFormat = logFormat
            overrides.labMode = lab ? true : nil
            overrides.peersFile = peersFile
            try file.apply(overrides)
        } catch {
            throw invalidInput("configuration: \(error)")
        }
        PexLogging.bootstrap(level: file.loggingLevel, format: file.loggingFormat)
        let logger = Logger(label: "pexd")
        do {
            try makeDirectory(file.dataDirectory)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let identity: KeyPair
        do {
            let (keyPair, created) = try file.loadOrCreateIdentity()
            identity = keyPair
            if created { logger.notice("generated a new identity", metadata: ["key_file": "\(file.keyFilePath)"]) }
        } catch {
            throw invalidInput("configuration: \(error)")
        }
        var nodeConfig = try Self.nodeConfig(file, logger: logger)
        let opened: Store.Opened
        do {
            opened = try Store.open(path: file.dataDirectory + "/pex.db")
        } catch {
            logger.critical("cannot open the store", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        if let notice = opened.notice { logger.warning("\(notice)") }
        logger.info("starting", metadata: [
            "peer_id": "\(identity.publicKey.peerID.base58)", "network": "\(nodeConfig.networkID)",
            "listen": "\(file.listenAddresses.map(\.text))", "records": "\(opened.state.peers.count)",
        ])
        if nodeConfig.advertisedAddresses.isEmpty { nodeConfig.advertisedAddresses = [] }
        let configPath = path
        let overridesForReload = (dataDir, networkId, listen, bootstrap, advertise, lab, peersFile)
        let node = PexNode(configuration: .init(
            node: nodeConfig, identity: identity, listenAddresses: file.listenAddresses, store: opened.store,
            logger: logger, handleSignals: true,
            onReload: {
                // SIGHUP: re-read the file with the same command-line overrides.
                do {
                    var reloaded = try configPath.map { p throws(ConfigError) in try ConfigFile.load(path: p) } ?? ConfigFile()
                    var o = ConfigOverrides()
                    o.dataDirectory = overridesForReload.0
                    o.networkID = overridesForReload.1
                    o.listenAddresses = overridesForReload.2.isEmpty ? nil : overridesForReload.2
                    o.bootstrapPeers = overridesForReload.3.isEmpty ? nil : overridesForReload.3
                    o.advertisedAddresses = overridesForReload.4.isEmpty ? nil : overridesForReload.4
                    o.labMode = overridesForReload.5 ? true : nil
                    o.peersFile = overridesForReload.6
                    try reloaded.apply(o)
                    return try Self.nodeConfig(reloaded, logger: Logger(label: "pexd"))
                } catch {
                    Logger(label: "pexd").error("reload rejected; keeping the running configuration", metadata: ["error": "\(error)"])
                    return nil
                }
            }, adminSocketPath: file.adminSocketPath))
        node.subscribe { event in
            let log = Logger(label: "pexd.events")
            switch event {
            case let .stateChanged(from, to): log.info("state \(from.rawValue) -> \(to.rawValue)")
            case let .connected(id, key, direction, remote):
                log.info("connected", metadata: ["peer": "\(key.peerID.base58)", "conn": "\(id)", "direction": "\(direction.rawValue)", "remote": "\(remote)"])
            case let .disconnected(id, key, reason):
                log.info("disconnected", metadata: ["peer": "\(key.map { $0.peerID.base58 } ?? "-")", "conn": "\(id)", "reason": "\(reason)"])
            case let .peerDiscovered(key, seq, addresses):
                log.info("discovered", metadata: ["peer": "\(key.peerID.base58)", "seq": "\(seq)", "addresses": "\(addresses.map(\.text))"])
            case let .peerUpdated(key, seq, addresses):
                log.info("updated", metadata: ["peer": "\(key.peerID.base58)", "seq": "\(seq)", "addresses": "\(addresses.map(\.text))"])
            case let .banned(subject, until, reason):
                log.warning("banned", metadata: ["subject": "\(subject)", "until": "\(until.unixSeconds)", "reason": "\(reason)"])
            case let .recordRejected(reason, from):
                log.debug("record rejected", metadata: ["reason": "\(reason)", "from": "\(from.map { $0.peerID.base58 } ?? "-")"])
            case let .allBootstrapUnreachable(retryIn):
                log.warning("every bootstrap peer is unreachable; retrying", metadata: ["retry_in": "\(retryIn)"])
            default:
                log.debug("\(event)")
            }
        }
        do {
            try node.run()
        } catch {
            logger.critical("node stopped with an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("stopped")
    }

    /// The protocol configuration, with the peers file's entries as extra bootstrap peers.
    static func nodeConfig(_ file: ConfigFile, logger: Logger) throws -> NodeConfig {
        var config = file.nodeConfig()
        // Empty means "the addresses we actually bound" (the runtime fills them in).
        config.advertisedAddresses = file.advertisedAddresses
        if let peersPath = file.peersFile {
            do {
                let text = String(decoding: try readFile(peersPath, limit: 16 << 20), as: UTF8.self)
                for peer in try PeersFile.parse(text) {
                    for address in peer.addresses where !config.bootstrapPeers.contains(address) {
                        config.bootstrapPeers.append(address)
                    }
                }
            } catch {
                throw invalidInput("peers file \(peersPath): \(error)")
            }
        }
        return config
    }
}
