/// Counters a node keeps for the application's metrics (Prometheus in the daemon). Keys of the
/// dictionaries are stable kebab-case names; exporters sort them.
public struct NodeMetrics: Sendable, Equatable {
    public var framesIn: [String: Int] = [:]
    public var framesOut: [String: Int] = [:]
    public var bytesIn = 0
    public var bytesOut = 0
    /// Records rejected, by reason (`WireError.reason` and the core's own reasons).
    public var rejections: [String: Int] = [:]
    /// Valid records new to the node (an unknown key, or a higher seq), stored or not.
    public var recordsAccepted = 0
    /// Valid records of new keys, from messages (counted in `recordsAccepted` too) or a peer's
    /// `Hello`, that the address book had no slot for: the slot taken by a key that keeps it,
    /// the address group at its share, or (for a member) the protected set full. In an open network larger than the book this is
    /// most of what a node hears.
    public var recordsNotStored = 0
    public var recordsDuplicate = 0
    public var recordsStale = 0
    public var syncRounds = 0
    public var syncRecords = 0
    public var connectionsOpened: [String: Int] = [:]
    /// Connections closed, by cause: the node's own reason (`evicted-for-a-new-peer`,
    /// `feeler-done`, `misbehaviour`, ...), `peer-<error code>` when the peer closed with an
    /// Error, `dial-failed`, or `transport` when the connection ended without either.
    public var connectionsClosedBy: [String: Int] = [:]
    /// Connections closed, whatever the cause.
    public var connectionsClosed: Int { connectionsClosedBy.values.reduce(0, +) }
    public var handshakesFailed = 0
    public var bans = 0
    public var stateChanges = 0
    public var relays = 0
    /// Ready inbound connections closed to admit a new peer when every inbound slot was taken.
    public var inboundEvictions = 0
    /// Bootstrap (address-fetch) connections closed after their exchange filled the book.
    public var addressFetchesReleased = 0
    /// Refresh feelers that stayed for a sync exchange because the handshake showed us behind.
    public var refreshSyncs = 0
    /// Refresh feelers dialled back to a peer whose inbound `Hello` showed us behind.
    public var refreshDialBacks = 0

    public init() {}

    mutating func reject(_ reason: String) { rejections[reason, default: 0] += 1 }

    /// Counts a close under the cause named by `reason`'s head: the text before its first colon,
    /// in kebab case. Reasons are the core's own fixed phrases, so the set of causes stays small.
    mutating func closed(because reason: String) {
        let head = reason.prefix { $0 != ":" }
        connectionsClosedBy[String(head.lowercased().map { $0 == " " ? "-" : $0 }), default: 0] += 1
    }
}
