import Foundation
import Logging
import PexCore
@testable import PexRuntime
import PexWire
import XCTest

/// Collects log lines so tests can check what was logged, with metadata.
final class LogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(Logger.Level, String, Logger.Metadata)] = []
    func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        lock.withLock { lines.append((level, message, metadata)) }
    }
    var all: [(Logger.Level, String, Logger.Metadata)] { lock.withLock { lines } }
    func contains(_ message: String, where check: (Logger.Metadata) -> Bool = { _ in true }) -> Bool {
        all.contains { $0.1 == message && check($0.2) }
    }
}

struct CollectingHandler: LogHandler {
    let collector: LogCollector
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        collector.append(event.level, event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })
    }
}

/// Events seen by a subscriber.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [Event] = []
    func append(_ event: Event) { lock.withLock { events.append(event) } }
    var all: [Event] { lock.withLock { events } }
}

enum Harness {
    static let network = "pex-runtime-test"
    static let listen = try! Multiaddr("/ip4/127.0.0.1/tcp/0")

    static func config(bootstrap: [Multiaddr] = []) -> NodeConfig {
        var config = NodeConfig(networkID: network, advertisedAddresses: [])
        config.labMode = true
        config.bootstrapPeers = bootstrap
        config.syncInterval = .milliseconds(200)
        config.syncJitter = .milliseconds(50)
        // Requests come every few hundred milliseconds here: the default request budget
        // (one per 10 s) would refuse most of them.
        config.rateLimits[.request] = .init(ratePerSecond: 50, burst: 50)
        config.backoffBase = .milliseconds(100)
        config.backoffCap = .seconds(1)
        config.handshakeTimeout = .seconds(5)
        return config
    }

    static func node(bootstrap: [Multiaddr] = [], store: any PersistSink = MemoryStore(),
                     logs: LogCollector = LogCollector(), identity: KeyPair = .generate(),
                     configure: (inout PexNode.Configuration) -> Void = { _ in }) -> PexNode {
        var configuration = PexNode.Configuration(
            node: config(bootstrap: bootstrap), identity: identity, listenAddresses: [listen], store: store,
            logger: Logger(label: "pex.test") { _ in CollectingHandler(collector: logs) })
        configure(&configuration)
        return PexNode(configuration: configuration)
    }

    /// Two started nodes, `b` bootstrapping from `a`, and `a`'s listening address. Stop both.
    static func pair() throws -> (a: PexNode, b: PexNode, addressA: Multiaddr) {
        let a = node()
        try a.start()
        let addressA = try XCTUnwrap(a.boundAddresses.first)
        let b = node(bootstrap: [addressA])
        try b.start()
        return (a, b, addressA)
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    static func wait(_ timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > end { return false }
            usleep(20_000)
        }
        return true
    }

    static func knows(_ node: PexNode, _ keys: [PublicKey]) -> Bool {
        guard let snapshot = node.snapshot() else { return false }
        let known = Set(snapshot.knownRecords.map(\.publicKey))
        return keys.allSatisfy { $0 == snapshot.identity || known.contains($0) }
    }
}

