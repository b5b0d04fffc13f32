import PexWire

extension Node {
    // MARK: Asking

    /// Sends a PeerRequest: a delta from the peer's last cursor when both sides do delta sync,
    /// else the full list. Gives the peer record credit for the answer (Bitcoin's getaddr credit).
    mutating func requestPeers(_ id: ConnectionID, since explicit: SyncCursor? = nil) {
        guard let c = connections[id], c.isReady, c.pending == nil, let key = c.peerKey else { return }
        let since = explicit ?? (c.session?.deltaSync == true ? cursors[key] : nil)
        let requestID = nextRequestID
        nextRequestID += 1
        c.pending = Connection.PendingRequest(id: requestID, sentAt: now, full: since == nil, recordsSoFar: 0, since: since)
        c.lastSyncAt = now
        c.limits.creditRecords(for: PeerRequest(requestID: 0, maxPeers: UInt32(config.maxPeersPerResponse)))
        send(id, .peerRequest(PeerRequest(requestID: requestID, maxPeers: UInt32(config.maxPeersPerResponse), since: since)))
    }

    // MARK: Answering

    /// Serves a PeerRequest: the full list from the windowed, shuffled snapshot, or what changed
    /// since the cursor; as many records as fit the peer's frame limit.
    mutating func answer(_ id: ConnectionID, _ request: PeerRequest) {
        guard let c = connections[id], let session = c.session else { return }
        // The peer credited its records bucket when it sent this request (§20.1), whether or not
        // it is answered: so does our copy of that bucket.
        c.peerAllowance.credit(request.recordsAsked)
        let continues = request.since != nil && request.since == c.continuation
        guard continues || c.limits.tryTake(.request, now: now) else {
            sendError(id, code: .rateLimited, message: "too many peer requests", closing: false)
            return punish(id, .rateLimited)
        }
        let limit = min(request.recordsAsked, config.maxPeersPerResponse)
        // A cursor of this log's epoch is always honoured (it may be a continuation of a paged
        // listing, which every responder must serve); DELTA_SYNC only tells the requester it may
        // keep cursors across exchanges. A full request, or a cursor this log cannot answer, is
        // served from the windowed snapshot.
        var page = fullListCache.respond(log: syncLog, after: request.since, limit: limit, now: now, random: &random)
        let full = page.full
        // Keep the frame under the peer's limit: count as we go, leave room for the envelope.
        let budget = session.peerMaxFrameSize - 64
        // Never more records than the peer's bucket takes: at least 1, as the credit just given
        // is (so a response with `more` still carries a record).
        let allowed = c.peerAllowance.available(now: now)
        var size = 0
        var records: [SignedPeerRecord] = []
        while true {
            var sent = 0
            for item in page.items {
                // Records the peer is known to hold are passed over: they would tell it nothing
                // (most of a delta after a burst of changes is what the peer got by relay).
                if let entry = book.entry(for: item.key),
                   connections[id]?.known.holds(item.key, seq: entry.record.seq) != true {
                    let signed = entry.record.signed
                    let cost = signed.listedSize
                    if size + cost > budget || records.count >= allowed { break }
                    size += cost
                    records.append(signed)
                    connections[id]?.known.note(item.key, seq: entry.record.seq)
                }
                sent += 1
            }
            let passedOver = sent == page.items.count
            if !passedOver { page = page.truncated(to: sent) }
            // A response with `more` must carry a record (§11.1): when a whole page was passed
            // over, carry on from the live log after it.
            guard records.isEmpty, passedOver, page.more else { break }
            page = fullListCache.respond(log: syncLog, after: page.next, limit: limit, now: now, random: &random)
        }
        let next = page.next
        let more = page.more
        _ = c.peerAllowance.take(upTo: records.count, now: now)
        connections[id]?.continuation = more ? next : nil
        send(id, .peerResponse(PeerResponse(requestID: request.requestID, records: records, next: next, more: more, full: full)))
    }

    // MARK: Receiving records

