import PexWire

extension AddressBook {
    /// Notes a successful connection and moves a new entry to the tried table.
    ///
    /// The entry's statistics are updated in every case (`lastSuccess`, `lastTry`, `lastSeen`
    /// set to `now`, `attempts` reset). When its tried slot is held by another peer, the occupant
    /// is not evicted blindly (test-before-evict): the collision is queued, the newcomer stays in
    /// new, and the caller should test the occupant and report with
    /// `resolveCollision(occupant:reachable:now:)`.
    ///
    /// - Parameters:
    ///   - key: The peer.
    ///   - now: The current time.
    /// - Returns: What happened.
    @discardableResult
    public mutating func markSuccess(_ key: PublicKey, now: Instant) -> SuccessOutcome {
        guard var entry = book[key] else { return .unknown }
        entry.lastSuccess = now
        entry.lastTry = now
        entry.lastSeen = max(entry.lastSeen, now)
        entry.attempts = 0
        book[key] = entry
        guard case let .new(newBucket, newSlot) = entry.location else {
            return entry.location == .protected ? .protected : .alreadyTried
        }
        let position = triedPosition(of: entry)
        let triedIndex = flat(position.bucket, position.slot)
        if let occupant = triedTable[triedIndex] {
            if pending.contains(where: { $0.newcomer == key && $0.occupant == occupant }) {
                return .collision(with: occupant, queued: true)
            }
            // A newer record may have moved the newcomer's tried slot: forget the old collision.
            pending.removeAll { $0.newcomer == key }
            let queued = pending.count < config.maxPendingCollisions && !pending.contains { $0.occupant == occupant }
            if queued {
                let index = pending.firstIndex { $0.since > now } ?? pending.endIndex
                pending.insert(PendingCollision(occupant: occupant, newcomer: key, since: now), at: index)
            }
            return .collision(with: occupant, queued: queued)
        }
        pending.removeAll { $0.newcomer == key }
        newTable[flat(newBucket, newSlot)] = nil
        newCount -= 1
        triedTable[triedIndex] = key
        triedCount += 1
        entry.location = .tried(bucket: position.bucket, slot: position.slot)
        book[key] = entry
        return .movedToTried(bucket: position.bucket, slot: position.slot)
    }

    /// Settles a pending collision once its occupant has been tested.
    ///
    /// Reachable: the occupant keeps its slot and counts a success; the newcomer stays in new.
    /// Unreachable: the occupant counts a failure and moves back to new (or is removed when its
    /// new slot holds an entry that is not terrible), and the newcomer takes the tried slot.
    ///
    /// - Parameters:
    ///   - occupant: The tested tried entry, as named by `pendingCollisions`.
    ///   - reachable: Whether the test connection succeeded.
    ///   - now: The current time.
    /// - Returns: What happened.
    @discardableResult
    public mutating func resolveCollision(occupant: PublicKey, reachable: Bool, now: Instant) -> CollisionResolution {
        resolve(occupant: occupant, reachable: reachable, tested: true, now: now)
    }

    /// Resolves the collision of `occupant`; `tested` is false for a collision that timed out,
    /// which does not count against the occupant's statistics.
    mutating func resolve(occupant: PublicKey, reachable: Bool, tested: Bool, now: Instant) -> CollisionResolution {
        guard let index = pending.firstIndex(where: { $0.occupant == occupant }) else { return .notPending }
        let collision = pending.remove(at: index)
        guard var old = book[occupant] else { return .obsolete }
        if reachable {
            old.lastSuccess = now
            old.lastTry = now
            old.lastSeen = max(old.lastSeen, now)
            old.attempts = 0
            book[occupant] = old
            return .occupantKept
        }
        if tested {
            old.attempts = old.attempts < Int.max ? old.attempts + 1 : old.attempts
            old.lastTry = now
            book[occupant] = old
        }
        guard var newcomer = book[collision.newcomer], case let .new(newBucket, newSlot) = newcomer.location else {
            return .obsolete
        }
        let position = triedPosition(of: newcomer)
        let triedIndex = flat(position.bucket, position.slot)
        guard triedTable[triedIndex] == occupant else { return .obsolete }

        // Free the newcomer's new slot first: the occupant may hash to exactly that slot.
        newTable[flat(newBucket, newSlot)] = nil
        newCount -= 1
        triedTable[triedIndex] = nil
        triedCount -= 1
        var removed: [PublicKey] = []
        let back = newPosition(of: old)
        let backIndex = flat(back.bucket, back.slot)
        if let holder = newTable[backIndex], let held = book[holder], !isTerrible(held, now: now) {
            book[occupant] = nil
            syncGroup(occupant)
            pending.removeAll { $0.occupant == occupant || $0.newcomer == occupant }
            removed.append(occupant)
        } else {
            if let holder = newTable[backIndex] {
                _ = remove(holder)
                removed.append(holder)
            }
            old.location = .new(bucket: back.bucket, slot: back.slot)
            newTable[backIndex] = occupant
            newCount += 1
            book[occupant] = old
        }
        newcomer.location = .tried(bucket: position.bucket, slot: position.slot)
        triedTable[triedIndex] = collision.newcomer
        triedCount += 1
        book[collision.newcomer] = newcomer
        return .newcomerPromoted(newcomer: collision.newcomer, removed: removed.sorted(by: Self.precedes))
    }

    /// Housekeeping: removes every entry whose record has expired (protected ones too), then
    /// treats each collision pending for at least `replacementGrace` as unreachable.
    ///
    /// - Parameter now: The current time.
    /// - Returns: Every key removed from the book, sorted by key bytes.
    @discardableResult
    public mutating func expire(now: Instant) -> [PublicKey] {
        let seconds = now.unixSeconds
        var removed = book.values.filter { $0.record.expiresAt <= seconds }.map(\.publicKey)
        for key in removed { _ = remove(key) }
        while let oldest = pending.first, now - oldest.since >= config.replacementGrace {
            if case let .newcomerPromoted(_, gone) = resolve(occupant: oldest.occupant, reachable: false, tested: false, now: now) {
                removed += gone
            }
        }
        return removed.sorted(by: Self.precedes)
    }

    /// When `expire(now:)` next has work: the earliest record expiry or collision timeout.
    public var nextExpiry: Instant? {
        var next = pending.first.map { $0.since + config.replacementGrace }
        for entry in book.values {
            let (ns, overflow) = entry.record.expiresAt.multipliedReportingOverflow(by: 1_000_000_000)
            let at = Instant(nanoseconds: overflow ? .max : ns)
            if next.map({ at < $0 }) ?? true { next = at }
        }
        return next
    }
}