final class PexNodeTests: XCTestCase {
    func testTwoNodesHandshakeAndExchangeRecords() throws {
        let logsA = LogCollector()
        let storeA = MemoryStore()
        let a = Harness.node(store: storeA, logs: logsA)
        let eventsA = EventLog()
        a.subscribe { eventsA.append($0) }
        try a.start()
        let addressA = try XCTUnwrap(a.boundAddresses.first)
        XCTAssertNotEqual(addressA.port, 0, "the ephemeral port is reported")
        XCTAssertEqual(a.snapshot()?.advertisedAddresses, [addressA], "advertised addresses come from the listener")

        let b = Harness.node(bootstrap: [addressA])
        try b.start()
        let keyA = try XCTUnwrap(a.snapshot()?.identity)
        let keyB = try XCTUnwrap(b.snapshot()?.identity)

        XCTAssertTrue(Harness.wait { Harness.knows(a, [keyB]) && Harness.knows(b, [keyA]) })
        XCTAssertTrue(Harness.wait { a.snapshot()?.readyPeers == [keyB] && b.snapshot()?.readyPeers == [keyA] })
        XCTAssertEqual(b.snapshot()?.outbound, 1)
        XCTAssertEqual(a.snapshot()?.inbound, 1)
        XCTAssertTrue(eventsA.all.contains { if case let .connected(_, key, .inbound, _) = $0 { key == keyB } else { false } })
        XCTAssertTrue(logsA.contains("peer connected") { $0["peer"]?.description == keyB.description })
        // The record B sent is persisted by A, in batches.
        XCTAssertTrue(Harness.wait { storeA.contents.peers.count == 1 })
        XCTAssertGreaterThan(storeA.contents.ownSeq, 0)
        XCTAssertNotNil(storeA.contents.bucketKey)
        XCTAssertGreaterThanOrEqual(storeA.batchCount, 1)

        b.stop()
        XCTAssertNil(b.loopCloseError)
        // A sees B leave, with B's goodbye as the reason.
        XCTAssertTrue(Harness.wait { a.snapshot()?.readyPeers == [] })
        // B's Error frame was flushed before its socket closed: A names B's goodbye.
        XCTAssertTrue(Harness.wait {
            logsA.contains("peer disconnected") {
                $0["peer"]?.description == keyB.description && $0["reason"]?.description.contains("shutting down") == true
            }
        }, "\(logsA.all.filter { $0.1 == "peer disconnected" })")
        a.stop()
        XCTAssertNil(a.loopCloseError)
        XCTAssertEqual(a.snapshot()?.state, .stopped)
        XCTAssertEqual(a.snapshot()?.openStreams, 0)
        XCTAssertEqual(a.snapshot()?.pendingChanges, 0, "the last changes were written at stop")
    }

    func testFiveNodesFromOneBootstrapConverge() throws {
        let seed = Harness.node()
        try seed.start()
        let bootstrap = try XCTUnwrap(seed.boundAddresses.first)
        var nodes = [seed]
        for _ in 0..<4 {
            let node = Harness.node(bootstrap: [bootstrap])
            try node.start()
            nodes.append(node)
        }
        defer { nodes.forEach { $0.stop() } }
        let keys = nodes.compactMap { $0.snapshot()?.identity }
        XCTAssertEqual(keys.count, 5)
        let started = Date()
        XCTAssertTrue(Harness.wait(30) { nodes.allSatisfy { Harness.knows($0, keys) } })
        print("5 nodes converged in \(Date().timeIntervalSince(started)) s")
        for node in nodes {
            XCTAssertEqual(node.snapshot()?.state, .maintenance)
        }
        for node in nodes {
            node.stop()
            XCTAssertNil(node.loopCloseError)
        }
    }

    func testStopIsCleanIdempotentAndFinal() throws {
        let node = Harness.node()
        XCTAssertNil(node.snapshot(), "nothing before start")
        XCTAssertFalse(node.send(.reset))
        XCTAssertFalse(node.reload())
        node.stop()  // before start: nothing to do
        try node.start()
        XCTAssertTrue(node.isRunning)
        XCTAssertThrowsError(try node.start()) { XCTAssertEqual($0 as? RuntimeError, .alreadyStarted) }
        node.stop()
        node.stop()
        XCTAssertFalse(node.isRunning)
        XCTAssertNil(node.loopCloseError, "uv_loop_close returned 0")
        XCTAssertEqual(node.snapshot()?.state, .stopped)
        XCTAssertThrowsError(try node.start()) { XCTAssertEqual($0 as? RuntimeError, .alreadyStarted) }
    }

    func testGarbageClientIsClosedWhileHonestPeersKeepWorking() throws {
        let (a, b, addressA) = try Harness.pair()
        defer { a.stop(); b.stop() }
        let keyB = try XCTUnwrap(b.snapshot()?.identity)
        XCTAssertTrue(Harness.wait { a.snapshot()?.readyPeers == [keyB] })

        let client = try RawClient(port: try XCTUnwrap(addressA.port))
        // A length prefix announcing far more than any frame may hold, then noise.
        client.send([0xFF, 0xFF, 0xFF, 0xFF, 0x0F] + [UInt8](repeating: 0x5A, count: 4096))
        let outcome = client.readUntilClosed(timeout: 10)
        XCTAssertTrue(outcome.closed, "the garbage sender is disconnected")
        XCTAssertGreaterThan(outcome.bytes, 0, "it got our Hello (and an Error frame) first")

        XCTAssertEqual(a.snapshot()?.readyPeers, [keyB], "the honest peer is still connected")
        let before = try XCTUnwrap(b.snapshot()?.metrics.syncRounds)
        XCTAssertTrue(Harness.wait { (b.snapshot()?.metrics.syncRounds ?? 0) > before }, "and still syncing")
    }

