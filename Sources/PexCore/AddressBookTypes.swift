import PexWire

/// Sizes and thresholds of an `AddressBook`.
///
/// The defaults suit a federation of 64–512 members on a small machine: 4 096 new slots and 1 024
/// tried slots leave room for every member plus an order of magnitude of non-member records,
/// while the per-group limits keep any single network or informant to a small share of each table.
/// Counts below 1 are treated as 1 (a zero count would leave no place to put anything).
public struct AddressBookConfig: Sendable, Equatable {
    /// Buckets of the new table (heard of, never connected).
    public var newBucketCount = 128
    /// Buckets of the tried table (connected to successfully at least once).
    public var triedBucketCount = 32
    /// Slots per bucket, in both tables.
    public var bucketSize = 32
    /// How many new buckets the records from one source group can reach: a single informant
    /// can fill at most `newBucketsPerSourceGroup × bucketSize` new slots.
    public var newBucketsPerSourceGroup = 16
    /// How many tried buckets the peers of one address group can reach.
    public var triedBucketsPerGroup = 8
    /// Largest share of the unprotected entries (new and tried) that one address group may hold;
    /// a new key of a group at its limit is dropped. The bucket limits alone do not bound an
    /// attacker's share in a small network: records relayed by each honest informant land in
    /// other buckets, and the tables are mostly empty. 1 or more disables the limit.
    public var maxGroupShare = 0.1
    /// A group may always hold this many unprotected entries, whatever `maxGroupShare` allows
    /// (a node that knows few peers must still be able to learn some of any group).
    public var minEntriesPerGroup = 2
    /// Largest share of the unprotected entries (new and tried) that one *source group* (the
    /// network group of the informant) may hold before it can add no more new keys by
    /// unsolicited announcements or updates; such a record is then dropped, neither stored nor
    /// relayed. Responses to our own requests are exempt (a joining node learns nearly its whole
    /// book from one bootstrap peer). Without it, a flooder holding addresses in many address
    /// groups takes most of a small network's tables, whatever `maxGroupShare` allows each group,
    /// and a flooder that reconnects under fresh keys gets a fresh per-connection budget each
    /// time. 1 or more disables the limit.
    public var maxSourceShare = 0.1
    /// A source group may always hold this many unprotected entries, whatever `maxSourceShare`
    /// allows (a node that knows few peers must still learn new ones from every informant).
    public var minEntriesPerSource = 8
    /// Whether a new key may take the new-table slot of an entry the node never connected to,
    /// in a full bucket, when the new key's keyed priority is higher (`AddressBook.outranks`).
    /// Without it a slot
    /// goes to its first comer, and once a network outgrows the books every book holds the
    /// nodes that joined first (PROTOCOL.md §16.3).
    public var keyedNewSlots = true
    /// Capacity of the protected set (roster members, pinned peers), kept outside the buckets.
    public var maxProtected = 1024
    /// An entry not seen for longer than this is terrible.
    public var horizon: TimeSpan = .hours(24 * 30)
    /// An entry that never succeeded is terrible after this many failed attempts.
    public var maxRetries = 3
    /// An entry with at least this many failed attempts since its last success is terrible when
    /// that success is older than `minFailWindow` (or never happened).
    public var maxFailures = 10
    /// See `maxFailures`.
    public var minFailWindow: TimeSpan = .hours(24 * 7)
    /// How long a tried-table collision may wait for its occupant's test; an untested occupant is
    /// then treated as unreachable by `AddressBook.expire(now:)`.
    public var replacementGrace: TimeSpan = .minutes(4 * 60)
    /// How many tried-table collisions may wait for a test at once; further collisions are not
    /// queued (the newcomer stays in new and may collide again on its next success).
    public var maxPendingCollisions = 16

    /// The default configuration.
    public init() {}
}

/// Where an entry lives in the book.
public enum BookLocation: Sendable, Hashable {
    /// Whether the entry sits in the tried table.
    public var isTried: Bool { if case .tried = self { true } else { false } }

    /// In the protected set, outside the buckets.
    case protected
    /// In the new table.
    case new(bucket: Int, slot: Int)
    /// In the tried table.
    case tried(bucket: Int, slot: Int)
}

