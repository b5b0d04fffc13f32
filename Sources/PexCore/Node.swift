import PexWire

/// The pex protocol for one node, as a sans-IO state machine.
///
/// Drive it with `handle(_:now:)`, then drain `pollOutput()` until it returns `nil`, and call
/// `handle(.tick, now:)` no later than `nextDeadline()`. It reads no clock, does no I/O and
/// takes all randomness from the generator it was given, so the same inputs with the same seed
/// give the same outputs — in tests, in the simulator and on a real node alike.
///
/// Methods are grouped as in quinn-proto: getters, `handle` (inputs), commands (as inputs),
/// `pollOutput`/`nextDeadline` (outputs), then the private machinery by concern.
public struct Node {
    // MARK: State

    public internal(set) var config: NodeConfig
    public let identity: KeyPair
    public internal(set) var state: NodeState = .bootstrapping
    public internal(set) var metrics = NodeMetrics()
    /// Our current signed record.
    public internal(set) var ownRecord: SignedPeerRecord?
    public internal(set) var ownSeq: UInt64 = 0
    /// `expiresAt` of `ownRecord` (Unix seconds), kept so the refresh check need not decode it.
    var ownExpiresAt: UInt64 = 0

    let crypto: any CryptoProvider
    var random: AnyRandom
    var book: AddressBook
    var validator: RecordValidator
    var seen: SeenCache
    var syncLog: SyncLog
    var fullListCache: FullListCache
    var misbehaviour: MisbehaviourTracker
    var bans: BanList
    var connections = ConnectionTable()
    /// Connection ids in creation order: walks over connections use this (determinism). A
    /// snapshot: closing connections while walking it is safe.
    var connectionOrder: [ConnectionID] { connections.ids }
    var cursors: [PublicKey: SyncCursor] = [:]
    var outputs: [Output] = []
    var outputIndex = 0
    var nextConnection: UInt64 = 1
    var nextQuery: UInt64 = 1
    var nextRequestID: UInt64 = 1
    var started = false
    var now: Instant
    var initialSyncDone = false
    /// While the records of one message are handled: the relays they cause, per target, sent
    /// together when the message is done (`flushRelays`).
    var relayBatch: RelayBatch?
    /// The peer our latest feeler completed a handshake with, and when: if that peer dials us
    /// back (§15.4), we pull from it although the connection is inbound.
    var lastFeelerPeer: (key: PublicKey, at: Instant)?
    var bootstrap: BootstrapSources
    /// When a node with a peer but an exhausted address book last went back to its bootstrap
    /// sources (§15.2): at most once per `feelerInterval`.
    var lastTopUpFetch: Instant?
    var pendingQueries: [QueryID: QueryPurpose] = [:]
    var nextSyncAt: Instant
    var nextFeelerAt: Instant
    var nextMaintenanceAt: Instant
    /// Addresses that turned out to be ourselves: never dialled again.
    var ownAddresses: Set<Multiaddr> = []
    var evidence: [PublicKey: [SignedPeerRecord]] = [:]
    var evidenceOrder: [PublicKey] = []
    static let maxEvidenceKeys = 256
    static let maxCursors = 4096
    /// No book entry expires (and no collision times out) before this; lowered on every insert.
    var bookExpiryDue = Instant(nanoseconds: 0)

    /// Creates a node. Feed it `.loaded(state)` first.
    ///
    /// - Parameters:
    ///   - config: Configuration; `advertisedAddresses` must hold 1 to 10 dialable addresses.
    ///   - identity: The node's key pair.
    ///   - crypto: Signing and verification (`SodiumCrypto` on real nodes).
    ///   - random: The node's randomness: the system CSPRNG on real nodes, a `SeededRandom` in tests.
    ///   - now: The current time.
    ///   - parser: Decodes received records. A real node keeps the default; a simulator may share
    ///     one `MemoizingRecordParser` among its nodes.
    public init(config: NodeConfig, identity: KeyPair, crypto: any CryptoProvider,
                random: any RandomNumberGenerator, now: Instant, parser: any RecordParser = DirectRecordParser()) {
        self.config = config
        self.identity = identity
        self.crypto = crypto
        self.now = now
        var rng = AnyRandom(random)
        let bucketKey = rng.bytes(32)
        let epoch = rng.next()
        // Nodes started together must not feel in lockstep (every refresh feeler of a federation
        // at the same instant): the first feeler comes at a random point of the first interval.
        let feelerPhase = rng.jitter(upTo: config.feelerInterval)
        self.random = rng
        let hash: @Sendable ([UInt8]) -> [UInt8] = { [crypto] in crypto.hash256($0) }
        book = AddressBook(config: config.addressBook, secret: bucketKey, hash: hash)
        validator = RecordValidator(policy: Self.policy(config), crypto: crypto,
                                    signatureCacheCapacity: config.signatureCacheCapacity, parser: parser)
        seen = SeenCache(capacity: config.seenCacheCapacity)
        syncLog = SyncLog(epoch: epoch)
        fullListCache = FullListCache(window: config.fullListCacheWindow)
        misbehaviour = MisbehaviourTracker(config: config.misbehaviour)
        bans = BanList(capacity: config.maxBans)
        bootstrap = BootstrapSources(config: config)
        nextSyncAt = now
        nextFeelerAt = now + feelerPhase
        nextMaintenanceAt = now
        self.bucketKey = bucketKey
    }