    mutating func handleResponse(_ id: ConnectionID, _ response: PeerResponse) {
        guard let c = connections[id], let pending = c.pending, pending.id == response.requestID else {
            return punish(id, .unsolicitedResponse)
        }
        connections[id]?.pending = nil
        handleRecords(id, response.records, kind: "response")
        guard connections[id]?.isReady == true, let key = c.peerKey else { return }
        if let next = response.next {
            if cursors[key] == nil && cursors.count >= Self.maxCursors {
                // Bounded: forget the cursors of peers no longer in the book first (a missing
                // cursor only costs one full listing).
                let stale = cursors.keys.filter { book.entry(for: $0) == nil }.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
                for old in stale.prefix(cursors.count - Self.maxCursors + 1) { cursors[old] = nil }
                if cursors.count >= Self.maxCursors, let first = cursors.keys.min(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
                    cursors[first] = nil
                }
            }
            cursors[key] = next
            persist(.cursor(key, next))
        }
        let total = pending.recordsSoFar + response.records.count
        // A listing is full if its first page was; continuation pages are deltas of it.
        let full = pending.recordsSoFar == 0 && !pending.continued ? response.full : pending.full
        // Continue while the responder says there is more and its cursor moves (a cursor that
        // does not advance would loop forever).
        if response.more, let next = response.next, !response.records.isEmpty || next != pending.since {
            requestPeers(id, since: next)
            connections[id]?.pending?.recordsSoFar = total
            connections[id]?.pending?.full = full
            connections[id]?.pending?.continued = true
            return
        }
        metrics.syncRounds += 1
        metrics.syncRecords += total
        connections[id]?.exchanges += 1
        event(.syncCompleted(key, records: total, full: full))
        if !initialSyncDone {
            initialSyncDone = true
            updateState()
        }
        // A refresh feeler ends with its one exchange (§15.4).
        if connections[id]?.purpose == .feeler {
            close(id, code: .unspecified, message: "feeler done", reason: "feeler done", sendError: false)
        }
    }

    /// Validates and learns every record of a message, within the peer's record rate limit.
    /// - Returns: How many were accepted.
    @discardableResult
    mutating func handleRecords(_ id: ConnectionID, _ records: [SignedPeerRecord], kind: String) -> Int {
        guard let c = connections[id] else { return 0 }
        // The relays of a whole message go out together: one frame per target and kind instead
        // of one per record, which would overrun the peers' frame limit (§20.1) whenever a
        // response brings hundreds of new records.
        relayBatch = RelayBatch()
        defer { flushRelays() }
        let allowed = c.limits.take(.records, upTo: records.count, now: now)
        if allowed < records.count {
            metrics.rejections["rate-limited", default: 0] += records.count - allowed
            punish(id, .rateLimited)
        }
        let source = c.peerKey
        let sourceGroup = c.remoteIP?.netGroup ?? []
        var accepted = 0
        for signed in records.prefix(allowed) {
            guard phase(of: id) == .ready else { break }
            // Decoded once: the claimed key finds the stored record, and validation goes on
            // from the same parse.
            let parsed = validator.parse(signed)
            // (No closure over `self` here: it would copy the whole node per record.)
            var known: VerifiedPeerRecord?
            if case let .success(record) = parsed, let key = PublicKey(unvalidated: record.publicKeyBytes) {
                known = book.entry(for: key)?.record
            }
            switch validator.validate(parsed, now: now, known: known) {
            case let .accepted(record, _):
                connections[id]?.known.note(record.publicKey, seq: record.seq)
                if record.publicKey == identity.publicKey {
                    // A record of ours we did not sign in this run (our seq store was lost, or a
                    // second instance runs with our key): jump past it so our next record wins.
                    if record.seq > ownSeq || (record.seq == ownSeq && record.signed != ownRecord) {
                        ownSeq = record.seq
                        signOwnRecord()
                        announceOwnRecord()
                    }
                    continue
                }
                if bans.isBanned(.key(record.publicKey), now: now) {
                    // A banned key's records are neither stored nor relayed while the ban lasts.
                    metrics.reject("banned-key")
                    continue
                }
                accepted += 1
                metrics.recordsAccepted += 1
                // Announcements and updates come unasked; a response answers our request.
                learn(record, from: source, via: id, sourceGroup: sourceGroup, unsolicited: kind != "response")
            case .duplicate:
                metrics.recordsDuplicate += 1
                if let known { connections[id]?.known.note(known.publicKey, seq: known.seq) }
                // Seen again: refreshes lastSeen, which keeps the entry from going stale.
                if let known {
                    let protected = Self.isProtected(known.publicKey, roster: config.roster, labMode: config.labMode)
                    _ = book.insert(known, sourceGroup: sourceGroup, protected: protected, now: now)
                }
            case .stale:
                metrics.recordsStale += 1
                punish(id, .staleRecord)
            case let .equivocation(new, existing):
                handleEquivocation(new, existing)
            case let .rejected(rejection):
                metrics.reject(rejection.reason)
                event(.recordRejected(reason: rejection.reason, from: source))
                switch rejection {
                case .notAMember: punish(id, .notAMember)
                case let .invalid(error) where error == .badSignature: punish(id, .badSignature)
                default: punish(id, .invalidRecord)
                }
            }
        }
        return accepted
    }


