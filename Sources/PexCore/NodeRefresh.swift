import PexWire

// Refresh feelers (docs/PROTOCOL.md §15.4).
//
// In roster mode every entry of the book is protected, so the new table that regular feelers
// test stays empty: without something else, a node never opened a connection outside its 8
// outbound peers, and two halves of a healed partition never met again. A refresh feeler is a
// short connection to the member we have been connected to least recently; it syncs once, only
// when the handshake shows the peer's record newer than ours (we were cut off from where it
// lives), and is closed after that exchange. Its acceptor may be the one behind: it sees a
// newer record in the dialler's Hello, and once the feeler has left, it dials the dialler back
// for a sync of its own (in which the dialler's request is answered too). In a converged
// federation the handshake is all it costs.

extension Node {
    /// The longest a failed member is held back from refresh feelers: `feelerInterval` doubles
    /// per failure since its last success up to this many times.
    static let refreshBackoffDoublings = 5

    /// Picks the target of a refresh feeler among `entries`: not excluded, not backing off after
    /// a failure, and connected least recently (never connected counts as longest ago); equal
    /// candidates are drawn at random.
    ///
    /// A failed entry waits `feelerInterval × 2^(attempts − 1)` (at most 2^5 times) after its last
    /// try, so dead members cost few dials while a reachable member cut off for long is first.
    /// - Parameters:
    ///   - entries: The book's entries (in any order: they are sorted by key first).
    ///   - now: The current time.
    ///   - feelerInterval: The feeler period, the unit of the failure back-off.
    ///   - rng: The node's random source; the same state gives the same pick.
    ///   - isExcluded: Keys that may not be picked (own, connected, banned, non-members).
    /// - Returns: The chosen entry, or `nil` when none qualifies.
    static func refreshTarget(
        _ entries: some Sequence<BookEntry>, now: Instant, feelerInterval: TimeSpan,
        using rng: inout some RandomNumberGenerator, excluding isExcluded: (PublicKey) -> Bool
    ) -> BookEntry? {
        var best: [BookEntry] = []
        var bestSuccess: Instant?
        for entry in entries where !isExcluded(entry.publicKey) {
            if entry.attempts > 0, let lastTry = entry.lastTry {
                let wait = feelerInterval * (UInt64(1) << UInt64(min(max(entry.attempts - 1, 0), refreshBackoffDoublings)))
                if now - lastTry < wait { continue }
            }
            let success = entry.lastSuccess
            if best.isEmpty || Self.earlier(success, than: bestSuccess) {
                best = [entry]
                bestSuccess = success
            } else if success == bestSuccess {
                best.append(entry)
            }
        }
        guard !best.isEmpty else { return nil }
        // Dictionary order differs between processes: sort, so the pick depends on the rng only.
        best.sort { $0.publicKey.bytes.lexicographicallyPrecedes($1.publicKey.bytes) }
        return best[Int(truncatingIfNeeded: rng.next(upperBound: UInt64(best.count)))]
    }

    /// Whether a last success `a` is older than `b`, a missing one being the oldest.
    static func earlier(_ a: Instant?, than b: Instant?) -> Bool {
        switch (a, b) {
        case (nil, nil): false
        case (nil, _): true
        case (_, nil): false
        case let (a?, b?): a < b
        }
    }

    /// Opens a refresh feeler, when a member qualifies (see `refreshTarget`).
    mutating func refreshFeeler() {
        let busy = busyKeys
        let now = self.now
        let banned = bans
        let own = identity.publicKey
        let roster = config.roster
        guard let entry = Self.refreshTarget(book.book.values, now: now, feelerInterval: config.feelerInterval, using: &random, excluding: {
            $0 == own || busy.contains($0) || banned.isBanned(.key($0), now: now) || !(roster?.contains($0) ?? true)
        }), let address = dialAddress(for: entry.record) else { return }
        if let ip = address.ipAddress, bans.isBanned(.address(ip), now: now) { return }
        dial(address, purpose: .feeler, expectedKey: entry.publicKey)
        if let id = connectionOrder.last { connections[id]?.refreshSeq = entry.record.seq }
    }

    /// Dials back, as a refresh feeler that syncs, a peer that left an inbound connection
    /// before answering us although its `Hello` showed us behind (§15.4). That peer's refresh
    /// feeler only syncs when the *dialler* is behind; without the dial-back, what the peer knows
    /// and we do not would wait for one of our own feelers to reach its part of the network.
    ///
    /// At most one dial-back is in flight at a time, so a peer cannot make us dial at will.
    /// - Parameters:
    ///   - key: The peer.
    ///   - heldSeq: The `seq` of its record we held before its `Hello`: the dial-back syncs
    ///     when the peer's `Hello` shows a newer one, which it will unless the record changed back.
    mutating func dialBack(_ key: PublicKey, heldSeq: UInt64) {
        guard state != .stopped, !busyKeys.contains(key), !bans.isBanned(.key(key), now: now),
              config.roster?.contains(key) ?? true,
              !connections.values.contains(where: { $0.isDialBack && $0.phase != .closing }),
              let entry = book.entry(for: key), let address = dialAddress(for: entry.record) else { return }
        if let ip = address.ipAddress, bans.isBanned(.address(ip), now: now) { return }
        dial(address, purpose: .feeler, expectedKey: key)
        guard let id = connectionOrder.last else { return }
        connections[id]?.refreshSeq = heldSeq
        connections[id]?.isDialBack = true
        metrics.refreshDialBacks += 1
    }

    /// A feeler's handshake completed: a refresh feeler whose peer showed a record newer than
    /// the one we dialled it for stays open for one sync exchange (closed when it completes,
    /// §15.4). Every other feeler is done.
    /// - Returns: Whether the connection stays open for the exchange.
    mutating func feelerSyncs(_ id: ConnectionID, _ record: VerifiedPeerRecord) -> Bool {
        guard let known = connections[id]?.refreshSeq, record.seq > known else { return false }
        metrics.refreshSyncs += 1
        requestPeers(id)
        return connections[id]?.pending != nil
    }
}
