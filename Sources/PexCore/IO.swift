import PexWire

/// A connection's handle, assigned by the core (`Node.newConnectionID()` for inbound sockets,
/// `Output.dial` for outbound ones). The driver never invents one.
public struct ConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    public init(raw: UInt64) { self.raw = raw }
    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.raw < b.raw }
    public var description: String { "#\(raw)" }
}

/// Who opened a connection.
public enum Direction: String, Hashable, Sendable {
    case inbound, outbound
}

/// Why the node changed its overall state or what it reports to the application.
public enum NodeState: String, Hashable, Sendable {
    /// No ready peer: dialling persisted, bootstrap, DNS and fixed peers in that order.
    case bootstrapping
    /// At least one ready peer; the first full exchange is not finished yet.
    case initialSync
    /// Steady state: periodic delta syncs, announcements, feelers.
    case maintenance
    /// Shut down; every input is ignored.
    case stopped
}

/// Everything the driver tells the core. Pass `now` with each.
public enum Input: Sendable {
    /// The store's contents at start. Must be the first input; a node that sees another input
    /// first starts empty.
    case loaded(PersistedState)
    /// The driver accepted a socket; `id` comes from `Node.newConnectionID()`, `remote` is the
    /// peer's address (`/ip4/…/tcp/…`).
    case accepted(ConnectionID, remote: Multiaddr)
    /// An outbound dial (`Output.dial`) connected.
    case connected(ConnectionID)
    /// An outbound dial failed or timed out.
    case dialFailed(ConnectionID, reason: String)
    /// Bytes arrived, in any chunking.
    case received(ConnectionID, [UInt8])
    /// The transport closed (EOF, reset, write failure, or our own `Output.close` done).
    case closed(ConnectionID, reason: String)
    /// Answer to `Output.resolve`.
    case resolved(QueryID, addresses: [IPAddress])
    case resolveFailed(QueryID, reason: String)
    /// A deadline (`Node.nextDeadline()`) passed. Spurious ticks are harmless.
    case tick
    case command(Command)
}

/// What the application asks of the node.
public enum Command: Sendable {
    case addBootstrapPeer(Multiaddr)
    case removeBootstrapPeer(Multiaddr)
    /// Dial this address now (outside the outbound target).
    case connect(Multiaddr)
    /// Close every connection to this key.
    case disconnect(PublicKey)
    /// New configuration; connections stay up. Changed advertised addresses re-sign our record.
    case reload(NodeConfig)
    /// Drop every connection and the in-memory tables, then bootstrap again (bans are kept).
    case reset
    /// Say goodbye to every peer, close everything, stop.
    case shutdown
}

/// Handle of a DNS query.
public struct QueryID: Hashable, Comparable, Sendable {
    public let raw: UInt64
    public init(raw: UInt64) { self.raw = raw }
    public static func < (a: QueryID, b: QueryID) -> Bool { a.raw < b.raw }
}

/// DNS record family for `/dns4`, `/dns6` and `/dns`.
public enum AddressFamily: Sendable, Hashable {
    case any, ipv4, ipv6
}

/// Everything the core asks the driver to do. Drain with `Node.pollOutput()` after each input.
public enum Output: Sendable, Equatable {
    /// Open a TCP connection to `address` (`/ip4|ip6/…/tcp/…`); answer with `.connected` or `.dialFailed`.
    case dial(ConnectionID, address: Multiaddr)
    /// Write these bytes, in order, after those sent before.
    case send(ConnectionID, [UInt8])
    /// Close after the queued writes are flushed; answer with `.closed`.
    case close(ConnectionID)
    /// Resolve a DNS name; answer with `.resolved` or `.resolveFailed`.
    case resolve(QueryID, name: String, family: AddressFamily)
    /// Write this change to the store (a driver may batch a loop turn's worth in one transaction).
    case persist(PersistChange)
    case event(Event)
}

/// A change the store must apply to mirror the core.
public enum PersistChange: Sendable, Equatable {
    case upsertPeer(StoredPeer)
    case removePeer(PublicKey)
    case ban(BanEntry)
    case unban(BanSubject)
    /// The sync cursor a peer gave us, to ask it only for changes after a restart.
    case cursor(PublicKey, SyncCursor)
    /// The seq of our own latest record: a restart never reuses one.
    case ownSeq(UInt64)
    /// The address book's secret bucketing key, generated at first start. (The sync log's epoch
    /// is not persisted: positions are renumbered at each start, so a new epoch tells peers
    /// their old cursors no longer apply.)
    case bucketKey([UInt8])
    /// Two records of one key with the same seq: kept as evidence.
    case equivocation(PublicKey, [SignedPeerRecord])
}

