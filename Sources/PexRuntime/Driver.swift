import CLibUV
import Foundation
import Logging
import PexCore
import PexWire

/// The wall clock. Records carry Unix time, so the core runs on it; deadlines tolerate steps
/// backwards because the core never lets its `now` go back.
enum WallClock {
    static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let seconds = UInt64(max(spec.tv_sec, 0))
        return Instant(nanoseconds: seconds &* 1_000_000_000 &+ UInt64(max(spec.tv_nsec, 0)))
    }
}

/// Feeds one `PexCore.Node` from one `EventLoop`, and performs what it asks.
///
/// After each libuv callback: one `now`, `node.handle(input, now:)`, every output performed
/// (inputs those produce wait in `deferred` and run in the same turn; the frames for one
/// connection leave as one write at the end of the turn), the timer re-armed to
/// `nextDeadline()`. Persistence changes are written once per loop iteration, from a check
/// handle. Everything here runs on the loop thread.
final class Driver {
    let loop: EventLoop
    private(set) var node: Node
    private let store: any PersistSink
    private let logger: Logger
    private let limits: TransportLimits
    private let deliver: (Event) -> Void
    private let reloadHook: (@Sendable () -> NodeConfig?)?
    /// Addresses the listeners are bound to (ports resolved).
    let boundAddresses: [Multiaddr]
    /// What the node advertises when the configuration names nothing.
    let defaultAdvertised: [Multiaddr]
    private var listeners: [TCPListener]
    private var streams: [ConnectionID: TCPStream] = [:]
    /// Outbound connections whose failure was reported as `.dialFailed`; their close is not
    /// reported again as `.closed`.
    private var failedDials: Set<ConnectionID> = []
    private var queries: [QueryID: DNSQuery] = [:]
    private var timer: TimerHandle?
    private var check: CheckHandle?
    private var signals: [SignalHandle] = []
    /// The admin socket server, when the configuration names a path.
    private(set) var adminServer: AdminServer?
    /// When the node started, for the admin status' uptime.
    let startedAt: Instant
    private var pendingChanges: [PersistChange] = []
    private var deferred: [Input] = []
    private var processing = false
    /// Frames the core sent during the current input, per connection, in order: one read that
    /// carries many requests is answered with one write instead of one per frame.
    private var unflushed: [ConnectionID: [UInt8]] = [:]
    private var unflushedOrder: [ConnectionID] = []
    /// `.send` outputs performed and stream writes submitted since start: without the
    /// coalescing above they would be equal (tests check that they are not).
    private(set) var framesSent = 0
    private(set) var streamWrites = 0
    private var now: Instant
    private(set) var shuttingDown = false
    /// Failed `apply` calls in a row.
    private(set) var storeFailures = 0
    /// Past this many unwritten changes a failing store loses the oldest: memory stays bounded.
    static let maxPendingChanges = 100_000

