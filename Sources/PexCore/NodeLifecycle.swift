import PexWire

extension Node {
    // MARK: Start, own record, commands

    mutating func load(_ stored: PersistedState) {
        if let key = stored.bucketKey {
            let hash: @Sendable ([UInt8]) -> [UInt8] = { [crypto] in crypto.hash256($0) }
            book = AddressBook(config: config.addressBook, secret: key, hash: hash)
        } else {
            persist(.bucketKey(bucketKey))
        }
        ownSeq = stored.ownSeq
        cursors = stored.cursors
        bans.restore(stored.bans, now: now)
        // Stored records are verified again: the store is not trusted more than the network, and
        // records that expired while the node was down must go.
        var restored: [BookEntry] = []
        for peer in stored.peers {
            guard case let .accepted(record, _) = validator.validate(peer.record, known: nil, now: now) else {
                if let key = keyOf(peer.record) { persist(.removePeer(key)) }
                continue
            }
            let location: BookLocation = peer.protected || isProtected(record.publicKey)
                ? .protected : peer.tried ? .tried(bucket: 0, slot: 0) : .new(bucket: 0, slot: 0)
            restored.append(BookEntry(
                record: record, sourceGroup: peer.sourceGroup, addedAt: peer.addedAt, lastSeen: peer.lastSeen,
                lastTry: peer.lastTry, lastSuccess: peer.lastSuccess, attempts: peer.attempts, location: location))
        }
        // Sorted by key: the store's row order must not decide which entries win a slot.
        restored.sort { $0.publicKey.bytes.lexicographicallyPrecedes($1.publicKey.bytes) }
        for dropped in book.restore(restored) { persist(.removePeer(dropped.publicKey)) }
        for entry in book.entries { syncLog.noteChange(entry.publicKey) }
    }

    /// The key a signed record claims, unvalidated: for lookups and bookkeeping only.
    func keyOf(_ signed: SignedPeerRecord) -> PublicKey? {
        guard let record = try? PeerRecord(decoding: signed.record) else { return nil }
        return PublicKey(unvalidated: record.publicKey)
    }

    func isMember(_ key: PublicKey) -> Bool { config.roster?.contains(key) ?? false }

    /// Whether a record is kept outside the buckets: roster members always; every record in lab
    /// mode, where all addresses share one network group, so bucketing would only make slot
    /// collisions drop peers of a small local network (and protects against nothing there).
    func isProtected(_ key: PublicKey) -> Bool {
        Self.isProtected(key, roster: config.roster, labMode: config.labMode)
    }

    /// `isProtected` for the per-record paths: a method call on `self` from mutating code makes
    /// Swift copy the whole node first, and these run for every record received.
    static func isProtected(_ key: PublicKey, roster: Set<PublicKey>?, labMode: Bool) -> Bool {
        if labMode { return true }
        guard let roster else { return false }
        return roster.contains(key)
    }

    mutating func startUp() {
        signOwnRecord()
        setState(.bootstrapping)
        state = .bootstrapping
        nextSyncAt = now + config.syncInterval
        nextMaintenanceAt = now
    }

    /// Signs a new own record with a seq never used before: at least the Unix time, and above
    /// the last persisted one, so a restart (even with a clock set back) never repeats a seq.
    mutating func signOwnRecord() {
        let seq = max(ownSeq + 1, now.unixSeconds)
        let expires = (now + config.recordLifetime).unixSeconds
        do {
            let record = try SignedPeerRecord.create(
                keyPair: identity, seq: seq, addresses: config.advertisedAddresses, networkID: config.networkID,
                expiresAt: expires, crypto: crypto)
            ownRecord = record
            ownExpiresAt = expires
            ownSeq = seq
            persist(.ownSeq(seq))
            event(.ownRecordChanged(seq: seq))
        } catch {
            // Without a valid record the node cannot complete a handshake; it stays up (inbound
            // connections are refused in the handshake) and says why.
            ownRecord = nil
            metrics.reject("own-record-\(error.reason)")
            event(.recordRejected(reason: "own record: \(error)", from: identity.publicKey))
        }
    }

    /// Re-signs and announces our record when it nears expiry.
    mutating func refreshOwnRecordIfDue() {
        // The expiry is kept from signing: decoding our own record every second cost more than
        // the rest of an idle node's maintenance.
        guard ownRecord != nil else { return }
        if now + config.recordRefreshMargin >= Instant.unix(seconds: ownExpiresAt) {
            signOwnRecord()
            announceOwnRecord()
        }
    }

    mutating func announceOwnRecord() {
        guard let own = ownRecord else { return }
        for id in connectionOrder where connections[id]?.isReady == true {
            // A peer whose allowance is spent gets it by sync instead (§18.1).
            guard connections[id]?.peerAllowance.tryTake(now: now) == true else { continue }
            send(id, .peerUpdate(PeerUpdate(records: [own])))
        }
    }

    mutating func execute(_ command: Command) {
        switch command {
        case let .addBootstrapPeer(address):
            if !bootstrap.configured.contains(address) { bootstrap.configured.append(address) }
            config.bootstrapPeers = bootstrap.configured
        case let .removeBootstrapPeer(address):
            bootstrap.configured.removeAll { $0 == address }
            config.bootstrapPeers = bootstrap.configured
        case let .connect(address):
            dial(address, purpose: .manual, expectedKey: nil)
        case let .disconnect(key):
            for id in connectionOrder where connections[id]?.peerKey == key {
                close(id, code: .unspecified, message: "disconnect requested", reason: "disconnect requested")
            }
        case let .reload(newConfig):
            reload(newConfig)
        case .reset:
            reset()
        case .shutdown:
            shutdown()
        }
    }

    /// Applies a new configuration without dropping connections.
    mutating func reload(_ newConfig: NodeConfig) {
        let old = config
        config = newConfig
        validator.policy = Self.policy(newConfig)
        bootstrap.configured = newConfig.bootstrapPeers
        bootstrap.dnsSeeds = newConfig.dnsSeeds
        bootstrap.fixed = newConfig.fixedPeers
        bootstrap.dnsPort = newConfig.dnsSeedPort
        if old.advertisedAddresses != newConfig.advertisedAddresses || old.networkID != newConfig.networkID {
            signOwnRecord()
            announceOwnRecord()
        }
        // A roster change applies to who is connected now, too.
        if let roster = newConfig.roster {
            for id in connectionOrder {
                if let key = connections[id]?.peerKey, !roster.contains(key) {
                    close(id, code: .notAMember, message: "not a member", reason: "removed from the roster")
                }
            }
            for entry in book.entries where !roster.contains(entry.publicKey) {
                _ = book.remove(entry.publicKey)
                syncLog.noteRemoval(entry.publicKey)
                persist(.removePeer(entry.publicKey))
                event(.peerEvicted(entry.publicKey, reason: "not a member"))
            }
        }
    }

    mutating func reset() {
        for id in connectionOrder { close(id, code: .shuttingDown, message: "reset", reason: "reset") }
        for entry in book.entries {
            _ = book.remove(entry.publicKey)
            syncLog.noteRemoval(entry.publicKey)
            persist(.removePeer(entry.publicKey))
        }
        cursors = [:]
        initialSyncDone = false
        bootstrap = BootstrapSources(config: config)
        setState(.bootstrapping)
        nextMaintenanceAt = now
    }

    mutating func shutdown() {
        for id in connectionOrder {
            close(id, code: .shuttingDown, message: "shutting down", reason: "shutdown")
        }
        setState(.stopped)
    }
}
