import PexWire

/// The bounded, eclipse-resistant store of peer records: one entry per public key.
///
/// The design follows Bitcoin Core's address manager. Unprotected entries live in fixed-size
/// tables of buckets. An entry first goes to the *new* table, in a bucket chosen by a keyed hash
/// of its informant's network group (the *source group*) and its own address group, so one
/// informant reaches only `newBucketsPerSourceGroup` buckets however many records it invents.
/// After a successful connection the entry moves to the *tried* table, in a bucket chosen by its
/// address group, so one network reaches only `triedBucketsPerGroup` tried buckets. The hash key
/// is a secret of the local node, so an attacker cannot aim records at particular slots. A full
/// slot is given up only by a terrible entry (new table) or by an occupant that fails a test
/// connection (tried table: test-before-evict).
///
/// Roster members and pinned peers are *protected*: kept outside the buckets, never displaced.
///
/// The book never reads a clock or global randomness; all iteration that decides behaviour runs
/// over arrays, so the same secret and the same calls give the same state.
public struct AddressBook: Sendable {
    /// The configuration in force (counts raised to at least 1).
    public let config: AddressBookConfig
    let secret: [UInt8]
    let hash: @Sendable ([UInt8]) -> [UInt8]

    /// Every entry by key. Lookup only: never iterated where order matters without sorting.
    var book: [PublicKey: BookEntry] = [:]
    /// `newBucketCount × bucketSize` slots, bucket-major.
    var newTable: SlotTable
    /// `triedBucketCount × bucketSize` slots, bucket-major.
    var triedTable: SlotTable
    /// Keys of protected entries, sorted by key bytes.
    var protectedKeys: [PublicKey] = []
    /// Collisions waiting for a test, oldest first.
    var pending: [PendingCollision] = []
    /// Address group of every unprotected entry, and how many unprotected entries each group
    /// holds (for `maxGroupShare`); kept in step by `syncGroup(_:)`.
    var groupOf: [PublicKey: [UInt8]] = [:]
    var groupCounts: [[UInt8]: Int] = [:]
    /// Source group of every unprotected entry, and how many unprotected entries each source
    /// group holds (for `maxSourceShare`); kept in step by `syncGroup(_:)`.
    var sourceOf: [PublicKey: [UInt8]] = [:]
    var sourceCounts: [[UInt8]: Int] = [:]

    /// Occupied slots of the new table.
    public internal(set) var newCount = 0
    /// Occupied slots of the tried table.
    public internal(set) var triedCount = 0

    /// Creates an empty book.
    ///
    /// - Parameters:
    ///   - config: Sizes and thresholds; counts below 1 are raised to 1.
    ///   - secret: Random bytes (32 from the system CSPRNG) keying every bucket choice; keep it
    ///     with the persisted book so that positions survive restarts.
    ///   - hash: A 32-byte hash, `CryptoProvider.hash256`.
    public init(config: AddressBookConfig = AddressBookConfig(), secret: [UInt8], hash: @escaping @Sendable ([UInt8]) -> [UInt8]) {
        var c = config
        c.newBucketCount = max(1, c.newBucketCount)
        c.triedBucketCount = max(1, c.triedBucketCount)
        c.bucketSize = max(1, c.bucketSize)
        c.newBucketsPerSourceGroup = max(1, c.newBucketsPerSourceGroup)
        c.triedBucketsPerGroup = max(1, c.triedBucketsPerGroup)
        c.maxProtected = max(0, c.maxProtected)
        c.maxPendingCollisions = max(0, c.maxPendingCollisions)
        c.minEntriesPerGroup = max(1, c.minEntriesPerGroup)
        c.minEntriesPerSource = max(1, c.minEntriesPerSource)
        self.config = c
        self.secret = secret
        self.hash = hash
        newTable = SlotTable(count: c.newBucketCount * c.bucketSize)
        triedTable = SlotTable(count: c.triedBucketCount * c.bucketSize)
    }