    func testDNSBootstrapThroughLocalhost() throws {
        let a = Harness.node()
        try a.start()
        let port = try XCTUnwrap(a.boundAddresses.first?.port)
        let b = Harness.node(bootstrap: [try Multiaddr("/dns4/localhost/tcp/\(port)")])
        try b.start()
        defer { a.stop(); b.stop() }
        let keyA = try XCTUnwrap(a.snapshot()?.identity)
        XCTAssertTrue(Harness.wait { b.snapshot()?.readyPeers == [keyA] })
    }

    func testRestartReconnectsFromThePersistedPeers() throws {
        let a = Harness.node()
        try a.start()
        defer { a.stop() }
        let keyA = try XCTUnwrap(a.snapshot()?.identity)
        let storeB = MemoryStore()
        let identityB = KeyPair.generate()
        let b = Harness.node(bootstrap: [try XCTUnwrap(a.boundAddresses.first)], store: storeB, identity: identityB)
        try b.start()
        XCTAssertTrue(Harness.wait { b.snapshot()?.readyPeers == [keyA] })
        XCTAssertTrue(Harness.wait { storeB.contents.peers.count == 1 })
        b.stop()
        let seqBefore = storeB.contents.ownSeq

        // No bootstrap this time: only the store knows A.
        let again = Harness.node(store: storeB, identity: identityB)
        try again.start()
        defer { again.stop() }
        XCTAssertTrue(Harness.wait { again.snapshot()?.readyPeers == [keyA] })
        XCTAssertGreaterThan(try XCTUnwrap(again.snapshot()?.ownSeq), seqBefore, "a restart never reuses a seq")
    }

    func testCommandsReachTheNode() throws {
        let a = Harness.node()
        try a.start()
        let b = Harness.node()
        try b.start()
        defer { a.stop(); b.stop() }
        let keyA = try XCTUnwrap(a.snapshot()?.identity)
        let keyB = try XCTUnwrap(b.snapshot()?.identity)
        XCTAssertTrue(b.send(.connect(try XCTUnwrap(a.boundAddresses.first))))
        XCTAssertTrue(Harness.wait { b.snapshot()?.readyPeers == [keyA] })
        let events = EventLog()
        a.subscribe { events.append($0) }
        XCTAssertTrue(a.send(.disconnect(keyB)))
        XCTAssertTrue(Harness.wait {
            events.all.contains { if case let .disconnected(_, key, _) = $0 { key == keyB } else { false } }
        })
    }

    func testReloadKeepsTheOldConfigurationWhenTheNewOneIsInvalid() throws {
        let answers = ReloadAnswers()
        let logs = LogCollector()
        let node = Harness.node(logs: logs) { configuration in
            configuration.onReload = { answers.next() }
        }
        let events = EventLog()
        node.subscribe { events.append($0) }
        try node.start()
        defer { node.stop() }
        let seq = try XCTUnwrap(node.snapshot()?.ownSeq)

        answers.set(nil)
        XCTAssertTrue(node.reload())
        XCTAssertTrue(Harness.wait { logs.contains("reload rejected: the new configuration is invalid; keeping the current one") })
        XCTAssertEqual(node.snapshot()?.ownSeq, seq)

        var changed = Harness.config()
        let extra = try Multiaddr("/ip4/127.0.0.2/tcp/4001")
        changed.advertisedAddresses = try [XCTUnwrap(node.boundAddresses.first), extra]
        answers.set(changed)
        XCTAssertTrue(node.reload())
        XCTAssertTrue(Harness.wait { node.snapshot()?.advertisedAddresses.contains(extra) == true })
        XCTAssertGreaterThan(try XCTUnwrap(node.snapshot()?.ownSeq), seq, "new addresses, new record")

        // Empty advertised addresses in a reloaded configuration mean the listeners' again.
        answers.set(Harness.config())
        XCTAssertTrue(node.reload())
        XCTAssertTrue(Harness.wait { node.snapshot()?.advertisedAddresses == node.boundAddresses })
    }

