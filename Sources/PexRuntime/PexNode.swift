import Dispatch
import Foundation
import Logging
import PexCore
import PexWire

/// A pex node on real sockets: the embedding API.
///
/// `start()` binds the listeners and runs the node's event loop on a thread the node owns —
/// the only thread that touches the loop, its sockets or the store. Every other method is safe
/// from any thread: they hand work to the loop thread and, where they return something, wait
/// for the answer.
///
/// ```swift
/// let node = PexNode(configuration: .init(node: config, identity: keys, listenAddresses: [listen]))
/// node.subscribe { event in print(event) }
/// try node.start()
/// defer { node.stop() }
/// ```
public final class PexNode: @unchecked Sendable {
    /// What a node needs to run.
    public struct Configuration {
        /// The protocol configuration. Empty `advertisedAddresses` are filled from the bound
        /// listeners (an unspecified listen address stands for the interfaces' addresses).
        public var node: NodeConfig
        /// The node's identity.
        public var identity: KeyPair
        /// Where to listen: `/ip4|ip6/<address>/tcp/<port>`; port 0 takes a free port.
        public var listenAddresses: [Multiaddr]
        /// Where the node's persistent state goes. Used only on the loop thread.
        public var store: any PersistSink
        /// Where logs go; lines carry peer keys, connection ids and reasons as metadata.
        public var logger: Logger
        /// Signing and verification.
        public var crypto: any CryptoProvider
        /// Socket buffers, backpressure thresholds and timeouts.
        public var transport: TransportLimits
        /// Whether SIGINT and SIGTERM stop the node gracefully and SIGHUP reloads the
        /// configuration. For daemons; a library embedding the node leaves signals alone.
        public var handleSignals: Bool
        /// Called on SIGHUP (or `reload()`) for the new configuration; returns `nil` when it is
        /// invalid, and the current one is kept. Runs on the loop thread.
        public var onReload: (@Sendable () -> NodeConfig?)?
        /// Where to serve the admin protocol (a unix socket, mode 0600, created at start and
        /// removed at stop; a stale file left by a killed node is replaced); `nil` for none.
        public var adminSocketPath: String?

        /// A configuration.
        ///
        /// - Parameters:
        ///   - node: The protocol configuration.
        ///   - identity: The node's key pair.
        ///   - listenAddresses: The listen addresses.
        ///   - store: Persistent state; an empty `MemoryStore` by default.
        ///   - logger: The logger.
        ///   - crypto: Signing and verification; libsodium by default.
        ///   - transport: Transport limits.
        ///   - handleSignals: Whether to handle SIGINT, SIGTERM and SIGHUP.
        ///   - onReload: The reload hook.
        ///   - adminSocketPath: Where to serve the admin protocol; `nil` for nowhere.
        public init(node: NodeConfig, identity: KeyPair, listenAddresses: [Multiaddr],
                    store: any PersistSink = MemoryStore(), logger: Logger = Logger(label: "pex"),
                    crypto: any CryptoProvider = SodiumCrypto(), transport: TransportLimits = TransportLimits(),
                    handleSignals: Bool = false, onReload: (@Sendable () -> NodeConfig?)? = nil,
                    adminSocketPath: String? = nil) {
            self.adminSocketPath = adminSocketPath
            self.node = node
            self.identity = identity
            self.listenAddresses = listenAddresses
            self.store = store
            self.logger = logger
            self.crypto = crypto
            self.transport = transport
            self.handleSignals = handleSignals
            self.onReload = onReload
        }
    }

    /// A consistent view of the node, taken on the loop thread.
    public struct Snapshot: Sendable, Equatable {
        /// The node's overall state.
        public var state: NodeState
        /// Our key.
        public var identity: PublicKey
        /// The seq of our current record.
        public var ownSeq: UInt64
        /// Peers with a finished handshake, in connection order.
        public var readyPeers: [PublicKey]
        /// Every record in the address book, sorted by key.
        public var knownRecords: [VerifiedPeerRecord]
        /// The node's counters.
        public var metrics: NodeMetrics
        /// Open inbound connections (any phase but closing).
        public var inbound: Int
        /// Open outbound connections (any phase but closing).
        public var outbound: Int
        /// TCP streams the runtime holds (closing ones included).
        public var openStreams: Int
        /// Where the listeners are bound.
        public var boundAddresses: [Multiaddr]
        /// What our record advertises.
        public var advertisedAddresses: [Multiaddr]
        /// Changes not yet written to the store.
        public var pendingChanges: Int
    }

