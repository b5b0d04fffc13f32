import ArgumentParser
import PexCore
import PexRuntime
import PexWire
#if canImport(Glibc)
import Glibc
#endif

/// Where a running node's admin socket is: `--socket`, else `<--data-dir>/admin.sock`, else what
/// the configuration file says (`pex.admin_socket`, `pex.data_dir`), else `data/admin.sock`.
struct AdminTarget: ParsableArguments {
    @Option(help: "The node's admin socket (overrides --data-dir and --config).")
    var socket: String?

    @Option(help: "The node's data directory; its admin socket is <dir>/admin.sock.")
    var dataDir: String?

    @Option(name: .shortAndLong, help: "The node's configuration file. Default: conf.yaml when it exists.")
    var config: String?

    @Option(help: "Seconds to wait for the node's answer.")
    var timeout: Int = 10

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1 to 3600 seconds") }
    }

    /// The socket path.
    ///
    /// - Throws: `ExitCode(2)` when the configuration file is invalid or disables the socket.
    func socketPath() throws -> String {
        if let socket { return socket }
        if let dataDir { return "\(dataDir)/\(ConfigFile.adminSocketName)" }
        let path = config ?? (fileExists("conf.yaml") ? "conf.yaml" : nil)
        var file = ConfigFile()
        if let path {
            do { file = try ConfigFile.load(path: path) } catch { throw invalidInput("configuration: \(error)") }
        }
        guard let socket = file.adminSocketPath else {
            throw invalidInput("the configuration disables the admin socket (pex.admin_socket: false)")
        }
        return socket
    }

    func client() throws -> AdminClient {
        AdminClient(socketPath: try socketPath(), timeout: .seconds(UInt64(timeout)))
    }
}

/// Runs one admin exchange, turning client failures into the tool's messages and exit codes:
/// no node at the socket, or any other failure to talk to it, exits 1.
func withAdmin<T>(_ client: AdminClient, _ body: (AdminClient) throws(AdminClientError) -> T) throws -> T {
    do {
        return try body(client)
    } catch {
        if isNotRunning(error) {
            printError("error: no node running at \(client.socketPath) (is it started?)")
        } else {
            printError("error: \(error)")
        }
        throw ExitCode(1)
    }
}

/// Whether the failure means nobody listens at the socket.
func isNotRunning(_ error: AdminClientError) -> Bool {
    if case let .system(call, code) = error.reason, call == "connect", code == ENOENT || code == ECONNREFUSED {
        return true
    }
    return false
}

/// Unix seconds as UTC `YYYY-MM-DDTHH:MM:SSZ`, or `never` for 0.
func utcText(_ seconds: UInt64) -> String {
    guard seconds > 0 else { return "never" }
    var time = time_t(clamping: seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return String(seconds) }
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : String(n) }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}

/// Writes `text` to `path` (created mode 0644, replaced when it exists).
func writeTextFile(_ path: String, _ text: String) throws(FileError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { _ = close(fd) }
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        offset += n
    }
}

/// `pexd status`.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running node's state, identity and connection counts.",
        discussion: """
            Asks the node through its admin socket (a unix socket in its data directory, mode 0600). \
            Exit code 1 when no node runs at the socket.
            """)

    @OptionGroup var target: AdminTarget

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let status = try withAdmin(try target.client()) { client throws(AdminClientError) in try client.status() }
        if json {
            print(JSONValue.object([
                ("state", .string(status.state.rawValue)),
                ("public_key", .string(status.publicKey.base64)),
                ("peer_id", .string(status.publicKey.peerID.base58)),
                ("network_id", .string(status.networkID)),
                ("agent", .string(status.agent)),
                ("ready_peers", .int(Int64(status.readyPeers))),
                ("known_records", .int(Int64(clamping: status.knownRecords))),
                ("inbound", .int(Int64(status.inbound))),
                ("outbound", .int(Int64(status.outbound))),
                ("own_seq", .int(Int64(clamping: status.ownSeq))),
                ("uptime_seconds", .int(Int64(clamping: status.uptimeSeconds))),
                ("listen_addresses", .array(status.listenAddresses.map { .string($0.text) })),
            ]).rendered)
            return
        }
        print("""
            state:          \(status.state.rawValue)
            peer id:        \(status.publicKey.peerID.base58)
            public key:     \(status.publicKey.base64)
            network:        \(status.networkID)
            agent:          \(status.agent)
            ready peers:    \(status.readyPeers)
            known records:  \(status.knownRecords)
            connections:    \(status.inbound) inbound, \(status.outbound) outbound
            own record seq: \(status.ownSeq)
            uptime:         \(status.uptimeSeconds)s
            listening on:   \(status.listenAddresses.map(\.text).joined(separator: " "))
            """)
    }
}