    /// Stores a verified record, tells the application, and relays it onward once.
    ///
    /// A new key that arrived `unsolicited` (announcement or update) is dropped, neither stored
    /// nor relayed, while its source group holds its full share of the book
    /// (`AddressBookConfig.maxSourceShare`, §16.3): a flooder inventing keys cannot fill the
    /// book however many connections and identities it uses. The sender is not punished: an
    /// honest peer relaying a burst of joins looks the same, and what is dropped reaches us
    /// again by sync.
    mutating func learn(_ record: VerifiedPeerRecord, from source: PublicKey?, via id: ConnectionID, sourceGroup: [UInt8] = [],
                        unsolicited: Bool = false) {
        let key = record.publicKey
        // The peer it came from holds it (a relayed record, or the peer's own from its Hello).
        connections[id]?.known.note(key, seq: record.seq)
        let protected = Self.isProtected(key, roster: config.roster, labMode: config.labMode)
        if unsolicited, !protected, !book.contains(key), !book.sourceHasRoom(sourceGroup) {
            metrics.reject("source-share")
            return
        }
        let outcome = book.insert(record, sourceGroup: sourceGroup, protected: protected, now: now)
        bookExpiryDue = min(bookExpiryDue, Instant.unix(seconds: record.expiresAt))
        var relayAs: Frame?
        switch outcome {
        case .added, .addedReplacing, .addedOutranking:
            let displaced: (key: PublicKey, reason: String)? = switch outcome {
            case let .addedReplacing(evicted): (evicted, "bucket collision")
            case let .addedOutranking(evicted): (evicted, "outranked")
            default: nil
            }
            if let displaced {
                syncLog.noteRemoval(displaced.key)
                persist(.removePeer(displaced.key))
                event(.peerEvicted(displaced.key, reason: displaced.reason))
            }
            syncLog.noteChange(key)
            persistPeer(key)
            // A record relayed or listed (not the peer's own Hello): the peer was useful.
            if source != nil { connections[id]?.lastUsefulAt = now }
            event(.peerDiscovered(key, seq: record.seq, addresses: record.addresses))
            // A key that wins a slot of a full bucket is one of a network larger than the book:
            // the book only resamples it, and relaying each resample made every node's
            // resampling feed its peers' (§18.2). Peers still get it by sync.
            let resampled = if case .addedOutranking = outcome { true } else { false }
            if !resampled { relayAs = .peerAnnouncement(PeerAnnouncement(records: [record.signed])) }
        case .updated:
            syncLog.noteChange(key)
            persistPeer(key)
            if source != nil { connections[id]?.lastUsefulAt = now }
            event(.peerUpdated(key, seq: record.seq, addresses: record.addresses))
            relayAs = .peerUpdate(PeerUpdate(records: [record.signed]))
        case .dropped:
            metrics.recordsNotStored += 1
            // A peer's own record (its Hello, or an update it signed) that found its slot here
            // taken is still news: relayed, it can reach a book with room. Without this, a node
            // whose outbound peers all had the slot taken was held by nobody and never dialled
            // (§18.2; Bitcoin Core relays addresses whether or not its table keeps them). One
            // record per connection and seq, so a peer cannot use it to spread others' records.
            let firstHand = source == nil || source == key
            if firstHand, !protected, book.groupHasRoom(AddressBook.addressGroup(of: record)) {
                relayAs = .peerAnnouncement(PeerAnnouncement(records: [record.signed]))
            }
        case .unchanged, .stale:
            break
        }
        guard let frame = relayAs, seen.insert(publicKey: key, seq: record.seq) else { return }
        relay(frame, key: key, seq: record.seq,
              except: [id] + (source == nil ? [] : connectionOrder.filter { $0 != id && peerKey(of: $0) == source }))
    }