    private enum Phase { case idle, starting, running, stopped }

    private let configuration: Configuration
    private let logger: Logger
    /// Guards everything below; waited on by `stop()` and `start()`.
    private let condition = NSCondition()
    private var phase = Phase.idle
    private var loop: EventLoop?
    /// Set and used only on the loop thread (set under the lock so other threads see `nil` or
    /// a running driver, never a half-built one).
    private var driver: Driver?
    private var loopThread: pthread_t?
    private var subscribers: [@Sendable (Event) -> Void] = []
    private var bound: [Multiaddr] = []
    private var lastSnapshot: Snapshot?
    private var closeError: RuntimeError?

    /// Creates a node; nothing runs before `start()` or `run()`.
    ///
    /// - Parameter configuration: The configuration.
    public init(configuration: Configuration) {
        self.configuration = configuration
        logger = configuration.logger
    }

    // MARK: Lifecycle

    /// Binds the listeners and runs the node on its own thread.
    ///
    /// Returns once the listeners are bound (see `boundAddresses`) and the store is loaded.
    /// - Throws: `RuntimeError.alreadyStarted`, or the error that kept the node from starting
    ///   (a listener that cannot bind, `noAdvertisableAddress`, a store that cannot load).
    public func start() throws(RuntimeError) {
        try claimStart()
        let ready = DispatchSemaphore(value: 0)
        let outcome = StartOutcome()
        let thread = Thread { [self] in
            self.loopMain { error in
                outcome.error = error
                ready.signal()
            }
        }
        thread.name = "pex-loop"
        thread.start()
        ready.wait()
        if let error = outcome.error { throw error }
    }

    /// Runs the node on the calling thread until `stop()` (from another thread or an event
    /// handler) or, with `handleSignals`, SIGINT or SIGTERM.
    ///
    /// - Throws: `RuntimeError` when the node cannot start, or `RuntimeError.libuv` from
    ///   `uv_loop_close` when the loop did not close cleanly.
    public func run() throws(RuntimeError) {
        try claimStart()
        var startError: RuntimeError?
        loopMain { startError = $0 }
        if let startError { throw startError }
        if let error = condition.withLock({ closeError }) { throw error }
    }

    /// Stops the node gracefully and waits until its loop has closed: every peer gets its
    /// goodbye, the store its last changes, every socket is closed. Safe from any thread and
    /// idempotent; called from an event handler (the loop thread) it starts the shutdown and
    /// returns at once.
    public func stop() {
        condition.lock()
        while phase == .starting { condition.wait() }
        guard phase == .running, let loop else {
            condition.unlock()
            return
        }
        if let loopThread, pthread_equal(loopThread, pthread_self()) != 0 {
            condition.unlock()
            driver?.beginShutdown()
            return
        }
        condition.unlock()
        loop.execute { [self] in self.driver?.beginShutdown() }
        condition.lock()
        while phase != .stopped { condition.wait() }
        condition.unlock()
    }

    /// The error `uv_loop_close` reported when the node stopped, if any: `nil` after a clean
    /// stop (every handle and request was released).
    public var loopCloseError: RuntimeError? { condition.withLock { closeError } }

    /// Whether the loop is running.
    public var isRunning: Bool { condition.withLock { phase == .running } }

    // MARK: Queries and commands

    /// Where the listeners are bound, with the real ports.
    public var boundAddresses: [Multiaddr] { condition.withLock { bound } }

    /// Registers `handler` for every event. Handlers run on the loop thread, in registration
    /// order: they must return quickly.
    ///
    /// - Parameter handler: The event handler.
    public func subscribe(_ handler: @escaping @Sendable (Event) -> Void) {
        condition.withLock { subscribers.append(handler) }
    }

    /// The node's state, peers, records and metrics, read on the loop thread.
    ///
    /// - Returns: The current view; after `stop()` the view taken at the end; `nil` before start.
    public func snapshot() -> Snapshot? {
        if isLoopThread { return driver.map(Self.snapshot) }
        let answer = SnapshotAnswer()
        let done = DispatchSemaphore(value: 0)
        let queued = condition.withLock { loop }?.execute { [self] in
            answer.value = self.driver.map(Self.snapshot)
            done.signal()
        } ?? false
        if queued {
            done.wait()
            if let value = answer.value { return value }
        }
        return condition.withLock { lastSnapshot }
    }