    func testSignalsReloadAndStop() throws {
        let answers = ReloadAnswers()
        let node = Harness.node { configuration in
            configuration.handleSignals = true
            configuration.onReload = { answers.next() }
        }
        try node.start()
        kill(getpid(), SIGHUP)
        XCTAssertTrue(Harness.wait { answers.calls == 1 }, "SIGHUP asked for the configuration")
        kill(getpid(), SIGTERM)
        XCTAssertTrue(Harness.wait { !node.isRunning }, "SIGTERM stopped the node")
        XCTAssertNil(node.loopCloseError)
        XCTAssertEqual(node.snapshot()?.state, .stopped)
    }

    func testReloadWithoutHookIsLogged() throws {
        let logs = LogCollector()
        let node = Harness.node(logs: logs)
        try node.start()
        defer { node.stop() }
        XCTAssertTrue(node.reload())
        XCTAssertTrue(Harness.wait { logs.contains("reload requested but no reload hook is set") })
    }

    func testRunBlocksUntilStopFromAnotherThread() throws {
        let node = Harness.node()
        let finished = Flag()
        let thread = Thread {
            try? node.run()
            finished.set()
        }
        thread.start()
        XCTAssertTrue(Harness.wait { node.isRunning })
        XCTAssertFalse(finished.value)
        node.stop()
        XCTAssertTrue(Harness.wait { finished.value })
        XCTAssertNil(node.loopCloseError)
        XCTAssertThrowsError(try node.run()) { XCTAssertEqual($0 as? RuntimeError, .alreadyStarted) }
    }

    func testStopFromAnEventHandlerOnTheLoopThread() throws {
        let node = Harness.node()
        node.subscribe { [node] event in
            if case .ownRecordChanged = event, node.isRunning {
                // Runs on the loop thread: a snapshot is taken in place, stop() must not block.
                _ = node.snapshot()
                node.stop()
            }
        }
        try node.start()
        XCTAssertTrue(node.reload())  // no hook: harmless, just a turn of the loop
        XCTAssertTrue(node.send(.reload({ var c = Harness.config(); c.advertisedAddresses = [try! Multiaddr("/ip4/127.0.0.3/tcp/1")]; return c }())))
        XCTAssertTrue(Harness.wait { !node.isRunning })
        XCTAssertNil(node.loopCloseError)
    }

    func testStartFailures() throws {
        let a = Harness.node()
        try a.start()
        defer { a.stop() }
        let taken = try XCTUnwrap(a.boundAddresses.first)
        let clash = Harness.node { $0.listenAddresses = [taken] }
        XCTAssertThrowsError(try clash.start()) { XCTAssertEqual(($0 as? RuntimeError)?.libuvName, "EADDRINUSE") }
        XCTAssertFalse(clash.isRunning)

        let named = Harness.node { $0.listenAddresses = [try! Multiaddr("/dns4/localhost/tcp/0")] }
        XCTAssertThrowsError(try named.start()) {
            guard case .unsupportedListenAddress? = $0 as? RuntimeError else { return XCTFail("\($0)") }
        }

        // Loopback is not advertisable outside lab mode, and nothing else is bound.
        let notLab = Harness.node { $0.node.labMode = false }
        XCTAssertThrowsError(try notLab.start()) { XCTAssertEqual($0 as? RuntimeError, .noAdvertisableAddress) }

        let broken = Harness.node(store: FailingStore(failLoad: true))
        XCTAssertThrowsError(try broken.start()) {
            guard case .store? = $0 as? RuntimeError else { return XCTFail("\($0)") }
        }
    }

    func testStoreFailuresAreRetriedAndLogged() throws {
        let store = FailingStore(failLoad: false, failApplies: 3)
        let logs = LogCollector()
        let node = Harness.node(store: store, logs: logs)
        try node.start()
        XCTAssertTrue(Harness.wait { store.applied.contains { if case .ownSeq = $0 { true } else { false } } },
                      "the batch that failed was written later")
        XCTAssertTrue(logs.contains("store write failed; will retry"))
        node.stop()
        XCTAssertEqual(node.snapshot()?.pendingChanges, 0)
    }