    /// Sends a new or updated record to `relayFanout` random ready peers, never to its source
    /// nor to a peer known to hold it already.
    mutating func relay(_ frame: Frame, key: PublicKey, seq: UInt64, except: [ConnectionID]) {
        var candidates = connectionOrder.filter {
            guard phase(of: $0) == .ready, !except.contains($0) else { return false }
            // A peer whose records bucket is spent would drop the record and charge us: it
            // gets it by its next sync instead (§18.2).
            guard connections[$0]?.peerAllowance.available(now: now) ?? 0 > 0 else { return false }
            return !knownHolds($0, key, seq: seq)
        }
        var chosen = 0
        while chosen < config.relayFanout && !candidates.isEmpty {
            let index = Int.random(in: 0..<candidates.count, using: &random)
            let target = candidates.remove(at: index)
            if relayBatch != nil { relayBatch?.add(frame, to: target) } else { send(target, frame) }
            _ = connections[target]?.peerAllowance.take(upTo: 1, now: now)
            connections[target]?.known.note(key, seq: seq)
            chosen += 1
            metrics.relays += 1
        }
    }

    /// Sends the relays collected while a message was handled: per target, in the order the
    /// targets were first chosen, one `PeerAnnouncement` and one `PeerUpdate` (more when the
    /// records do not fit one frame of the peer's size or `WireLimits.maxRecordsPerMessage`).
    mutating func flushRelays() {
        guard let batch = relayBatch else { return }
        relayBatch = nil
        for target in batch.order {
            guard let budget = connections[target]?.session.map({ $0.peerMaxFrameSize - 64 }) else { continue }
            for (records, isUpdate) in [(batch.announcements[target] ?? [], false), (batch.updates[target] ?? [], true)] {
                for chunk in RelayBatch.chunks(records, budget: budget) {
                    send(target, isUpdate ? .peerUpdate(PeerUpdate(records: chunk)) : .peerAnnouncement(PeerAnnouncement(records: chunk)))
                }
            }
        }
    }

    /// Same key, same seq, different bytes: both signatures are valid, so the signer equivocated.
    /// Both records are kept as evidence and the key is banned. On the first detection the two
    /// records go to every ready peer as evidence (§19.2): a node holding one version would
    /// never see the other, since (key, seq) is relayed once.
    mutating func handleEquivocation(_ new: VerifiedPeerRecord, _ existing: VerifiedPeerRecord) {
        let key = new.publicKey
        let firstDetection = evidence[key] == nil
        var proof = evidence[key] ?? [existing.signed]
        if !proof.contains(new.signed) { proof.append(new.signed) }
        if evidence[key] == nil {
            // Bounded: the store keeps all evidence; memory keeps the most recent keys.
            evidenceOrder.append(key)
            if evidenceOrder.count > Self.maxEvidenceKeys { evidence[evidenceOrder.removeFirst()] = nil }
        }
        evidence[key] = Array(proof.prefix(4))
        persist(.equivocation(key, proof))
        event(.equivocation(key, seq: new.seq))
        metrics.reject("equivocation")
        let until = now + config.misbehaviour.banDuration
        ban(.key(key), until: until, reason: "equivocation")
        if book.remove(key) != nil {
            syncLog.noteRemoval(key)
            persist(.removePeer(key))
            event(.peerEvicted(key, reason: "equivocation"))
        }
        // A version stored earlier in the same message must not be relayed after all.
        relayBatch?.remove { $0 == existing.signed || $0 == new.signed }
        guard firstDetection else { return }
        let proofFrame = Frame.peerUpdate(PeerUpdate(records: [existing.signed, new.signed]))
        for id in connectionOrder where connections[id]?.isReady == true {
            guard connections[id]?.peerAllowance.tryTake(2, now: now) == true else { continue }
            send(id, proofFrame)
        }
    }