/// `pexd peers`.
struct Peers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a running node's address book.",
        discussion: """
            One line per known peer: peer id, whether a ready connection is open, the table (new, tried, \
            protected), record seq and addresses. --json prints an array of objects with public_key, \
            peer_id, seq, addresses, expires_at, connected, table, last_seen, last_success, attempts \
            (times in Unix seconds, 0 for never). Exit code 1 when no node runs at the socket.
            """)

    @OptionGroup var target: AdminTarget

    @Flag(help: "Only peers with a ready connection.")
    var connected = false

    @Flag(help: "Print a JSON array instead of text.")
    var json = false

    func run() throws {
        let peers = try withAdmin(try target.client()) { client throws(AdminClientError) in
            try client.peers(connectedOnly: connected)
        }
        if json {
            print(JSONValue.array(peers.map { peer in
                .object([
                    ("public_key", .string(peer.publicKey.base64)),
                    ("peer_id", .string(peer.publicKey.peerID.base58)),
                    ("seq", .int(Int64(clamping: peer.seq))),
                    ("addresses", .array(peer.addresses.map { .string($0.text) })),
                    ("expires_at", .int(Int64(clamping: peer.expiresAt))),
                    ("connected", .bool(peer.connected)),
                    ("table", .string(peer.table.rawValue)),
                    ("last_seen", .int(Int64(clamping: peer.lastSeen))),
                    ("last_success", .int(Int64(clamping: peer.lastSuccess))),
                    ("attempts", .int(Int64(peer.attempts))),
                ])
            }).rendered)
            return
        }
        if peers.isEmpty {
            print(connected ? "no connected peers" : "no known peers")
            return
        }
        for peer in peers {
            let state = peer.connected ? "connected" : "-"
            print("\(peer.publicKey.peerID.base58)  \(state)  \(peer.table.rawValue)  seq=\(peer.seq)  "
                + "\(peer.addresses.map(\.text).joined(separator: ","))  last_seen=\(utcText(peer.lastSeen))")
        }
    }
}

/// `pexd metrics`.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a running node's metrics in the Prometheus text format.",
        discussion: """
            The exposition (format 0.0.4) of the node's counters and gauges, as a scrape would get it; \
            e.g. for a textfile collector. Exit code 1 when no node runs at the socket.
            """)

    @OptionGroup var target: AdminTarget

    func run() throws {
        let text = try withAdmin(try target.client()) { client throws(AdminClientError) in try client.metrics() }
        print(text, terminator: "")
    }
}

/// `pexd export-peers`.
struct ExportPeers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-peers",
        abstract: "Write the known peers as a peers.yaml file.",
        discussion: """
            From a running node through its admin socket, or, with --store, straight from a node's \
            SQLite store (pex.db in its data directory) while the node is stopped. The output is the \
            original peers.yaml layout (public_key, addresses) that `pexd run --peers-file` and \
            `pexd import-peers` read. Without --out it goes to standard output. Exit code 1 when no node \
            runs at the socket or the store cannot be read, 2 when the store file does not exist.
            """)

    @OptionGroup var target: AdminTarget

    @Option(help: "Read this SQLite store (e.g. data/pex.db) instead of asking a running node.")
    var store: String?

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    func run() throws {
        let peers: [PeersFile.Peer]
        let source: String
        if let store {
            guard fileExists(store) else { throw invalidInput("no store at \(store)") }
            do {
                let opened = try Store(path: store)
                defer { opened.close() }
                peers = try opened.exportPeers()
            } catch {
                printError("error: cannot read the store \(store): \(error)")
                throw ExitCode(1)
            }
            source = "store \(store)"
        } else {
            let client = try target.client()
            let records = try withAdmin(client) { client throws(AdminClientError) in try client.exportPeers() }
            var converted: [PeersFile.Peer] = []
            for record in records {
                // The node sent only records it verified; one that does not convert is skipped, not fatal.
                if let peer = try? PeersFile.Peer(record: record) { converted.append(peer) }
            }
            peers = converted
            source = "node at \(client.socketPath)"
        }
        let text = PeersFile.render(peers)
        if let out {
            do { try writeTextFile(out, text) } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
            printError("exported \(peers.count) peers from the \(source) to \(out)")
        } else {
            print(text, terminator: "")
        }
    }
}

/// `pexd import-peers`.
struct ImportPeers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-peers",
        abstract: "Validate a peers.yaml file and give its addresses to a running node.",
        discussion: """
            The file is checked first (every entry needs a valid base64 Ed25519 public_key and at least \
            one valid multiaddr; keys must be unique): an invalid file exits with code 2 and nothing is \
            sent. When a node runs at the admin socket, each address is added to its bootstrap peers \
            (the node dials them as it does configured bootstrap peers). When no node runs, the file is \
            only validated and the report says so: start the node with `pexd run --peers-file FILE`. \
            The report names the peers and addresses sent, accepted and refused.
            """)

    @OptionGroup var target: AdminTarget

    @Argument(help: "The peers.yaml file.")
    var file: String

    func run() throws {
        let peers: [PeersFile.Peer]
        do {
            let text = String(decoding: try readFile(file, limit: 16 << 20), as: UTF8.self)
            peers = try PeersFile.parse(text)
        } catch {
            throw invalidInput("\(file): \(error)")
        }
        let addresses = peers.reduce(0) { $0 + $1.addresses.count }
        print("\(file): \(peers.count) peers, \(addresses) addresses, valid")
        let client = try target.client()
        var accepted = 0
        var refused: [String] = []
        for peer in peers {
            for address in peer.addresses {
                do {
                    switch try client.send(.addBootstrap(address)) {
                    case .accepted: accepted += 1
                    case let .error(reason): refused.append("\(address.text): \(reason)")
                    default: refused.append("\(address.text): unexpected response")
                    }
                } catch where isNotRunning(error) && accepted == 0 && refused.isEmpty {
                    print("no node running at \(client.socketPath): nothing sent "
                        + "(start it with `pexd run --peers-file \(file)` to use these peers)")
                    return
                } catch {
                    printError("error: \(error) (after \(accepted) addresses were added)")
                    throw ExitCode(1)
                }
            }
        }
        print("added \(accepted) bootstrap addresses to the node at \(client.socketPath)")
        for line in refused { print("refused \(line)") }
        if !refused.isEmpty { throw ExitCode(1) }
    }
}
