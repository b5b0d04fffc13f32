import PexWire

extension Node {
    // MARK: Time-driven work

    /// Everything whose deadline has passed: handshake and idle timeouts, pings, request
    /// timeouts, periodic sync, outbound management, feelers, expiry of records and bans.
    mutating func runTimers() {
        for id in connectionOrder {
            guard let c = connections[id] else { continue }
            switch c.phase {
            case .dialing, .awaitingHello, .awaitingAuth:
                if now >= c.openedAt + config.handshakeTimeout {
                    if c.phase == .dialing {
                        noteDialFailure(c)
                        remove(id, reason: "dial timed out", closeTransport: true)
                    } else {
                        handshakeFailure(id, code: .timeout, message: "handshake timed out", offence: nil)
                    }
                }
            case .ready:
                if now >= c.lastReceived + config.idleTimeout {
                    close(id, code: .timeout, message: "no traffic", reason: "idle timeout")
                } else if let pending = c.pending, now >= pending.sentAt + config.requestTimeout {
                    close(id, code: .timeout, message: "request \(pending.id) unanswered", reason: "request timeout")
                } else if c.pingNonce == nil, now >= c.lastReceived + config.pingInterval {
                    let nonce = random.next()
                    connections[id]?.pingNonce = nonce
                    connections[id]?.pingSentAt = now
                    send(id, .ping(Ping(nonce: nonce)))
                }
            case .closing:
                // The driver reports `.closed`; if it never does, forget the connection anyway.
                if now >= c.lastReceived + config.handshakeTimeout { remove(id, reason: "close timed out") }
            }
        }
        if now >= nextMaintenanceAt {
            nextMaintenanceAt = now + .seconds(1)
            maintain()
        }
        if now >= nextSyncAt {
            nextSyncAt = now + config.syncInterval - config.syncJitter + random.jitter(upTo: config.syncJitter * 2)
            periodicSync()
        }
        if now >= nextFeelerAt {
            nextFeelerAt = now + config.feelerInterval
            feeler()
        }
    }

    /// Once a second: expire records and bans, refresh our record, keep the outbound target.
    mutating func maintain() {
        for key in book.expire(now: now) {
            syncLog.noteRemoval(key)
            persist(.removePeer(key))
            event(.peerEvicted(key, reason: "expired"))
        }
        for lifted in bans.expire(now: now) { persist(.unban(lifted.subject)) }
        refreshOwnRecordIfDue()
        fillOutbound()
        updateState()
    }