    /// Binds the listeners, loads the store and starts the node.
    ///
    /// - Parameters:
    ///   - loop: The loop, on whose thread this is called.
    ///   - configuration: The node's configuration.
    ///   - deliver: Receives every event, on the loop thread.
    /// - Throws: `RuntimeError` when a listener cannot bind, no address can be advertised, or
    ///   the store cannot load.
    init(loop: EventLoop, configuration: PexNode.Configuration, deliver: @escaping (Event) -> Void) throws(RuntimeError) {
        self.loop = loop
        store = configuration.store
        logger = configuration.logger
        limits = configuration.transport
        reloadHook = configuration.onReload
        self.deliver = deliver
        now = WallClock.now()
        startedAt = now

        var listeners: [TCPListener] = []
        do throws(RuntimeError) {
            for address in configuration.listenAddresses {
                listeners.append(try TCPListener(loop: loop, address: try SocketAddress(listening: address),
                                                 limits: configuration.transport))
            }
        } catch {
            for listener in listeners { listener.close() }
            throw error
        }
        self.listeners = listeners
        let bound = listeners.compactMap { $0.boundAddress }
        boundAddresses = bound.compactMap(\.multiaddr)
        defaultAdvertised = Self.advertisable(bound, lab: configuration.node.labMode)

        var config = configuration.node
        if config.advertisedAddresses.isEmpty { config.advertisedAddresses = defaultAdvertised }
        let stored: PersistedState
        do {
            guard !config.advertisedAddresses.isEmpty else { throw RuntimeError.noAdvertisableAddress }
            stored = try store.load()
        } catch {
            for listener in listeners { listener.close() }
            throw (error as? RuntimeError) ?? .store("load failed: \(error)")
        }
        node = Node(config: config, identity: configuration.identity, crypto: configuration.crypto,
                    random: SystemRandomNumberGenerator(), now: now)

        do throws(RuntimeError) {
            timer = try TimerHandle(loop: loop) { [weak self] in self?.input(.tick) }
            check = try CheckHandle(loop: loop) { [weak self] in self?.flush() }
            if configuration.handleSignals {
                for signal in [SIGINT, SIGTERM] {
                    signals.append(try SignalHandle(loop: loop, signal: signal) { [weak self] number in
                        self?.logger.notice("signal received, shutting down", metadata: ["signal": "\(number)"])
                        self?.beginShutdown()
                    })
                }
                signals.append(try SignalHandle(loop: loop, signal: SIGHUP) { [weak self] _ in self?.reload() })
            }
            if let path = configuration.adminSocketPath {
                adminServer = try AdminServer(loop: loop, path: path, snapshot: { [unowned self] in
                    self.adminSnapshot()
                }, apply: { [weak self] command in
                    self?.input(.command(command))
                })
            }
        } catch {
            closeHandles()
            throw error
        }
        for listener in listeners {
            listener.onAccept = { [weak self] stream in self?.accept(stream) }
        }
        logger.info("listening", metadata: [
            "peer": "\(configuration.identity.publicKey)",
            "addresses": "\(boundAddresses.map(\.text))",
            "advertised": "\(config.advertisedAddresses.map(\.text))",
        ])
        input(.loaded(stored))
    }

    /// Addresses peers could dial: bound ones, with an unspecified address (0.0.0.0, ::)
    /// replaced by the interfaces' addresses of its family. Loopback only in lab mode.
    static func advertisable(_ bound: [SocketAddress], lab: Bool) -> [Multiaddr] {
        var result: [Multiaddr] = []
        func add(_ address: SocketAddress) {
            guard let multiaddr = address.multiaddr, multiaddr.isDialable, !result.contains(multiaddr) else { return }
            guard lab || !address.ip.isLocal else { return }
            result.append(multiaddr)
        }
        for address in bound {
            if address.isUnspecified {
                for ip in interfaceAddresses() where ip.isIPv4 == address.ip.isIPv4 {
                    add(SocketAddress(ip: ip, port: address.port))
                }
            } else {
                add(address)
            }
        }
        return Array(result.prefix(WireLimits.maxAddressesPerRecord))
    }

    /// Every interface address of this host (`uv_interface_addresses`).
    static func interfaceAddresses() -> [IPAddress] {
        var interfaces: UnsafeMutablePointer<uv_interface_address_t>?
        var count: Int32 = 0
        guard uv_interface_addresses(&interfaces, &count) == 0, let interfaces else { return [] }
        defer { uv_free_interface_addresses(interfaces, count) }
        var result: [IPAddress] = []
        for index in 0..<Int(count) {
            // The address union starts with the family, as every sockaddr does.
            let address = withUnsafeBytes(of: interfaces[index].address) { $0.baseAddress.flatMap(SocketAddress.init) }
            if let ip = address?.ip, !result.contains(ip) { result.append(ip) }
        }
        return result
    }

    // MARK: Inputs

    /// Hands one input to the node and performs everything it asks. Inputs that arise while
    /// outputs are being performed are queued and handled before returning.
    func input(_ input: Input) {
        if processing {
            deferred.append(input)
            return
        }
        processing = true
        now = WallClock.now()
        var next: Input? = input
        while let current = next {
            node.handle(current, now: now)
            while let output = node.pollOutput() { perform(output) }
            next = deferred.isEmpty ? nil : deferred.removeFirst()
        }
        flushWrites()
        processing = false
        rearm()
    }