    /// The bucketing key generated at construction, persisted unless the store already had one.
    let bucketKey: [UInt8]

    static func policy(_ config: NodeConfig) -> ValidationPolicy {
        ValidationPolicy(networkID: config.networkID, roster: config.roster, labMode: config.labMode)
    }

    // MARK: Getters

    /// Ready connections' peers, in connection order.
    public var readyPeers: [PublicKey] {
        connectionOrder.compactMap { connections[$0].flatMap { $0.isReady ? $0.peerKey : nil } }
    }

    /// Every record in the address book, sorted by key.
    public var knownRecords: [VerifiedPeerRecord] { book.entries.map(\.record) }

    /// Number of records in the address book (`knownRecords.count`, without building the list).
    public var knownRecordCount: Int { book.count }

    /// The address book entry of `key`.
    public func entry(for key: PublicKey) -> BookEntry? { book.entry(for: key) }

    /// Number of open connections (any phase) by direction.
    public func connectionCount(_ direction: Direction) -> Int {
        // Read in place: the simulator's invariant checker asks this after every input.
        let values = connections.values
        var count = 0
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].direction == direction && values[i].phase != .closing { count += 1 }
            values.formIndex(after: &i)
        }
        return count
    }

    /// Whether `subject` is banned now.
    public func isBanned(_ subject: BanSubject) -> Bool { bans.isBanned(subject, now: now) }

    /// Internal consistency checks for tests, fuzzers and the simulator: empty when all hold.
    public func checkInvariants() -> [String] {
        var problems = book.checkInvariants()
        // Eviction keeps ready inbound connections within maxInbound (§14.6); handshakes are
        // bounded separately by maxPendingHandshakes.
        let readyInbound = connections.values.filter { $0.direction == .inbound && $0.isReady }.count
        if readyInbound > config.maxInbound { problems.append("ready inbound connections over maxInbound: \(readyInbound)") }
        for key in readyPeers where bans.isBanned(.key(key), now: now) {
            problems.append("banned key \(key) has a ready connection")
        }
        // One sorted listing for both checks (sorted so that the problems come in a stable order).
        let entries = book.entries
        if let roster = config.roster {
            for entry in entries where !roster.contains(entry.publicKey) {
                problems.append("non-member \(entry.publicKey) stored in roster mode")
            }
        }
        for entry in entries where entry.record.expiresAt <= now.unixSeconds {
            problems.append("expired record of \(entry.publicKey) stored")
        }
        return problems
    }

    /// A fresh handle for a socket the driver has just accepted.
    public mutating func newConnectionID() -> ConnectionID {
        defer { nextConnection += 1 }
        return ConnectionID(raw: nextConnection)
    }

    // MARK: Inputs

    /// Processes one input at time `now`. Drain `pollOutput()` afterwards.
    ///
    /// - Parameters:
    ///   - input: What happened.
    ///   - now: The current time; earlier than a previous `now` is treated as that previous `now`.
    public mutating func handle(_ input: Input, now: Instant) {
        if now > self.now { self.now = now }
        if state == .stopped { return }
        if !started {
            started = true
            if case let .loaded(stored) = input {
                load(stored)
            } else {
                load(PersistedState())
            }
            startUp()
            if case .loaded = input { return }
        }
        switch input {
        case .loaded:
            break  // only meaningful first
        case let .accepted(id, remote):
            accept(id, remote: remote)
        case let .connected(id):
            connected(id)
        case let .dialFailed(id, reason):
            dialFailed(id, reason: reason)
        case let .received(id, bytes):
            receive(id, bytes)
        case let .closed(id, reason):
            transportClosed(id, reason: reason)
        case let .resolved(query, addresses):
            resolved(query, addresses: addresses)
        case let .resolveFailed(query, reason):
            resolveFailed(query, reason: reason)
        case .tick:
            break
        case let .command(command):
            execute(command)
        }
        if state != .stopped { runTimers() }
    }

    // MARK: Outputs

    /// The next thing the driver must do, or `nil` when there is nothing left.
    public mutating func pollOutput() -> Output? {
        guard outputIndex < outputs.count else {
            if !outputs.isEmpty { outputs.removeAll(keepingCapacity: true); outputIndex = 0 }
            return nil
        }
        defer { outputIndex += 1 }
        return outputs[outputIndex]
    }

    /// When the node next needs a `.tick`, or `nil` when it is stopped.
    public func nextDeadline() -> Instant? {
        guard state != .stopped else { return nil }
        var deadline = min(nextSyncAt, nextMaintenanceAt, nextFeelerAt)
        if !hasReadyPeer, let retry = bootstrap.nextAttempt(after: now) { deadline = min(deadline, retry) }
        // This runs after every input: the connections are read in place, never copied.
        let values = connections.values
        var i = values.startIndex
        while i != values.endIndex {
            deadline = min(deadline, connectionDeadline(values[i]))
            values.formIndex(after: &i)
        }
        return max(deadline, now)
    }

    /// The phase of a connection (read in place, as every `connections[id]?.field`).
    func phase(of id: ConnectionID) -> Connection.Phase? {
        connections[id]?.phase
    }

    /// The peer key of a connection.
    func peerKey(of id: ConnectionID) -> PublicKey? {
        connections[id]?.peerRecord?.publicKey
    }

    /// Whether the peer on a connection is known to hold `key` at `seq` or later.
    func knownHolds(_ id: ConnectionID, _ key: PublicKey, seq: UInt64) -> Bool {
        connections[id]?.known.holds(key, seq: seq) ?? false
    }

    /// Whether any connection is ready (`!readyPeers.isEmpty`, without building the list).
    var hasReadyPeer: Bool {
        let values = connections.values
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].phase == .ready { return true }
            values.formIndex(after: &i)
        }
        return false
    }

    /// Whether some connection's timer (`connectionDeadline`) has passed, read in place.
    var anyConnectionDue: Bool {
        let values = connections.values
        var i = values.startIndex
        while i != values.endIndex {
            if now >= connectionDeadline(values[i]) { return true }
            values.formIndex(after: &i)
        }
        return false
    }

    func connectionDeadline(_ c: Connection) -> Instant {
        switch c.phase {
        case .dialing, .awaitingHello, .awaitingAuth:
            return c.openedAt + config.handshakeTimeout
        case .ready:
            var d = min(c.lastReceived + config.idleTimeout, keepaliveDue(c))
            if c.pingNonce != nil { d = c.lastReceived + config.idleTimeout }
            if let pending = c.pending { d = min(d, pending.sentAt + config.requestTimeout) }
            return d
        case .closing:
            return c.lastReceived + config.handshakeTimeout
        }
    }

    /// When a silent ready connection gets a `Ping`: `pingInterval` after the last bytes received,
    /// later when those bytes were the `Pong` to our own `Ping`.
    ///
    /// Both ends ping after `pingInterval` of silence. The end that answered a `Ping` starts
    /// that wait one trip before the pinger (whose wait restarts only when the `Pong` arrives),
    /// so its `Ping` reached the pinger just as the pinger's own timer fired, and the two
    /// `Ping`s often crossed: about 3 `Ping`s per link and sync interval instead of 2. Waiting
    /// half an interval longer after our `Ping` was answered (still well before the idle
    /// timeout) makes the ends take turns: one `Ping` per `pingInterval` on the link, each end
    /// pinging every other time, which also keeps each end within its peer's `ping` rate limit.
    func keepaliveDue(_ c: Connection) -> Instant {
        let due = c.lastReceived + config.pingInterval
        guard c.pongReceivedAt == c.lastReceived else { return due }
        let slack = config.idleTimeout.nanoseconds > config.pingInterval.nanoseconds
            ? (config.idleTimeout.nanoseconds - config.pingInterval.nanoseconds) / 2 : 0
        return due + TimeSpan(nanoseconds: min(config.pingInterval.nanoseconds / 2, slack))
    }

    // MARK: Emitting

    mutating func emit(_ output: Output) { outputs.append(output) }
    mutating func event(_ e: Event) { emit(.event(e)) }
    mutating func persist(_ change: PersistChange) { emit(.persist(change)) }

    mutating func setState(_ new: NodeState) {
        guard new != state else { return }
        let old = state
        state = new
        metrics.stateChanges += 1
        event(.stateChanged(from: old, to: new))
    }
}
