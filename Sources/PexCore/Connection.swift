import PexWire

/// One connection's state. All transitions happen in `Node`; this type holds the data and the
/// transition table (`Connection.Phase.step(for:)`), which `docs/PROTOCOL.md` draws as a diagram.
///
/// A class: the node reads a field or two of some connection per record it handles, and a
/// struct of this size costs a dozen reference counts per copy. The node owns each connection
/// alone (no other reference escapes it), so sharing never shows.
final class Connection {
    /// The life of a connection:
    ///
    ///     dialing ──connected──▶ awaitingHello ──Hello ok / send Auth──▶ awaitingAuth ──Auth ok──▶ ready
    ///        │                        │                                      │                     │
    ///        └──dial failed──▶ closed ◀── timeout, violation, Error, EOF ─────┴──── closing ◀──────┘
    ///
    /// Both sides send Hello as soon as the transport is up, so an inbound connection starts in
    /// `awaitingHello` with our Hello already sent.
    enum Phase: String, Equatable {
        case dialing, awaitingHello, awaitingAuth, ready, closing

        /// What a received frame kind does in this phase.
        enum Step: Equatable {
            case handleHello, handleAuth, handleReady, handleError, ignoreUnknown, violation(String)
        }

        /// The transition table: every (phase, frame) pair in one place.
        func step(for frame: Frame) -> Step {
            switch (self, frame) {
            case (_, .error): return .handleError
            case (.awaitingHello, .hello): return .handleHello
            case (.awaitingAuth, .auth): return .handleAuth
            case (.ready, .unknown): return .ignoreUnknown
            case (.ready, .hello), (.ready, .auth), (.awaitingAuth, .hello):
                return .violation("\(frame.kind) after the handshake step it belongs to")
            case (.ready, _): return .handleReady
            case (.closing, _): return .ignoreUnknown
            case (.dialing, _), (.awaitingHello, _), (.awaitingAuth, _):
                return .violation("\(frame.kind) before the handshake completed")
            }
        }
    }

    /// Why the connection exists.
    enum Purpose: Equatable {
        /// A regular outbound or inbound peer connection.
        case regular
        /// A short test of an address: closed once the handshake proves it (Bitcoin's feelers).
        case feeler
        /// Dialled from the bootstrap fallback list (no key known in advance): an address fetch,
        /// released once its exchange has given the node enough candidates (Bitcoin's
        /// ADDR_FETCH), unless the outbound selection picks its peer meanwhile.
        case bootstrap(Multiaddr)
        /// Asked for by `Command.connect`.
        case manual
    }

    /// What the handshake negotiated.
    struct Session: Equatable {
        var version: UInt32
        var deflate: Bool
        var deltaSync: Bool
        /// Largest frame the peer accepts.
        var peerMaxFrameSize: Int
    }

    /// A PeerRequest we sent and wait an answer to.
    struct PendingRequest: Equatable {
        var id: UInt64
        var sentAt: Instant
        var full: Bool
        var recordsSoFar: Int
        /// This request continues a paged listing.
        var continued = false
        /// The cursor the request carried.
        var since: SyncCursor? = nil
    }

    let id: ConnectionID
    let direction: Direction
    var purpose: Purpose
    /// The peer's transport address: the dialled address, or the accepted socket's remote address.
    let remote: Multiaddr
    var remoteIP: IPAddress? { remote.ipAddress }
    var phase: Phase
    var decoder: FrameDecoder
    let openedAt: Instant
    var readyAt: Instant?
    let ourNonce: [UInt8]
    var ourHello: [UInt8] = []
    var peerHello: [UInt8] = []
    var peerNonce: [UInt8] = []
    var peerRecord: VerifiedPeerRecord?
    /// The key we meant to reach, when dialling a known peer.
    var expectedKey: PublicKey?
    var session: Session?
    var lastReceived: Instant
    var pingNonce: UInt64?
    var pingSentAt: Instant?
    var pending: PendingRequest?
    /// The `next` of our last response to this peer that said `more`: asking for it continues
    /// a listing and costs no request token (paging a large book must not trip the limit).
    var continuation: SyncCursor?
    var lastSyncAt: Instant?
    /// Records the peer is known to hold: not sent to it again in responses or relays.
    var known: KnownRecords
    /// When the `Pong` to our last `Ping` arrived: the peer's turn to ping comes first.
    var pongReceivedAt: Instant?
    var limits: PeerRateLimits
    /// Our copy of the peer's `records` bucket for this connection (§20.1): the records we may
    /// still send it without going over its limit. Every record we send takes a token; every
    /// `PeerRequest` it sends us credits its `max_peers`, as the peer credits its own bucket.
    var peerAllowance: TokenBucket
    var bytesIn = 0
    var bytesOut = 0
    /// Sync exchanges with this peer that completed (every page received).
    var exchanges = 0
    /// Lowest round-trip time seen: the handshake (our Hello to the peer's Auth), then each
    /// Ping to its Pong. Inbound eviction protects the fastest peers.
    var minRoundTrip: TimeSpan?
    /// When the peer last delivered a record that was new or newer to us (not its own):
    /// inbound eviction protects recently useful peers.
    var lastUsefulAt: Instant?
    /// A refresh feeler (§15.4): the `seq` of the peer's record we held when dialling it.
    var refreshSeq: UInt64?
    /// Inbound: the `seq` of the peer's record we held before its `Hello` brought a newer one.
    /// We are behind on the peer's part of the network; if the peer leaves before our request
    /// on this connection is answered (its refresh feeler), we dial it back (§15.4).
    var behindAtHello: UInt64?
    /// A refresh feeler dialled back to a peer whose inbound `Hello` showed us behind.
    var isDialBack = false

    /// Keys tracked per connection in `known`: as many as the address book's protected table,
    /// so that a whole federation fits.
    init(id: ConnectionID, direction: Direction, purpose: Purpose, remote: Multiaddr, phase: Phase,
         decoder: FrameDecoder, openedAt: Instant, ourNonce: [UInt8], expectedKey: PublicKey? = nil,
         lastReceived: Instant, limits: PeerRateLimits, knownRecords: Int) {
        self.id = id
        self.direction = direction
        self.purpose = purpose
        self.remote = remote
        self.phase = phase
        self.decoder = decoder
        self.openedAt = openedAt
        self.ourNonce = ourNonce
        self.expectedKey = expectedKey
        self.lastReceived = lastReceived
        self.limits = limits
        let records = limits.config.records
        peerAllowance = TokenBucket(ratePerSecond: records.ratePerSecond, burst: records.burst, now: openedAt,
                                    creditLimit: records.creditLimit)
        known = KnownRecords(capacity: knownRecords)
    }

    var peerKey: PublicKey? { peerRecord?.publicKey }
    var isReady: Bool { phase == .ready }

    /// The key of the side that opened the connection, once known.
    func initiatorKey(ownKey: PublicKey) -> PublicKey? {
        direction == .outbound ? ownKey : peerKey
    }

    /// Initiator key ‖ initiator nonce: decides which of two connections between the same pair
    /// survives. Both sides compute the same bytes for the same connection, so they agree even
    /// when one side opened both.
    func tieBreak(ownKey: PublicKey) -> [UInt8] {
        (initiatorKey(ownKey: ownKey)?.bytes ?? []) + (direction == .outbound ? ourNonce : peerNonce)
    }
}