    private func rearm() {
        guard let timer, !timer.isClosing else { return }
        guard let deadline = node.nextDeadline() else { return timer.stop() }
        let wait = deadline - now
        // Rounded up, and at least 1 ms: a deadline the core has not moved past yet must not
        // turn into a busy loop.
        timer.start(milliseconds: max((wait.nanoseconds + 999_999) / 1_000_000, 1))
    }

    // MARK: Outputs

    private func perform(_ output: Output) {
        switch output {
        case let .dial(id, address):
            dial(id, address)
        case let .send(id, bytes):
            framesSent += 1
            if unflushed[id] == nil {
                unflushed[id] = bytes
                unflushedOrder.append(id)
            } else {
                unflushed[id]?.append(contentsOf: bytes)
            }
        case let .close(id):
            // What was sent before the close goes out before the shutdown.
            flushWrites(of: id)
            streams[id]?.closeGracefully(reason: "closed by us")
        case let .resolve(query, name, family):
            resolve(query, name: name, family: family)
        case let .persist(change):
            pendingChanges.append(change)
        case let .event(event):
            log(event)
            deliver(event)
        }
    }

    private func flushWrites(of id: ConnectionID) {
        guard let bytes = unflushed.removeValue(forKey: id) else { return }
        if streams[id]?.write(bytes) == true { streamWrites += 1 }
    }

    private func flushWrites() {
        for id in unflushedOrder { flushWrites(of: id) }
        unflushedOrder.removeAll(keepingCapacity: true)
    }

    private func dial(_ id: ConnectionID, _ address: Multiaddr) {
        do throws(RuntimeError) {
            let target = try SocketAddress(dialing: address)
            let stream = try TCPStream(loop: loop, limits: limits)
            streams[id] = stream
            wire(stream, id)
            stream.onConnect = { [weak self, weak stream] error in
                guard let self else { return }
                if let error {
                    self.dialFailed(id, reason: error.description)
                    return
                }
                do {
                    try stream?.startReading()
                } catch {
                    stream?.close(reason: "\(error)")
                }
                self.input(.connected(id))
            }
            try stream.connect(to: target)
        } catch {
            dialFailed(id, reason: error.description)
        }
    }

    private func dialFailed(_ id: ConnectionID, reason: String) {
        logger.debug("dial failed", metadata: ["connection": "\(id)", "reason": "\(reason)"])
        if let stream = streams[id] {
            failedDials.insert(id)
            stream.close(reason: reason)
        }
        input(.dialFailed(id, reason: reason))
    }

    private func accept(_ stream: TCPStream) {
        guard !shuttingDown, let remote = stream.remoteAddress?.multiaddr else {
            return stream.close(reason: shuttingDown ? "shutting down" : "no peer address")
        }
        let id = node.newConnectionID()
        streams[id] = stream
        wire(stream, id)
        input(.accepted(id, remote: remote))
        do {
            try stream.startReading()
        } catch {
            stream.close(reason: error.description)
        }
    }

    private func wire(_ stream: TCPStream, _ id: ConnectionID) {
        stream.onRead = { [weak self] bytes in self?.input(.received(id, bytes)) }
        stream.onClose = { [weak self] reason in self?.streamClosed(id, reason: reason) }
    }

    private func streamClosed(_ id: ConnectionID, reason: String) {
        streams[id] = nil
        if failedDials.remove(id) != nil { return }
        input(.closed(id, reason: reason))
    }

    private func resolve(_ query: QueryID, name: String, family: AddressFamily) {
        do throws(RuntimeError) {
            queries[query] = try DNSQuery.start(loop: loop, name: name, family: family) { [weak self] result in
                guard let self else { return }
                self.queries[query] = nil
                switch result {
                case let .success(addresses) where !addresses.isEmpty:
                    self.input(.resolved(query, addresses: addresses))
                case .success:
                    self.input(.resolveFailed(query, reason: "\(name): no addresses"))
                case let .failure(error):
                    self.input(.resolveFailed(query, reason: error.description))
                }
            }
        } catch {
            input(.resolveFailed(query, reason: error.description))
        }
    }

    // MARK: Persistence