/// A stored peer: its signed record and what the address book knows of it.
public struct StoredPeer: Sendable, Equatable {
    public var record: SignedPeerRecord
    public var sourceGroup: [UInt8]
    public var addedAt: Instant
    public var lastSeen: Instant
    public var lastTry: Instant?
    public var lastSuccess: Instant?
    public var attempts: Int
    public var tried: Bool
    public var protected: Bool

    public init(record: SignedPeerRecord, sourceGroup: [UInt8], addedAt: Instant, lastSeen: Instant,
                lastTry: Instant?, lastSuccess: Instant?, attempts: Int, tried: Bool, protected: Bool) {
        self.record = record
        self.sourceGroup = sourceGroup
        self.addedAt = addedAt
        self.lastSeen = lastSeen
        self.lastTry = lastTry
        self.lastSuccess = lastSuccess
        self.attempts = attempts
        self.tried = tried
        self.protected = protected
    }
}

/// What the store hands back at start.
public struct PersistedState: Sendable, Equatable {
    public var peers: [StoredPeer] = []
    public var bans: [BanEntry] = []
    public var cursors: [PublicKey: SyncCursor] = [:]
    public var ownSeq: UInt64 = 0
    public var bucketKey: [UInt8]?
    public init() {}
}

/// What the node reports to the application.
public enum Event: Sendable, Equatable {
    case stateChanged(from: NodeState, to: NodeState)
    case peerDiscovered(PublicKey, seq: UInt64, addresses: [Multiaddr])
    case peerUpdated(PublicKey, seq: UInt64, addresses: [Multiaddr])
    case peerEvicted(PublicKey, reason: String)
    case connected(ConnectionID, PublicKey, Direction, remote: Multiaddr)
    case disconnected(ConnectionID, PublicKey?, reason: String)
    case recordRejected(reason: String, from: PublicKey?)
    case misbehaviour(BanSubject, offence: Offence, score: Int)
    case banned(BanSubject, until: Instant, reason: String)
    case equivocation(PublicKey, seq: UInt64)
    /// Every known bootstrap source failed; retrying at the capped backoff.
    case allBootstrapUnreachable(retryIn: TimeSpan)
    /// Our own record was (re-)signed.
    case ownRecordChanged(seq: UInt64)
    /// A sync exchange with a peer finished (the last page arrived).
    case syncCompleted(PublicKey, records: Int, full: Bool)
}

/// `PersistedState` kept up to date by applying `PersistChange`s, with the peers indexed by key:
/// the in-memory stores (the runtime's `MemoryStore`, the simulator's) share it, so they apply
/// changes exactly as the SQLite store does.
public struct PersistedStateTable: Sendable {
    /// The state so far. Peer rows are in no particular order (a node sorts them when loading).
    public private(set) var state: PersistedState
    private var peerRow: [PublicKey: Int] = [:]

    /// A table holding `initial`.
    ///
    /// - Parameters:
    ///   - initial: The starting state.
    ///   - keyOf: The key a stored record is filed under (read, not verified); rows whose key
    ///     cannot be read are dropped.
    public init(_ initial: PersistedState = PersistedState(), keyOf: (SignedPeerRecord) -> PublicKey?) {
        state = initial
        state.peers = []
        for peer in initial.peers { upsert(peer, keyOf: keyOf) }
    }

    /// Applies one change. `.equivocation` is evidence for the caller to keep; it does not touch
    /// the state.
    ///
    /// - Parameters:
    ///   - change: The change.
    ///   - keyOf: The key a stored record is filed under.
    public mutating func apply(_ change: PersistChange, keyOf: (SignedPeerRecord) -> PublicKey?) {
        switch change {
        case let .upsertPeer(peer):
            upsert(peer, keyOf: keyOf)
        case let .removePeer(key):
            guard let row = peerRow.removeValue(forKey: key) else { return }
            // The last row fills the gap: no other row moves.
            let last = state.peers.count - 1
            if row != last {
                state.peers.swapAt(row, last)
                if let moved = keyOf(state.peers[row].record) { peerRow[moved] = row }
            }
            state.peers.removeLast()
        case let .ban(entry):
            state.bans.removeAll { $0.subject == entry.subject }
            state.bans.append(entry)
        case let .unban(subject):
            state.bans.removeAll { $0.subject == subject }
        case let .cursor(key, cursor):
            state.cursors[key] = cursor
        case let .ownSeq(seq):
            state.ownSeq = max(state.ownSeq, seq)
        case let .bucketKey(key):
            state.bucketKey = key
        case .equivocation:
            break
        }
    }

    private mutating func upsert(_ peer: StoredPeer, keyOf: (SignedPeerRecord) -> PublicKey?) {
        guard let key = keyOf(peer.record) else { return }
        if let row = peerRow[key] {
            state.peers[row] = peer
        } else {
            peerRow[key] = state.peers.count
            state.peers.append(peer)
        }
    }
}