    func testUnspecifiedListenAddressAdvertisesInterfaces() throws {
        let node = Harness.node { $0.listenAddresses = [try! Multiaddr("/ip4/0.0.0.0/tcp/0")] }
        try node.start()
        defer { node.stop() }
        let port = try XCTUnwrap(node.boundAddresses.first?.port)
        let advertised = try XCTUnwrap(node.snapshot()?.advertisedAddresses)
        XCTAssertTrue(advertised.contains(try Multiaddr("/ip4/127.0.0.1/tcp/\(port)")), "\(advertised)")
        XCTAssertTrue(advertised.allSatisfy { $0.port == port && $0.isDialable })
    }

    func testAdvertisableSkipsLocalAddressesOutsideLabMode() throws {
        let bound = [SocketAddress(ip: IPAddress(ipv4: 127, 0, 0, 1), port: 5),
                     SocketAddress(ip: IPAddress(ipv4: 8, 8, 8, 8), port: 5),
                     SocketAddress(ip: IPAddress(ipv4: 8, 8, 8, 8), port: 5)]
        XCTAssertEqual(Driver.advertisable(bound, lab: false).map(\.text), ["/ip4/8.8.8.8/tcp/5"])
        XCTAssertEqual(Driver.advertisable(bound, lab: true).count, 2)
    }

    func testMemoryStoreAppliesEveryChange() throws {
        let store = MemoryStore()
        let key = KeyPair.generate()
        let record = try SignedPeerRecord.create(
            keyPair: key, seq: 1, addresses: [try Multiaddr("/ip4/1.2.3.4/tcp/1")], networkID: Harness.network,
            expiresAt: UInt64(Date().timeIntervalSince1970) + 3600, crypto: SodiumCrypto())
        let now = Instant(nanoseconds: 1)
        var peer = StoredPeer(record: record, sourceGroup: [1], addedAt: now, lastSeen: now, lastTry: nil,
                              lastSuccess: nil, attempts: 0, tried: false, protected: false)
        let ban = BanEntry(subject: .key(key.publicKey), until: now, reason: "test")
        store.apply([.upsertPeer(peer), .ban(ban), .ownSeq(7), .ownSeq(3), .bucketKey([9]),
                     .equivocation(key.publicKey, [record])])
        peer.attempts = 2
        store.apply([.upsertPeer(peer)])
        XCTAssertEqual(store.load().peers, [peer])
        XCTAssertEqual(store.contents.bans, [ban])
        XCTAssertEqual(store.contents.ownSeq, 7, "seq never goes back")
        XCTAssertEqual(store.contents.bucketKey, [9])
        XCTAssertEqual(store.equivocations[key.publicKey], [record])
        store.apply([.removePeer(key.publicKey), .unban(.key(key.publicKey))])
        XCTAssertEqual(store.contents.peers, [])
        XCTAssertEqual(store.contents.bans, [])
        XCTAssertEqual(store.batchCount, 3)
    }
}

/// Answers for the reload hook, set by the test.
final class ReloadAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private var answer: NodeConfig?
    private var count = 0
    func set(_ config: NodeConfig?) { lock.withLock { answer = config } }
    func next() -> NodeConfig? { lock.withLock { count += 1; return answer } }
    var calls: Int { lock.withLock { count } }
}

/// A store that fails on purpose.
final class FailingStore: PersistSink, @unchecked Sendable {
    struct Failure: Error {}
    private let lock = NSLock()
    private let failLoad: Bool
    private var failApplies: Int
    private var written: [PersistChange] = []

    init(failLoad: Bool, failApplies: Int = 0) {
        self.failLoad = failLoad
        self.failApplies = failApplies
    }

    func apply(_ changes: [PersistChange]) throws {
        try lock.withLock {
            if failApplies > 0 {
                failApplies -= 1
                throw Failure()
            }
            written += changes
        }
    }

    func load() throws -> PersistedState {
        if failLoad { throw Failure() }
        return PersistedState()
    }

    var applied: [PersistChange] { lock.withLock { written } }
}

/// A plain blocking TCP client that speaks no pex.
final class RawClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw XCTSkip("connect failed: \(errno)") }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until EOF or a reset, at most `timeout` seconds.
    func readUntilClosed(timeout: Int) -> (closed: Bool, bytes: Int) {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { total += n; continue }
            if n == 0 { return (true, total) }
            return (errno == ECONNRESET, total)
        }
    }
}