    /// Writes the changes collected since the last flush as one batch. On failure the batch is
    /// kept and tried again next iteration.
    func flush() {
        guard !pendingChanges.isEmpty else { return }
        do {
            try store.apply(pendingChanges)
            pendingChanges.removeAll(keepingCapacity: true)
            storeFailures = 0
        } catch {
            storeFailures += 1
            if storeFailures == 1 || storeFailures.isMultiple(of: 100) {
                logger.error("store write failed; will retry", metadata: [
                    "reason": "\(error)", "pending": "\(pendingChanges.count)", "failures": "\(storeFailures)",
                ])
            }
            if pendingChanges.count > Self.maxPendingChanges {
                pendingChanges.removeFirst(pendingChanges.count - Self.maxPendingChanges)
            }
        }
    }

    var pendingChangeCount: Int { pendingChanges.count }

    // MARK: Commands, reload, shutdown

    /// Re-reads the configuration through the reload hook; a `nil` answer (invalid
    /// configuration) keeps the current one.
    func reload() {
        guard let reloadHook else {
            logger.notice("reload requested but no reload hook is set")
            return
        }
        guard var config = reloadHook() else {
            logger.error("reload rejected: the new configuration is invalid; keeping the current one")
            return
        }
        if config.advertisedAddresses.isEmpty { config.advertisedAddresses = defaultAdvertised }
        logger.info("configuration reloaded")
        input(.command(.reload(config)))
    }

    /// Says goodbye to every peer (the core's Error frames drain before each close), writes
    /// the store, and closes every handle, so that `run()` returns once the last socket is gone.
    func beginShutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        logger.info("shutting down", metadata: ["connections": "\(streams.count)"])
        input(.command(.shutdown))
        for stream in streams.values { stream.closeGracefully(reason: "shutdown") }
        for query in queries.values { query.cancel() }
        flush()
        closeHandles()
    }

    /// What the admin service answers from: the live node, read now on the loop thread.
    func adminSnapshot() -> AdminSnapshot {
        AdminSnapshot(node: node, listenAddresses: boundAddresses, startedAt: startedAt, now: WallClock.now())
    }

    private func closeHandles() {
        adminServer?.close()
        for listener in listeners { listener.close() }
        for signal in signals { signal.close() }
        timer?.close()
        check?.close()
    }

    /// The last flush, once the loop has stopped.
    func finish() {
        flush()
    }

    /// Open TCP streams (any phase).
    var streamCount: Int { streams.count }

    // MARK: Logging

    private func log(_ event: Event) {
        switch event {
        case let .connected(id, key, direction, remote):
            logger.info("peer connected", metadata: [
                "peer": "\(key)", "connection": "\(id)", "direction": "\(direction.rawValue)", "remote": "\(remote)",
            ])
        case let .disconnected(id, key, reason):
            logger.info("peer disconnected", metadata: [
                "peer": "\(key.map(\.description) ?? "-")", "connection": "\(id)", "reason": "\(reason)",
            ])
        case let .stateChanged(from, to):
            logger.info("state changed", metadata: ["from": "\(from.rawValue)", "to": "\(to.rawValue)"])
        case let .banned(subject, until, reason):
            logger.warning("banned", metadata: ["subject": "\(subject)", "until": "\(until)", "reason": "\(reason)"])
        case let .misbehaviour(subject, offence, score):
            logger.notice("misbehaviour", metadata: ["subject": "\(subject)", "offence": "\(offence.rawValue)", "score": "\(score)"])
        case let .equivocation(key, seq):
            logger.warning("equivocation", metadata: ["peer": "\(key)", "seq": "\(seq)"])
        case let .allBootstrapUnreachable(retryIn):
            logger.warning("every bootstrap source is unreachable", metadata: ["retryIn": "\(retryIn)"])
        case let .recordRejected(reason, from):
            logger.debug("record rejected", metadata: ["peer": "\(from.map(\.description) ?? "-")", "reason": "\(reason)"])
        case let .peerEvicted(key, reason):
            logger.debug("peer evicted", metadata: ["peer": "\(key)", "reason": "\(reason)"])
        case .peerDiscovered, .peerUpdated, .ownRecordChanged, .syncCompleted:
            logger.trace("\(event)")
        }
    }
}