    /// Runs `body` with the driver on the loop thread (for tests of the driver's internals).
    ///
    /// - Returns: What `body` returned, or `nil` when the node is not running.
    func withDriver<T>(_ body: @escaping @Sendable (Driver) -> T) -> T? {
        if isLoopThread { return driver.map(body) }
        let answer = DriverAnswer<T>()
        let done = DispatchSemaphore(value: 0)
        let queued = condition.withLock { loop }?.execute { [self] in
            answer.value = self.driver.map(body)
            done.signal()
        } ?? false
        guard queued else { return nil }
        done.wait()
        return answer.value
    }

    /// Hands `command` to the node.
    ///
    /// - Parameter command: What to do.
    /// - Returns: `false` when the node is not running.
    @discardableResult
    public func send(_ command: Command) -> Bool {
        condition.withLock { loop }?.execute { [self] in self.driver?.input(.command(command)) } ?? false
    }

    /// Re-reads the configuration through `Configuration.onReload`, as SIGHUP does.
    ///
    /// - Returns: `false` when the node is not running.
    @discardableResult
    public func reload() -> Bool {
        condition.withLock { loop }?.execute { [self] in self.driver?.reload() } ?? false
    }

    // MARK: The loop thread

    private var isLoopThread: Bool {
        guard let loopThread = condition.withLock({ self.loopThread }) else { return false }
        return pthread_equal(loopThread, pthread_self()) != 0
    }

    private func claimStart() throws(RuntimeError) {
        condition.lock()
        defer { condition.unlock() }
        guard phase == .idle else { throw .alreadyStarted }
        phase = .starting
    }

    /// Builds the loop and the driver, reports the outcome through `ready`, runs the loop, and
    /// tears everything down once it returns.
    private func loopMain(ready: (RuntimeError?) -> Void) {
        let loop: EventLoop
        let driver: Driver
        do throws(RuntimeError) {
            loop = try EventLoop()
            do throws(RuntimeError) {
                condition.withLock { loopThread = pthread_self() }
                driver = try Driver(loop: loop, configuration: configuration) { [weak self] event in
                    self?.deliver(event)
                }
            } catch {
                try? loop.close()
                throw error
            }
        } catch {
            logger.error("node failed to start", metadata: ["reason": "\(error)"])
            condition.withLock {
                phase = .stopped
                loopThread = nil
                condition.broadcast()
            }
            ready(error)
            return
        }
        condition.withLock {
            self.loop = loop
            self.driver = driver
            bound = driver.boundAddresses
            phase = .running
            condition.broadcast()
        }
        ready(nil)

        loop.run()

        driver.finish()
        var error: RuntimeError?
        do {
            try loop.close()
        } catch let closeFailure {
            error = closeFailure
            logger.critical("event loop did not close cleanly", metadata: ["reason": "\(closeFailure)"])
        }
        let final = Self.snapshot(driver)
        condition.withLock {
            lastSnapshot = final
            closeError = error
            self.driver = nil
            self.loop = nil
            loopThread = nil
            phase = .stopped
            condition.broadcast()
        }
        logger.info("stopped")
    }

    private func deliver(_ event: Event) {
        let handlers = condition.withLock { subscribers }
        for handler in handlers { handler(event) }
    }

    private static func snapshot(_ driver: Driver) -> Snapshot {
        let node = driver.node
        return Snapshot(
            state: node.state, identity: node.identity.publicKey, ownSeq: node.ownSeq, readyPeers: node.readyPeers,
            knownRecords: node.knownRecords, metrics: node.metrics, inbound: node.connectionCount(.inbound),
            outbound: node.connectionCount(.outbound), openStreams: driver.streamCount,
            boundAddresses: driver.boundAddresses, advertisedAddresses: node.config.advertisedAddresses,
            pendingChanges: driver.pendingChangeCount)
    }
}

/// Carries `start()`'s outcome from the loop thread; written before the semaphore is signalled
/// and read after it is waited on.
private final class StartOutcome: @unchecked Sendable {
    var error: RuntimeError?
}

/// Carries a value from the loop thread, under the same semaphore discipline.
private final class DriverAnswer<T>: @unchecked Sendable {
    var value: T?
}

/// Carries a snapshot from the loop thread, under the same semaphore discipline.
private final class SnapshotAnswer: @unchecked Sendable {
    var value: PexNode.Snapshot?
}