    /// Writes the book's current view of a peer to the store.
    mutating func persistPeer(_ key: PublicKey) {
        guard let entry = book.entry(for: key) else { return }
        persist(.upsertPeer(StoredPeer(
            record: entry.record.signed, sourceGroup: entry.sourceGroup, addedAt: entry.addedAt, lastSeen: entry.lastSeen,
            lastTry: entry.lastTry, lastSuccess: entry.lastSuccess, attempts: entry.attempts,
            tried: entry.location.isTried, protected: entry.location == .protected)))
    }

    // MARK: Test-before-evict

    /// A new peer wants a tried slot held by `occupant`: test the occupant with a feeler.
    mutating func scheduleCollisionTest(_ occupant: PublicKey) {
        // Connected right now: it is reachable. A connection still being set up will report
        // through its own handshake or failure.
        if readyPeers.contains(occupant) { return resolveCollisionTest(occupant, reachable: true) }
        if busyKeys.contains(occupant) { return }
        guard let entry = book.entry(for: occupant), let address = dialAddress(for: entry.record) else {
            // Nothing dialable left: it cannot defend its slot.
            return resolveCollisionTest(occupant, reachable: false)
        }
        dial(address, purpose: .feeler, expectedKey: occupant)
    }

    mutating func resolveCollisionTest(_ occupant: PublicKey, reachable: Bool) {
        switch book.resolveCollision(occupant: occupant, reachable: reachable, now: now) {
        case .notPending, .obsolete:
            break
        case .occupantKept:
            persistPeer(occupant)
        case let .newcomerPromoted(newcomer, removed):
            persistPeer(newcomer)
            persistPeer(occupant)
            for key in removed {
                syncLog.noteRemoval(key)
                persist(.removePeer(key))
                event(.peerEvicted(key, reason: "lost its tried slot"))
            }
        }
    }
}

/// Relays collected while one message's records are handled (`Node.flushRelays`).
struct RelayBatch {
    /// Targets in the order they were first chosen (the order frames go out).
    var order: [ConnectionID] = []
    var announcements: [ConnectionID: [SignedPeerRecord]] = [:]
    var updates: [ConnectionID: [SignedPeerRecord]] = [:]

    /// Forgets the records matching `shouldRemove` (a key found equivocating meanwhile).
    mutating func remove(where shouldRemove: (SignedPeerRecord) -> Bool) {
        for target in order {
            announcements[target]?.removeAll(where: shouldRemove)
            updates[target]?.removeAll(where: shouldRemove)
        }
    }

    mutating func add(_ frame: Frame, to target: ConnectionID) {
        if announcements[target] == nil && updates[target] == nil { order.append(target) }
        switch frame {
        case let .peerAnnouncement(a): announcements[target, default: []] += a.records
        case let .peerUpdate(u): updates[target, default: []] += u.records
        default: break
        }
    }

    /// `records` cut into runs that fit a frame of `budget` bytes and `WireLimits.maxRecordsPerMessage`.
    static func chunks(_ records: [SignedPeerRecord], budget: Int) -> [[SignedPeerRecord]] {
        var result: [[SignedPeerRecord]] = []
        var current: [SignedPeerRecord] = []
        var size = 0
        for record in records {
            let cost = record.listedSize
            if !current.isEmpty && (size + cost > budget || current.count == WireLimits.maxRecordsPerMessage) {
                result.append(current)
                current = []
                size = 0
            }
            current.append(record)
            size += cost
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