    // MARK: - Accessors

    /// Number of entries.
    public var count: Int { book.count }
    /// Number of protected entries.
    public var protectedCount: Int { protectedKeys.count }
    /// Whether `key` has an entry.
    public func contains(_ key: PublicKey) -> Bool { book[key] != nil }
    /// The entry of `key`, if any.
    public func entry(for key: PublicKey) -> BookEntry? { book[key] }
    /// Every entry, sorted by key bytes: the order for persistence and listings.
    public var entries: [BookEntry] { book.values.sorted { Self.precedes($0.publicKey, $1.publicKey) } }
    /// Tried-table collisions waiting for the occupant's test, oldest first.
    public var pendingCollisions: [PendingCollision] { pending }

    /// Orders keys by their bytes.
    static func precedes(_ a: PublicKey, _ b: PublicKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    // MARK: - Groups and positions

    /// The address group of a record: the network group of its first IP address, or for a record
    /// with DNS names only, `0xfe` followed by the lowercased first name.
    ///
    /// - Parameter record: The record.
    /// - Returns: The group bytes.
    public static func addressGroup(of record: VerifiedPeerRecord) -> [UInt8] {
        for address in record.addresses {
            if let ip = address.ipAddress { return ip.netGroup }
        }
        for address in record.addresses {
            if let name = address.dnsName { return [0xfe] + Array(name.lowercased().utf8) }
        }
        // A verified record has at least one dialable address, so this is not reached.
        return [0xff]
    }

    /// `hash(secret ‖ tag ‖ inputs)`, every part after the secret prefixed with its length,
    /// reduced to `0..<modulus` from the digest's first 8 bytes (little endian).
    func keyedIndex(_ tag: String, _ inputs: [[UInt8]], modulus: Int) -> Int {
        // One allocation: this runs several times for every record a node stores.
        var message: [UInt8] = []
        message.reserveCapacity(secret.count + 4 + tag.utf8.count + inputs.reduce(0) { $0 + 4 + $1.count })
        message.append(contentsOf: secret)
        func appendPart<Part: Collection<UInt8>>(_ part: Part) {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: part.count).littleEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: part)
        }
        appendPart(tag.utf8)
        for part in inputs { appendPart(part) }
        var value: UInt64 = 0
        for (i, byte) in hash(message).prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        return Int(truncatingIfNeeded: value % UInt64(max(1, modulus)))
    }

    static func le64(_ v: Int) -> [UInt8] {
        let u = UInt64(truncatingIfNeeded: v)
        return (0..<8).map { UInt8(truncatingIfNeeded: u >> (8 * UInt64($0))) }
    }

    /// New-table bucket and slot: the bucket depends only on the source group and one of
    /// `newBucketsPerSourceGroup` indices picked by the address group.
    func newPosition(key: PublicKey, group: [UInt8], sourceGroup: [UInt8]) -> (bucket: Int, slot: Int) {
        let index = keyedIndex("new-index", [group, sourceGroup], modulus: config.newBucketsPerSourceGroup)
        let bucket = keyedIndex("new-bucket", [sourceGroup, Self.le64(index)], modulus: config.newBucketCount)
        let slot = keyedIndex("new-slot", [Self.le64(bucket), key.bytes], modulus: config.bucketSize)
        return (bucket, slot)
    }

    /// Tried-table bucket and slot: the bucket depends only on the address group and one of
    /// `triedBucketsPerGroup` indices picked by the key.
    func triedPosition(key: PublicKey, group: [UInt8]) -> (bucket: Int, slot: Int) {
        let index = keyedIndex("tried-index", [key.bytes], modulus: config.triedBucketsPerGroup)
        let bucket = keyedIndex("tried-bucket", [group, Self.le64(index)], modulus: config.triedBucketCount)
        let slot = keyedIndex("tried-slot", [Self.le64(bucket), key.bytes], modulus: config.bucketSize)
        return (bucket, slot)
    }

    func newPosition(of entry: BookEntry) -> (bucket: Int, slot: Int) {
        newPosition(key: entry.publicKey, group: Self.addressGroup(of: entry.record), sourceGroup: entry.sourceGroup)
    }

    func triedPosition(of entry: BookEntry) -> (bucket: Int, slot: Int) {
        triedPosition(key: entry.publicKey, group: Self.addressGroup(of: entry.record))
    }

    func flat(_ bucket: Int, _ slot: Int) -> Int { bucket * config.bucketSize + slot }

    // MARK: - Insertion

    /// Adds or refreshes the record of a peer.
    ///
    /// A known key keeps its placement: a higher seq replaces the record, the same seq only
    /// refreshes `lastSeen`, a lower seq changes nothing. A non-stale insert with `protected`
    /// also moves an unprotected entry into the protected set when there is room. A new key goes
    /// to the protected set, or to its new-table slot, displacing the occupant only if that
    /// occupant is terrible.
    ///
    /// - Parameters:
    ///   - record: The verified record.
    ///   - sourceGroup: Network group of whoever sent it; empty for ourselves or configuration.
    ///   - protected: Whether the peer is a roster member or pinned.
    ///   - now: The current time.
    /// - Returns: What happened.
    @discardableResult
    public mutating func insert(_ record: VerifiedPeerRecord, sourceGroup: [UInt8], protected: Bool, now: Instant) -> InsertOutcome {
        let key = record.publicKey
        // Known key: changed in place (most inserts are a peer repeating what we hold).
        if let index = book.index(forKey: key) {
            let heldSeq = book.values[index].record.seq
            if record.seq < heldSeq { return .stale }
            let changed = record.seq > heldSeq
            let outcome: InsertOutcome = changed ? .updated(previous: book.values[index].record) : .unchanged
            if changed { book.values[index].record = record }
            book.values[index].lastSeen = max(book.values[index].lastSeen, now)
            let moves = protected && book.values[index].location != .protected
            if moves { _ = moveToProtected(key) }
            // The group follows the record and the location; neither changed otherwise.
            if changed || moves { syncGroup(key) }
            return outcome
        }
        var entry = BookEntry(
            record: record, sourceGroup: sourceGroup, addedAt: now, lastSeen: now,
            lastTry: nil, lastSuccess: nil, attempts: 0, location: .protected)
        if protected {
            guard protectedKeys.count < config.maxProtected else { return .dropped }
            addProtectedKey(key)
            book[key] = entry
            return .added
        }
        guard groupHasRoom(Self.addressGroup(of: record)) else { return .dropped }
        let position = newPosition(of: entry)
        var displaced: PublicKey?
        var outranked = false
        if let occupant = newTable[flat(position.bucket, position.slot)] {
            guard let old = book[occupant] else { return .dropped }
            if !isTerrible(old, now: now) {
                guard outranks(key, occupant: old, now: now) else { return .dropped }
                outranked = true
            }
            _ = remove(occupant)
            displaced = occupant
        }
        entry.location = .new(bucket: position.bucket, slot: position.slot)
        newTable[flat(position.bucket, position.slot)] = key
        newCount += 1
        book[key] = entry
        syncGroup(key)
        guard let displaced else { return .added }
        return outranked ? .addedOutranking(displaced) : .addedReplacing(displaced)
    }

    /// Whether one more unprotected entry of `group` keeps the group within `maxGroupShare` of
    /// the unprotected entries (or within `minEntriesPerGroup`).
    func groupHasRoom(_ group: [UInt8]) -> Bool {
        guard config.maxGroupShare < 1 else { return true }
        let inGroup = groupCounts[group] ?? 0
        if inGroup < config.minEntriesPerGroup { return true }
        // share = (inGroup + 1) / (inGroup + 1 + others) ≤ maxGroupShare
        let others = newCount + triedCount - inGroup
        return Double(inGroup + 1) <= config.maxGroupShare * Double(inGroup + 1 + others)
    }

    /// Whether one more unprotected entry from informants of `sourceGroup` keeps that source
    /// group within `maxSourceShare` of the unprotected entries (or within `minEntriesPerSource`).
    /// A node asks this before storing a new key that arrived unsolicited.
    ///
    /// - Parameter sourceGroup: The network group of the informant.
    /// - Returns: `true` when a new key from this source group may be stored.
    public func sourceHasRoom(_ sourceGroup: [UInt8]) -> Bool {
        guard config.maxSourceShare < 1 else { return true }
        let fromSource = sourceCounts[sourceGroup] ?? 0
        if fromSource < config.minEntriesPerSource { return true }
        let others = newCount + triedCount - fromSource
        return Double(fromSource + 1) <= config.maxSourceShare * Double(fromSource + 1 + others)
    }

    /// Brings `groupOf`, `groupCounts`, `sourceOf` and `sourceCounts` in line with the current
    /// entry of `key` (absent, protected, or unprotected with its record's address group and its
    /// source group).
    mutating func syncGroup(_ key: PublicKey) {
        var source: [UInt8]?
        if let entry = book[key], entry.location != .protected { source = entry.sourceGroup }
        if let before = sourceOf[key], before != source {
            let left = (sourceCounts[before] ?? 1) - 1
            sourceCounts[before] = left > 0 ? left : nil
        }
        if let source, sourceOf[key] != source { sourceCounts[source, default: 0] += 1 }
        sourceOf[key] = source
        var now: [UInt8]?
        if let entry = book[key], entry.location != .protected { now = Self.addressGroup(of: entry.record) }
        let before = groupOf[key]
        guard before != now else { return }
        if let before {
            let left = (groupCounts[before] ?? 1) - 1
            groupCounts[before] = left > 0 ? left : nil
        }
        if let now { groupCounts[now, default: 0] += 1 }
        groupOf[key] = now
    }

    /// Removes the entry of `key` from wherever it is, with any pending collision naming it.
    ///
    /// - Parameter key: The peer.
    /// - Returns: The removed entry, or `nil` when there was none.
    @discardableResult
    public mutating func remove(_ key: PublicKey) -> BookEntry? {
        guard let entry = book.removeValue(forKey: key) else { return nil }
        switch entry.location {
        case .protected:
            protectedKeys.removeAll { $0 == key }
        case let .new(bucket, slot):
            newTable[flat(bucket, slot)] = nil
            newCount -= 1
        case let .tried(bucket, slot):
            triedTable[flat(bucket, slot)] = nil
            triedCount -= 1
        }
        pending.removeAll { $0.newcomer == key || $0.occupant == key }
        syncGroup(key)
        return entry
    }

    // MARK: - Protection

    /// What `setProtected(_:_:now:)` did.
    public enum ProtectionOutcome: Sendable, Equatable {
        /// The key is not in the book.
        case unknown
        /// The entry already had the requested protection.
        case unchanged
        /// The entry left its bucket for the protected set.
        case protected
        /// The protected set is full; the entry stays in its bucket.
        case protectedSetFull
        /// The entry left the protected set for its new-table slot, displacing the terrible
        /// entry named, if any.
        case movedToNew(replacing: PublicKey?)
        /// The entry left the protected set but its new-table slot holds an entry that is not
        /// terrible, so it was removed from the book.
        case removed
    }

    /// Changes whether an existing entry is protected (a roster change, a pin or unpin).
    ///
    /// - Parameters:
    ///   - key: The peer.
    ///   - protected: The requested state.
    ///   - now: The current time, to judge a displaced entry.
    /// - Returns: What happened.
    @discardableResult
    public mutating func setProtected(_ key: PublicKey, _ protected: Bool, now: Instant) -> ProtectionOutcome {
        guard var entry = book[key] else { return .unknown }
        if protected {
            if entry.location == .protected { return .unchanged }
            return moveToProtected(key) ? .protected : .protectedSetFull
        }
        guard entry.location == .protected else { return .unchanged }
        protectedKeys.removeAll { $0 == key }
        let position = newPosition(of: entry)
        var displaced: PublicKey?
        if let occupant = newTable[flat(position.bucket, position.slot)] {
            guard let old = book[occupant], isTerrible(old, now: now) else {
                book[key] = nil
                return .removed
            }
            _ = remove(occupant)
            displaced = occupant
        }
        entry.location = .new(bucket: position.bucket, slot: position.slot)
        newTable[flat(position.bucket, position.slot)] = key
        newCount += 1
        book[key] = entry
        syncGroup(key)
        return .movedToNew(replacing: displaced)
    }

    /// Moves an unprotected entry to the protected set if there is room.
    mutating func moveToProtected(_ key: PublicKey) -> Bool {
        guard protectedKeys.count < config.maxProtected, var entry = remove(key) else { return false }
        entry.location = .protected
        addProtectedKey(key)
        book[key] = entry
        return true
    }

    mutating func addProtectedKey(_ key: PublicKey) {
        let index = protectedKeys.firstIndex { Self.precedes(key, $0) } ?? protectedKeys.endIndex
        protectedKeys.insert(key, at: index)
    }

    // MARK: - Connection outcomes

    /// Notes a connection attempt (sets `lastTry`).
    ///
    /// - Parameters:
    ///   - key: The peer.
    ///   - now: The current time.
    /// - Returns: Whether the key is in the book.
    @discardableResult
    public mutating func markAttempt(_ key: PublicKey, now: Instant) -> Bool {
        guard var entry = book[key] else { return false }
        entry.lastTry = now
        book[key] = entry
        return true
    }

    /// Notes a failed connection: `attempts` grows by one and `lastTry` is set, since a failure
    /// ends an attempt.
    ///
    /// - Parameters:
    ///   - key: The peer.
    ///   - now: The current time.
    /// - Returns: Whether the key is in the book.
    @discardableResult
    public mutating func markFailure(_ key: PublicKey, now: Instant) -> Bool {
        guard var entry = book[key] else { return false }
        entry.attempts = entry.attempts < Int.max ? entry.attempts + 1 : entry.attempts
        entry.lastTry = now
        book[key] = entry
        return true
    }

    // MARK: - Quality

    /// Whether an entry is worthless enough to be displaced (Bitcoin Core's `IsTerrible`).
    ///
    /// In this order: tried within the last minute → not terrible; not seen for longer than
    /// `horizon` → terrible; record expired → terrible; never succeeded and at least `maxRetries`
    /// failures → terrible; at least `maxFailures` failures and no success within
    /// `minFailWindow` → terrible; otherwise not.
    ///
    /// - Parameters:
    ///   - entry: The entry.
    ///   - now: The current time.
    /// - Returns: Whether it is terrible.
    public func isTerrible(_ entry: BookEntry, now: Instant) -> Bool {
        if let lastTry = entry.lastTry, lastTry >= now - TimeSpan.minutes(1) { return false }
        if now - entry.lastSeen > config.horizon { return true }
        if entry.record.expiresAt <= now.unixSeconds { return true }
        if entry.lastSuccess == nil && entry.attempts >= config.maxRetries { return true }
        if entry.attempts >= config.maxFailures {
            guard let success = entry.lastSuccess else { return true }
            if now - success > config.minFailWindow { return true }
        }
        return false
    }

    /// Whether `newcomer` takes the new-table slot of `occupant`: the occupant's bucket is full,
    /// the occupant was never connected to and is not being dialled, and the newcomer's keyed
    /// priority is higher. A full bucket then holds, of all keys it heard for a slot, the one the
    /// book's secret ranks first, so which nodes a book holds depends neither on the order they
    /// were heard in (first-come slots keep the oldest nodes of a network larger than the books)
    /// nor on any peer: an informant can only try many keys, and those reach just
    /// `newBucketsPerSourceGroup` buckets. Entries that were reached keep their slot.
    ///
    /// - Parameters:
    ///   - newcomer: The key of the record being inserted.
    ///   - occupant: The entry in the slot the newcomer maps to.
    ///   - now: The current time.
    /// - Returns: `true` when the newcomer replaces the occupant.
    public func outranks(_ newcomer: PublicKey, occupant: BookEntry, now: Instant) -> Bool {
        guard config.keyedNewSlots, occupant.lastSuccess == nil, case let .new(bucket, _) = occupant.location,
              isFull(newBucket: bucket) else { return false }
        if let lastTry = occupant.lastTry, lastTry >= now - TimeSpan.minutes(1) { return false }
        return slotPriority(newcomer) > slotPriority(occupant.publicKey)
    }

    /// Whether every slot of a new bucket is taken. A bucket with room still holds every key
    /// that reaches it but the few that share a slot, so there keys that came first stay: they
    /// are the records a node learnt before anyone could flood it (the honest network, in the
    /// flood and eclipse runs), and an informant's own records are held to the source share
    /// long before they fill a bucket of a book that has room.
    func isFull(newBucket bucket: Int) -> Bool {
        let start = flat(bucket, 0)
        for index in start..<start + config.bucketSize where newTable[index] == nil { return false }
        return true
    }

    /// A key's rank for new-table slots, keyed with the book's secret.
    func slotPriority(_ key: PublicKey) -> Int {
        keyedIndex("new-priority", [key.bytes], modulus: Int.max)
    }

    /// The relative chance of an entry to be accepted by `select` (Bitcoin Core's `GetChance`):
    /// 1, times 0.01 when tried in the last 10 minutes, times 0.66 per failed attempt up to 8.
    ///
    /// - Parameters:
    ///   - entry: The entry.
    ///   - now: The current time.
    /// - Returns: A value in (0, 1].
    public func chance(_ entry: BookEntry, now: Instant) -> Double {
        var chance = 1.0
        if let lastTry = entry.lastTry, now - lastTry < TimeSpan.minutes(10) { chance *= 0.01 }
        for _ in 0..<min(entry.attempts, 8) { chance *= 0.66 }
        return chance
    }

    // MARK: - Persistence

    /// Loads persisted entries into the book, re-deriving every position from the secret.
    ///
    /// Protected entries are placed first, then tried, then new, each in the given order. An
    /// entry whose place is taken falls back: protected (set full) and tried (slot taken) go to
    /// the new table; an entry whose new slot is taken, or whose key is already present, is
    /// dropped. Pending collisions are not persisted.
    ///
    /// - Parameter entries: Entries as persisted, e.g. a former `entries`.
    /// - Returns: The entries that did not fit, in input order of processing.
    @discardableResult
    public mutating func restore(_ entries: [BookEntry]) -> [BookEntry] {
        func rank(_ e: BookEntry) -> Int {
            switch e.location { case .protected: 0; case .tried: 1; case .new: 2 }
        }
        let ordered = entries.enumerated().sorted { a, b in
            (rank(a.element), a.offset) < (rank(b.element), b.offset)
        }.map(\.element)
        var dropped: [BookEntry] = []
        for var entry in ordered {
            let key = entry.publicKey
            if book[key] != nil { dropped.append(entry); continue }
            if entry.location == .protected, protectedKeys.count < config.maxProtected {
                addProtectedKey(key)
                book[key] = entry
                continue
            }
            if case .tried = entry.location {
                let position = triedPosition(of: entry)
                if triedTable[flat(position.bucket, position.slot)] == nil {
                    entry.location = .tried(bucket: position.bucket, slot: position.slot)
                    triedTable[flat(position.bucket, position.slot)] = key
                    triedCount += 1
                    book[key] = entry
                    syncGroup(key)
                    continue
                }
            }
            let position = newPosition(of: entry)
            guard newTable[flat(position.bucket, position.slot)] == nil else { dropped.append(entry); continue }
            entry.location = .new(bucket: position.bucket, slot: position.slot)
            newTable[flat(position.bucket, position.slot)] = key
            newCount += 1
            book[key] = entry
            syncGroup(key)
        }
        return dropped
    }

    // MARK: - Invariants

    /// Checks the internal consistency of the book.
    ///
    /// - Returns: One line per violation; empty when the book is consistent.
    public func checkInvariants() -> [String] {
        var problems: [String] = []
        var seen = Set<PublicKey>()
        // Walks the occupied index, not every slot: the tables are sparse and this runs after
        // every simulator step. The index cannot miss a filled slot, since every write to a
        // slot goes through `SlotTable`'s subscript; what it counts is checked against the
        // counters kept by the book.
        func checkTable(_ table: SlotTable, name: String, tried: Bool) -> Int {
            for position in table.occupied {
                let bucket = position / config.bucketSize, slot = position % config.bucketSize
                guard let key = table[position] else {
                    problems.append("\(name)[\(bucket)][\(slot)] indexed but empty")
                    continue
                }
                if !seen.insert(key).inserted { problems.append("\(key) appears more than once") }
                let expected: BookLocation = tried ? .tried(bucket: bucket, slot: slot) : .new(bucket: bucket, slot: slot)
                if book[key]?.location != expected { problems.append("\(name)[\(bucket)][\(slot)] holds \(key) located elsewhere") }
            }
            return table.occupied.count
        }
        if checkTable(newTable, name: "new", tried: false) != newCount { problems.append("newCount \(newCount) wrong") }
        if checkTable(triedTable, name: "tried", tried: true) != triedCount { problems.append("triedCount \(triedCount) wrong") }
        for (i, key) in protectedKeys.enumerated() {
            if !seen.insert(key).inserted { problems.append("\(key) appears more than once") }
            if book[key]?.location != .protected { problems.append("protected \(key) located elsewhere") }
            if i > 0 && !Self.precedes(protectedKeys[i - 1], key) { problems.append("protected keys not sorted") }
        }
        if protectedKeys.count > config.maxProtected { problems.append("protected set over capacity") }
        if seen.count != book.count || newCount + triedCount + protectedKeys.count != book.count {
            problems.append("\(book.count) entries but \(seen.count) placed")
        }
        for (key, entry) in book where entry.record.publicKey != key { problems.append("entry of \(key) holds another key's record") }
        var counts: [[UInt8]: Int] = [:]
        for entry in book.values where entry.location != .protected { counts[Self.addressGroup(of: entry.record), default: 0] += 1 }
        if counts != groupCounts { problems.append("group counts out of step with the entries") }
        var sources: [[UInt8]: Int] = [:]
        for entry in book.values where entry.location != .protected { sources[entry.sourceGroup, default: 0] += 1 }
        if sources != sourceCounts { problems.append("source counts out of step with the entries") }
        if pending.count > config.maxPendingCollisions { problems.append("too many pending collisions") }
        for (i, p) in pending.enumerated() {
            if case .new = book[p.newcomer]?.location {} else { problems.append("pending newcomer \(p.newcomer) not in new") }
            if case .tried = book[p.occupant]?.location {} else { problems.append("pending occupant \(p.occupant) not in tried") }
            if pending[..<i].contains(where: { $0.occupant == p.occupant || $0.newcomer == p.newcomer }) {
                problems.append("duplicate pending collision for \(p.occupant)")
            }
            if i > 0 && pending[i - 1].since > p.since { problems.append("pending collisions out of order") }
        }
        return problems
    }
}
