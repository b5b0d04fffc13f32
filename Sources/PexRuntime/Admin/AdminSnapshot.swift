import PexCore
import PexWire

/// What the admin service reads from a running node, taken once per request on the loop thread.
///
/// A plain value, so `AdminService.handle` is a pure function of it and tests build one by hand.
public struct AdminSnapshot: Sendable {
    public var state: NodeState
    public var publicKey: PublicKey
    public var networkID: String
    public var agent: String
    public var ownSeq: UInt64
    /// Addresses the listeners actually bound.
    public var listenAddresses: [Multiaddr]
    /// Peers with a ready connection.
    public var readyPeers: [PublicKey]
    /// Open connections (any phase) by direction.
    public var inbound: Int
    public var outbound: Int
    /// The address book, sorted by key.
    public var peers: [Entry]
    public var metrics: NodeMetrics
    public var startedAt: Instant
    public var now: Instant

    /// One address book entry.
    public struct Entry: Sendable {
        public var record: VerifiedPeerRecord
        public var table: AdminPeerTable
        public var lastSeen: Instant?
        public var lastSuccess: Instant?
        public var attempts: Int

        /// Creates an entry; the fields are those of `BookEntry`.
        public init(record: VerifiedPeerRecord, table: AdminPeerTable, lastSeen: Instant?, lastSuccess: Instant?,
                    attempts: Int) {
            self.record = record
            self.table = table
            self.lastSeen = lastSeen
            self.lastSuccess = lastSuccess
            self.attempts = attempts
        }

        /// The entry of the address book's `BookEntry`.
        ///
        /// - Parameter entry: An address book entry.
        public init(_ entry: BookEntry) {
            let table: AdminPeerTable = switch entry.location {
            case .protected: .protected
            case .new: .new
            case .tried: .tried
            }
            self.init(record: entry.record, table: table, lastSeen: entry.lastSeen, lastSuccess: entry.lastSuccess,
                      attempts: entry.attempts)
        }
    }

    /// Creates a snapshot; every field is as documented on the property of the same name.
    public init(
        state: NodeState, publicKey: PublicKey, networkID: String, agent: String, ownSeq: UInt64,
        listenAddresses: [Multiaddr], readyPeers: [PublicKey], inbound: Int, outbound: Int, peers: [Entry],
        metrics: NodeMetrics, startedAt: Instant, now: Instant
    ) {
        self.state = state
        self.publicKey = publicKey
        self.networkID = networkID
        self.agent = agent
        self.ownSeq = ownSeq
        self.listenAddresses = listenAddresses
        self.readyPeers = readyPeers
        self.inbound = inbound
        self.outbound = outbound
        self.peers = peers
        self.metrics = metrics
        self.startedAt = startedAt
        self.now = now
    }

    /// The snapshot of a running node.
    ///
    /// - Parameters:
    ///   - node: The node, read on its loop thread.
    ///   - listenAddresses: Addresses the listeners bound.
    ///   - startedAt: When the node started, for the uptime.
    ///   - now: The current time.
    public init(node: Node, listenAddresses: [Multiaddr], startedAt: Instant, now: Instant) {
        let entries = node.knownRecords.compactMap { node.entry(for: $0.publicKey).map(Entry.init) }
        self.init(
            state: node.state, publicKey: node.identity.publicKey, networkID: node.config.networkID,
            agent: node.config.agent, ownSeq: node.ownSeq, listenAddresses: listenAddresses,
            readyPeers: node.readyPeers, inbound: node.connectionCount(.inbound),
            outbound: node.connectionCount(.outbound), peers: entries, metrics: node.metrics, startedAt: startedAt,
            now: now)
    }

    /// Address book entries per table.
    public var recordsByTable: [AdminPeerTable: Int] {
        var counts: [AdminPeerTable: Int] = [.new: 0, .tried: 0, .protected: 0]
        for entry in peers { counts[entry.table, default: 0] += 1 }
        return counts
    }
}