    /// Asks the `syncFanout` ready peers synced longest ago for what changed.
    mutating func periodicSync() {
        let ready = connectionOrder.compactMap { id -> (ConnectionID, Instant)? in
            guard let c = connections[id], c.isReady, c.pending == nil, c.purpose != .feeler else { return nil }
            return (id, c.lastSyncAt ?? Instant(nanoseconds: 0))
        }
        let oldest = ready.sorted { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.prefix(config.syncFanout)
        for (id, _) in oldest { requestPeers(id) }
    }

    // MARK: Outbound connections

    /// Outbound connections that count toward the target (feelers and closing ones do not).
    var outboundCount: Int {
        connectionOrder.filter {
            guard let c = connections[$0] else { return false }
            return c.direction == .outbound && c.phase != .closing && c.purpose != .feeler
        }.count
    }

    /// Network groups we already have an outbound connection into.
    var outboundGroups: Set<[UInt8]> {
        Set(connectionOrder.compactMap { id -> [UInt8]? in
            guard let c = connections[id], c.direction == .outbound, c.phase != .closing, c.purpose != .feeler else { return nil }
            return c.remoteIP?.netGroup
        })
    }

    /// Keys we are connected or connecting to.
    var busyKeys: Set<PublicKey> {
        Set(connectionOrder.flatMap { id -> [PublicKey] in
            guard let c = connections[id], c.phase != .closing else { return [] }
            return [c.peerKey, c.expectedKey].compactMap { $0 }
        })
    }

    /// Dials until the outbound target is met: address book first, then the bootstrap fallbacks.
    mutating func fillOutbound() {
        var attempts = 0
        while outboundCount < config.targetOutbound && attempts < config.targetOutbound * 4 {
            attempts += 1
            if !dialFromBook() { break }
        }
        if outboundCount < config.targetOutbound && readyPeers.isEmpty {
            dialBootstrap()
        }
    }

    /// How long after an attempt a peer is not dialled again from the address book.
    static let redialInterval = TimeSpan.seconds(60)

    /// Picks a peer from the address book (mixing tried and new, avoiding recent failures).
    /// - Returns: Whether a dial started.
    mutating func dialFromBook() -> Bool {
        let busy = busyKeys
        let banned = bans
        let now = self.now
        let lab = config.labMode
        let own = identity.publicKey
        let ownAddresses = self.ownAddresses
        let roster = config.roster
        // A peer tried in the last `redialInterval` is skipped (Bitcoin Core skips addresses tried
        // in the last 10 minutes): `select` only makes them unlikely, and its weighed fallback
        // picks one anyway when it is the only candidate, so a dead peer was redialled every
        // second. (A set: only membership is asked, so no order leaks into behaviour.)
        let recentlyTried = Set(book.book.values.compactMap { entry -> PublicKey? in
            guard let lastTry = entry.lastTry, now - lastTry < Self.redialInterval else { return nil }
            return entry.publicKey
        })
        let exclude: (PublicKey) -> Bool = { key in
            key == own || busy.contains(key) || recentlyTried.contains(key) || banned.isBanned(.key(key), now: now)
                || !(roster?.contains(key) ?? true)
        }
        // With no candidate left `select` probes hundreds of buckets in vain, and this runs every
        // second: in a small network where every known peer is connected, that was most of the
        // node's CPU. (Only existence is asked, so the dictionary's order decides nothing.)
        guard book.book.keys.contains(where: { !exclude($0) }) else { return false }
        guard let entry = book.select(now: now, using: &random, excluding: exclude) else { return false }
        // Computed only once there is a pick: this runs every second.
        let groups = outboundGroups
        guard let address = dialAddress(for: entry.record), !ownAddresses.contains(address) else {
            book.markFailure(entry.publicKey, now: now)
            return true
        }
        if !lab, let group = address.ipAddress?.netGroup, groups.contains(group) {
            // One outbound per network group: an attacker owning one group gets one slot at most.
            return true
        }
        if let ip = address.ipAddress, banned.isBanned(.address(ip), now: now) { return true }
        dial(address, purpose: .regular, expectedKey: entry.publicKey)
        return true
    }

    /// The address to dial for a record: the first TCP address we can reach under the policy.
    func dialAddress(for record: VerifiedPeerRecord) -> Multiaddr? {
        for address in record.addresses {
            guard let target = try? address.dialTarget(), target.transport == .tcp else { continue }
            if case let .ip(ip) = target.host {
                if !config.labMode && !ip.isRoutable { continue }
                return try? Multiaddr(components: Array(address.components.prefix(2)))
            }
            // DNS addresses are dialled after resolution, through the bootstrap path.
        }
        return nil
    }

    /// Dials the next eligible bootstrap source, in fallback order; starts DNS queries when the
    /// configured addresses are exhausted.
    mutating func dialBootstrap() {
        let busy = Set(connectionOrder.compactMap { id -> Multiaddr? in
            guard let c = connections[id], case let .bootstrap(address) = c.purpose, c.phase != .closing else { return nil }
            return address
        })
        for address in bootstrap.candidates where !busy.contains(address) && !ownAddresses.contains(address) {
            guard bootstrap.eligible(address, now: now), outboundCount < config.targetOutbound else { continue }
            if let target = try? address.dialTarget(), case let .dns(name, family) = target.host {
                // A /dns bootstrap address: resolve, then dial what comes back.
                let query = QueryID(raw: nextQuery)
                nextQuery += 1
                pendingQueries[query] = "addr:" + address.text
                bootstrap.failed(address, now: now, config: config, random: &random)  // re-armed on success
                emit(.resolve(query, name: name, family: family == .ipv4Only ? .ipv4 : family == .ipv6Only ? .ipv6 : .any))
                continue
            }
            dial(address, purpose: .bootstrap(address), expectedKey: nil)
        }
        for name in bootstrap.dnsSeeds where bootstrap.eligibleSeed(name, now: now) && !pendingQueries.values.contains(name) {
            let query = QueryID(raw: nextQuery)
            nextQuery += 1
            pendingQueries[query] = name
            bootstrap.seedFailed(name, now: now, config: config, random: &random)  // until it answers
            emit(.resolve(query, name: name, family: .any))
        }
        if bootstrap.allFailed && !bootstrap.reportedUnreachable {
            bootstrap.reportedUnreachable = true
            event(.allBootstrapUnreachable(retryIn: config.backoffCap))
        }
    }

    mutating func resolved(_ query: QueryID, addresses: [IPAddress]) {
        guard let name = pendingQueries.removeValue(forKey: query) else { return }
        if name.hasPrefix("addr:"), let original = try? Multiaddr(String(name.dropFirst(5))),
           let target = try? original.dialTarget() {
            for ip in addresses.prefix(4) {
                if let address = Self.tcpAddress(ip, port: target.port) {
                    dial(address, purpose: .bootstrap(original), expectedKey: nil)
                }
            }
            return
        }
        for ip in addresses.prefix(16) {
            if let address = Self.tcpAddress(ip, port: bootstrap.dnsPort), !bootstrap.resolved.contains(address) {
                bootstrap.resolved.append(address)
            }
        }
        fillOutbound()
    }

    mutating func resolveFailed(_ query: QueryID, reason: String) {
        pendingQueries[query] = nil
    }

    static func tcpAddress(_ ip: IPAddress, port: UInt16) -> Multiaddr? {
        let text = ip.isIPv4 ? "/ip4/\(ip)/tcp/\(port)" : "/ip6/\(ip)/tcp/\(port)"
        return try? Multiaddr(text)
    }

    /// One short test connection to an address we never reached (Bitcoin's feeler), or to the
    /// occupant of a contested tried slot.
    mutating func feeler() {
        guard state != .bootstrapping else { return }
        if let collision = book.pendingCollisions.first {
            scheduleCollisionTest(collision.occupant)
            return
        }
        let busy = busyKeys
        let now = self.now
        let banned = bans
        let own = identity.publicKey
        guard let entry = book.select(now: now, using: &random, newOnly: true, excluding: {
            $0 == own || busy.contains($0) || banned.isBanned(.key($0), now: now)
        }), let address = dialAddress(for: entry.record) else { return }
        dial(address, purpose: .feeler, expectedKey: entry.publicKey)
    }

    // MARK: Node state

    /// bootstrapping → initialSync → maintenance, and back to bootstrapping with no ready peer.
    mutating func updateState() {
        guard state != .stopped else { return }
        if readyPeers.isEmpty {
            if state != .bootstrapping {
                setState(.bootstrapping)
                initialSyncDone = false
            }
        } else if !initialSyncDone {
            setState(.initialSync)
        } else {
            setState(.maintenance)
        }
    }
}