/// One peer of the address book: its newest record and what the book knows about it.
public struct BookEntry: Sendable, Equatable {
    /// The newest record of this key.
    public internal(set) var record: VerifiedPeerRecord
    /// Network group of whoever told us about the peer; empty for ourselves or configuration.
    public internal(set) var sourceGroup: [UInt8]
    /// When the entry was first added.
    public internal(set) var addedAt: Instant
    /// When the record was last received or the peer last reached.
    public internal(set) var lastSeen: Instant
    /// When the book last heard of a connection attempt.
    public internal(set) var lastTry: Instant?
    /// When the book last heard of a successful connection.
    public internal(set) var lastSuccess: Instant?
    /// Failed attempts since the last success.
    public internal(set) var attempts: Int
    /// Where the entry is stored.
    public internal(set) var location: BookLocation

    /// The peer's key.
    public var publicKey: PublicKey { record.publicKey }

    /// An entry as loaded from persistent storage, for `AddressBook.restore(_:)`.
    ///
    /// - Parameters:
    ///   - record: The peer's record.
    ///   - sourceGroup: Network group of the informant; empty for ourselves or configuration.
    ///   - addedAt: When the entry was first added.
    ///   - lastSeen: When the record was last received or the peer last reached.
    ///   - lastTry: Last connection attempt, if any.
    ///   - lastSuccess: Last successful connection, if any.
    ///   - attempts: Failed attempts since the last success; negative values count as 0.
    ///   - location: Where the entry was; `restore` re-derives bucket and slot.
    public init(
        record: VerifiedPeerRecord, sourceGroup: [UInt8], addedAt: Instant, lastSeen: Instant,
        lastTry: Instant?, lastSuccess: Instant?, attempts: Int, location: BookLocation
    ) {
        self.record = record
        self.sourceGroup = sourceGroup
        self.addedAt = addedAt
        self.lastSeen = lastSeen
        self.lastTry = lastTry
        self.lastSuccess = lastSuccess
        self.attempts = max(0, attempts)
        self.location = location
    }

    /// Whether the entry counts as tried for selection (tried or protected).
    var isTriedSide: Bool {
        if case .new = location { return false }
        return true
    }
}

/// What `AddressBook.insert(_:sourceGroup:protected:now:)` did.
public enum InsertOutcome: Sendable, Equatable {
    /// A new entry was stored in a free place.
    case added
    /// A new entry took the new-table slot of a terrible entry, which was removed.
    case addedReplacing(PublicKey)
    /// A new entry took the new-table slot of an entry it outranks in a full bucket (keyed
    /// slots, `AddressBook.outranks`), which was removed.
    case addedOutranking(PublicKey)
    /// The record superseded the stored one (higher seq); the placement is unchanged.
    case updated(previous: VerifiedPeerRecord)
    /// The same seq was already stored; only `lastSeen` was refreshed.
    case unchanged
    /// An older seq than the stored one; the record was ignored.
    case stale
    /// No room: the new-table slot holds an entry that is not terrible, or the protected set is full.
    case dropped
}

/// What `AddressBook.markSuccess(_:now:)` did.
public enum SuccessOutcome: Sendable, Equatable {
    /// The key is not in the book.
    case unknown
    /// The entry is protected; only its statistics changed.
    case protected
    /// The entry was already tried; only its statistics changed.
    case alreadyTried
    /// The entry moved from new to this tried slot.
    case movedToTried(bucket: Int, slot: Int)
    /// The tried slot is held by `with`; the newcomer stays in new until the occupant has been
    /// tested and `AddressBook.resolveCollision(occupant:reachable:now:)` is called. When the
    /// collision queue is full or the occupant is already under test, nothing is queued.
    case collision(with: PublicKey, queued: Bool)
}

/// A tried-table collision waiting for its occupant to be tested.
public struct PendingCollision: Sendable, Equatable {
    /// The tried entry whose slot is wanted; it should be tested with a short connection.
    public let occupant: PublicKey
    /// The new entry that succeeded and wants the slot.
    public let newcomer: PublicKey
    /// When the collision was recorded.
    public let since: Instant
}

/// What `AddressBook.resolveCollision(occupant:reachable:now:)` did.
public enum CollisionResolution: Sendable, Equatable {
    /// No collision is pending for that occupant.
    case notPending
    /// The occupant keeps its tried slot; the newcomer stays in new.
    case occupantKept
    /// The newcomer took the tried slot. The occupant moved back to new, unless it is listed in
    /// `removed` (its new slot was held by an entry that is not terrible); `removed` also lists
    /// a terrible entry the occupant displaced from the new table.
    case newcomerPromoted(newcomer: PublicKey, removed: [PublicKey])
    /// The collision no longer applies (the newcomer or the slot changed meanwhile) and was dropped.
    case obsolete
}
