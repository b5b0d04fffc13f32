// Swift values of the admin protocol (proto/pex/v1/admin.proto): the local control channel
// between a running node and `pexd status|peers|metrics|…`. Framed like the wire protocol.

/// Limits of the admin protocol.
public enum AdminLimits {
    /// Largest admin message (length prefix excluded): 16 MiB. A full address book listing
    /// (a few thousand records of up to 10 addresses) and the metrics text fit easily.
    public static let maxMessageSize = 16 * 1024 * 1024
    /// Longest `AdminError.message`, in UTF-8 bytes.
    public static let maxErrorMessageLength = 4096
}

/// What an operator asks a running node.
public enum AdminRequest: Hashable, Sendable {
    /// Overall state, identity and counters.
    case status
    /// The address book, optionally only peers with a ready connection.
    case peers(connectedOnly: Bool)
    /// Prometheus text exposition of the node's metrics.
    case metrics
    /// Every known record exactly as signed, to write a peers file.
    case exportPeers
    /// Adds a bootstrap peer (`Command.addBootstrapPeer`).
    case addBootstrap(Multiaddr)
    /// Removes a bootstrap peer (`Command.removeBootstrapPeer`).
    case removeBootstrap(Multiaddr)
    /// Dials an address now (`Command.connect`).
    case connect(Multiaddr)
    /// Closes every connection to a key (`Command.disconnect`).
    case disconnect(PublicKey)
}

/// A node's answer to one `AdminRequest`.
public enum AdminResponse: Hashable, Sendable {
    case status(AdminStatus)
    case peers([AdminPeer])
    /// Prometheus text exposition format 0.0.4.
    case metrics(String)
    case exportPeers([SignedPeerRecord])
    /// The command was handed to the node; its effect shows in later status and events.
    case accepted
    /// The request could not be served; the text says why.
    case error(String)
}

/// The node's overall state as the admin protocol reports it (mirrors `PexCore.NodeState`).
public enum AdminNodeState: String, Hashable, Sendable, CaseIterable {
    /// Not reported, or a state this version does not know.
    case unspecified
    case bootstrapping
    case initialSync = "initial-sync"
    case maintenance
    case stopped
}

/// Answer to `AdminRequest.status`.
public struct AdminStatus: Hashable, Sendable {
    public var state: AdminNodeState
    /// This node's identity.
    public var publicKey: PublicKey
    public var networkID: String
    /// Peers with a ready (authenticated) connection.
    public var readyPeers: UInt32
    /// Records in the address book.
    public var knownRecords: UInt64
    public var uptimeSeconds: UInt64
    /// Open connections by direction, handshakes included.
    public var inbound: UInt32
    public var outbound: UInt32
    /// Seq of this node's current own record.
    public var ownSeq: UInt64
    public var listenAddresses: [Multiaddr]
    /// Software name and version (at most `WireLimits.maxAgentLength` bytes).
    public var agent: String

    /// Creates a status value; every field is as documented on the property of the same name.
    public init(
        state: AdminNodeState, publicKey: PublicKey, networkID: String, readyPeers: UInt32, knownRecords: UInt64,
        uptimeSeconds: UInt64, inbound: UInt32, outbound: UInt32, ownSeq: UInt64, listenAddresses: [Multiaddr],
        agent: String
    ) {
        self.state = state
        self.publicKey = publicKey
        self.networkID = networkID
        self.readyPeers = readyPeers
        self.knownRecords = knownRecords
        self.uptimeSeconds = uptimeSeconds
        self.inbound = inbound
        self.outbound = outbound
        self.ownSeq = ownSeq
        self.listenAddresses = listenAddresses
        self.agent = agent
    }
}

/// Where a peer's record is kept in the address book.
public enum AdminPeerTable: String, Hashable, Sendable, CaseIterable {
    /// Not reported, or a table this version does not know.
    case unspecified
    case new
    case tried
    case protected
}

/// One address book entry in an `AdminResponse.peers` listing.
public struct AdminPeer: Hashable, Sendable {
    public var publicKey: PublicKey
    public var seq: UInt64
    /// The record's addresses (1 to 10).
    public var addresses: [Multiaddr]
    /// Unix seconds.
    public var expiresAt: UInt64
    /// Whether a ready connection to the peer is open.
    public var connected: Bool
    public var table: AdminPeerTable
    /// Unix seconds; 0 when never.
    public var lastSeen: UInt64
    public var lastSuccess: UInt64
    /// Failed connection attempts since the last success.
    public var attempts: UInt32

    /// Creates a peer entry; every field is as documented on the property of the same name.
    public init(
        publicKey: PublicKey, seq: UInt64, addresses: [Multiaddr], expiresAt: UInt64, connected: Bool,
        table: AdminPeerTable, lastSeen: UInt64, lastSuccess: UInt64, attempts: UInt32
    ) {
        self.publicKey = publicKey
        self.seq = seq
        self.addresses = addresses
        self.expiresAt = expiresAt
        self.connected = connected
        self.table = table
        self.lastSeen = lastSeen
        self.lastSuccess = lastSuccess
        self.attempts = attempts
    }
}
