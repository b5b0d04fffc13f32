import PexWire

extension Node {
    // MARK: Time-driven work

    /// Everything whose deadline has passed: handshake and idle timeouts, pings, request
    /// timeouts, periodic sync, outbound management, feelers, expiry of records and bans.
    mutating func runTimers() {
        // The walk below acts exactly on connections whose `connectionDeadline` has passed; most
        // inputs find none, and the check reads the connections in place instead of copying each.
        for id in anyConnectionDue ? connectionOrder : [] {
            guard let c = connections[id] else { continue }
            switch c.phase {
            case .dialing, .awaitingHello, .awaitingAuth:
                if now >= c.openedAt + config.handshakeTimeout {
                    if c.phase == .dialing {
                        noteDialFailure(c)
                        remove(id, reason: "dial timed out", cause: "dial timed out", closeTransport: true)
                    } else {
                        handshakeFailure(id, code: .timeout, message: "handshake timed out", offence: nil)
                    }
                }
            case .ready:
                if now >= c.lastReceived + config.idleTimeout {
                    close(id, code: .timeout, message: "no traffic", reason: "idle timeout")
                } else if let pending = c.pending, now >= pending.sentAt + config.requestTimeout {
                    close(id, code: .timeout, message: "request \(pending.id) unanswered", reason: "request timeout")
                } else if c.pingNonce == nil, now >= keepaliveDue(c) {
                    let nonce = random.next()
                    connections[id]?.pingNonce = nonce
                    connections[id]?.pingSentAt = now
                    send(id, .ping(Ping(nonce: nonce)))
                }
            case .closing:
                // The driver reports `.closed`; if it never does, forget the connection anyway.
                if now >= c.lastReceived + config.handshakeTimeout { remove(id, reason: "close timed out", cause: "close timed out") }
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
        // Both tables know their next expiry: skip the scan until then (it runs every second).
        if bookExpiryDue <= now {
            for key in book.expire(now: now) {
                syncLog.noteRemoval(key)
                persist(.removePeer(key))
                event(.peerEvicted(key, reason: "expired"))
            }
            // `nextExpiry` scans the book: compute it once per expiry, not every second.
            bookExpiryDue = book.nextExpiry ?? now + .hours(1)
        }
        if let due = bans.nextExpiry, due <= now {
            for lifted in bans.expire(now: now) { persist(.unban(lifted.subject)) }
        }
        refreshOwnRecordIfDue()
        fillOutbound()
        releaseAddressFetches()
        updateState()
    }

    /// Asks the `syncFanout` ready peers synced longest ago, among those the node pulls from
    /// (`pullsFrom`), for what changed.
    mutating func periodicSync() {
        let inboundToo = !hasReadyOutbound
        let ready = connectionOrder.compactMap { id -> (ConnectionID, Instant)? in
            guard let c = connections[id], c.isReady, c.pending == nil, c.purpose != .feeler,
                  c.direction == .outbound || inboundToo else { return nil }
            return (id, c.lastSyncAt ?? Instant(nanoseconds: 0))
        }
        let oldest = ready.sorted { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.prefix(config.syncFanout)
        for (id, _) in oldest { requestPeers(id) }
    }

    // MARK: Outbound connections

    /// Whether the node asks this peer for lists (§17.3): a peer it dialled, or any peer while
    /// no outbound connection is ready. Peers that dialled in were not chosen by the node (an
    /// attacker can open as many as the inbound limits allow), and both ends of a link pulling
    /// the whole list at connection doubled the start-up traffic; what an inbound peer learns
    /// still reaches the node by relay and through the node's own outbound peers.
    func pullsFrom(_ id: ConnectionID) -> Bool {
        guard let c = connections[id] else { return false }
        return c.direction == .outbound || !hasReadyOutbound
    }

    /// A non-feeler outbound connection is ready.
    var hasReadyOutbound: Bool {
        let values = connections.values
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].direction == .outbound && values[i].isReady && values[i].purpose != .feeler { return true }
            values.formIndex(after: &i)
        }
        return false
    }

    /// Outbound connections that count toward the target (feelers and closing ones do not).
    var outboundCount: Int {
        // A count does not depend on order: read the connections in place (no copies).
        let values = connections.values
        var count = 0
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].direction == .outbound && values[i].phase != .closing && values[i].purpose != .feeler { count += 1 }
            values.formIndex(after: &i)
        }
        return count
    }

    /// Network groups we already have an outbound connection into.
    var outboundGroups: Set<[UInt8]> {
        // A set: order does not matter, so the connections are read in place.
        var groups = Set<[UInt8]>()
        let values = connections.values
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].direction == .outbound, values[i].phase != .closing, values[i].purpose != .feeler,
               let group = values[i].remoteIP?.netGroup {
                groups.insert(group)
            }
            values.formIndex(after: &i)
        }
        return groups
    }

    /// Keys we are connected or connecting to.
    var busyKeys: Set<PublicKey> {
        var keys = Set<PublicKey>()
        let values = connections.values
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].phase != .closing {
                if let key = values[i].peerKey { keys.insert(key) }
                if let key = values[i].expectedKey { keys.insert(key) }
            }
            values.formIndex(after: &i)
        }
        return keys
    }

    /// Dials until the outbound target is met: address book first, then the bootstrap fallbacks.
    mutating func fillOutbound() {
        var attempts = 0
        var bookExhausted = false
        while outboundCount < config.targetOutbound && attempts < config.targetOutbound * 4 {
            attempts += 1
            if !dialFromBook() { bookExhausted = true; break }
        }
        if outboundCount < config.targetOutbound && !hasReadyPeer {
            dialBootstrap()
            return
        }
        guard state == .maintenance else { return }
        // A node that never reached a bootstrap peer may sit in an island: peers that found it
        // first and know only each other, since no one there holds a record from outside. A
        // bootstrap peer whose own dials failed until newcomers filled it is the usual root of
        // one (a 64-member federation under 20 % loss split in two for good). Its back-off
        // paces the tries.
        let islandCheck = !bootstrap.reachedOne && !(bootstrap.candidates.isEmpty && bootstrap.dnsSeeds.isEmpty)
        // Synced with one peer, and nothing left to dial: a book fed by one informant holds at
        // most what that informant's source group may fill (§16.2), and if those peers are
        // gone the node would never learn more.
        let topUp = bookExhausted && outboundCount < config.targetOutbound && readyCount < Self.minReadyBeforeTopUp
            && lastTopUpFetch.map({ now - $0 >= config.feelerInterval }) ?? true
        if islandCheck || topUp {
            if topUp { lastTopUpFetch = now }
            // Not a bootstrap peer the node is already connected to: it would be a duplicate.
            let values = connections.values
            var connected: Set<Multiaddr> = []
            var i = values.startIndex
            while i != values.endIndex {
                if values[i].phase != .closing { connected.insert(values[i].remote) }
                values.formIndex(after: &i)
            }
            // The island check may take one connection past the target: an island's root can
            // have its outbound slots filled from inside the island.
            dialBootstrap(avoiding: connected, outboundLimit: config.targetOutbound + (islandCheck ? 1 : 0))
        }
    }

    /// Below this many ready connections, a node whose book has no candidate left goes back to
    /// its bootstrap sources (Bitcoin Core queries its DNS seeds below 2 outbound peers).
    static let minReadyBeforeTopUp = 2

    /// Ready connections, any direction.
    var readyCount: Int {
        let values = connections.values
        var count = 0
        var i = values.startIndex
        while i != values.endIndex {
            if values[i].phase == .ready { count += 1 }
            values.formIndex(after: &i)
        }
        return count
    }

    /// How long after an attempt a peer is not dialled again from the address book.
    static let redialInterval = TimeSpan.seconds(60)

    /// Picks a peer from the address book (mixing tried and new, avoiding recent failures).
    /// - Returns: Whether the book offered a candidate (dialled or skipped).
    mutating func dialFromBook() -> Bool {
        // The peer of an address fetch stays selectable: picking it keeps its connection.
        let fetching = addressFetchPeers
        let busy = fetching.isEmpty ? busyKeys : busyKeysExcludingAddressFetches
        let banned = bans
        let now = self.now
        let own = identity.publicKey
        let roster = config.roster
        // A peer tried in the last `redialInterval` is skipped (Bitcoin Core skips addresses tried
        // in the last 10 minutes): `select` only makes them unlikely, and its weighed fallback
        // picks one anyway when it is the only candidate, so a dead peer was redialled every
        // second. (A set: only membership is asked, so no order leaks into behaviour.)
        let recentlyTried = Set(book.book.values.compactMap { entry -> PublicKey? in
            // Only a failed last try holds a peer back: one we were connected to (attempts reset
            // on success) is redialled at once, e.g. after it restarted.
            guard entry.attempts > 0, let lastTry = entry.lastTry, now - lastTry < Self.redialInterval else { return nil }
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
        if let fetch = fetching[entry.publicKey] {
            promoteAddressFetch(fetch)
            return true
        }
        switch dialPlan(for: entry.record) {
        case nil:
            // Nothing we may dial (every address refused by policy): count it, so it loses out.
            book.markFailure(entry.publicKey, now: now)
        case let .resolve(name, family, port):
            book.markAttempt(entry.publicKey, now: now)
            resolve(name, family: family, purpose: .peer(entry.publicKey, port: port))
        case let .dial(address):
            // Computed only once there is a pick: this runs every second.
            if !config.labMode, let group = address.ipAddress?.netGroup, outboundGroups.contains(group) {
                // One outbound per network group: an attacker owning one group gets one slot at most.
                return true
            }
            if let ip = address.ipAddress, banned.isBanned(.address(ip), now: now) { return true }
            dial(address, purpose: .regular, expectedKey: entry.publicKey)
        }
        return true
    }

    /// How to reach a peer.
    enum DialPlan: Equatable {
        case dial(Multiaddr)
        case resolve(String, AddressFamily, port: UInt16)
    }

    /// The first TCP address of a record we may dial under the policy: an IP address directly,
    /// a DNS name after resolution.
    func dialPlan(for record: VerifiedPeerRecord) -> DialPlan? {
        for address in record.addresses {
            guard let target = try? address.dialTarget(), target.transport == .tcp else { continue }
            switch target.host {
            case let .ip(ip):
                guard !ownAddresses.contains(address), validator.policy.accepts(ip) else { continue }
                if let plain = Self.tcpAddress(ip, port: target.port) { return .dial(plain) }
            case let .dns(name, family):
                return .resolve(name, family == .ipv4Only ? .ipv4 : family == .ipv6Only ? .ipv6 : .any, port: target.port)
            }
        }
        return nil
    }

    /// The address to dial for a record, when it has a usable IP address.
    func dialAddress(for record: VerifiedPeerRecord) -> Multiaddr? {
        if case let .dial(address) = dialPlan(for: record) { return address }
        return nil
    }

    /// What a DNS query is for.
    enum QueryPurpose: Equatable {
        /// A DNS seed: its answers join the bootstrap candidates on the seed port.
        case seed(String)
        /// A `/dns*` bootstrap address: dial what it resolves to.
        case bootstrap(Multiaddr, port: UInt16)
        /// A known peer whose record names a host: dial it expecting that key.
        case peer(PublicKey, port: UInt16)
    }

    mutating func resolve(_ name: String, family: AddressFamily, purpose: QueryPurpose) {
        guard pendingQueries.count < 64, !pendingQueries.values.contains(purpose) else { return }
        let query = QueryID(raw: nextQuery)
        nextQuery += 1
        pendingQueries[query] = purpose
        emit(.resolve(query, name: name, family: family))
    }

    /// Bootstrap fallbacks, one tier at a time: configured peers, then DNS seeds, then the fixed
    /// list. A tier is left only when every address in it is backing off after a failure.
    mutating func dialBootstrap(avoiding connected: Set<Multiaddr> = [], outboundLimit: Int? = nil) {
        let limit = outboundLimit ?? config.targetOutbound
        let inProgress = Set(connectionOrder.compactMap { id -> Multiaddr? in
            guard let c = connections[id], case let .bootstrap(address) = c.purpose, c.phase != .closing else { return nil }
            return address
        })
        let queried = Set(pendingQueries.values.compactMap { purpose -> Multiaddr? in
            if case let .bootstrap(address, _) = purpose { return address }
            return nil
        })
        func tierBusy(_ addresses: [Multiaddr]) -> Bool {
            addresses.contains { inProgress.contains($0) || queried.contains($0) }
        }
        // Tier 1: configured bootstrap peers.
        if dialTier(bootstrap.configured, inProgress: inProgress.union(queried), avoiding: connected, outboundLimit: limit) || tierBusy(bootstrap.configured) { return }
        // Tier 2: DNS seeds, then the addresses they gave.
        var seedsBusy = false
        for name in bootstrap.dnsSeeds {
            if pendingQueries.values.contains(.seed(name)) { seedsBusy = true; continue }
            guard bootstrap.eligibleSeed(name, now: now) else { continue }
            bootstrap.seedFailed(name, now: now, config: config, random: &random)  // reset when it answers
            resolve(name, family: .any, purpose: .seed(name))
            seedsBusy = true
        }
        if dialTier(bootstrap.resolved, inProgress: inProgress, avoiding: connected, outboundLimit: limit) || seedsBusy || tierBusy(bootstrap.resolved) { return }
        // Tier 3: the built-in list.
        if dialTier(bootstrap.fixed, inProgress: inProgress, avoiding: connected, outboundLimit: limit) || tierBusy(bootstrap.fixed) { return }
        if bootstrap.allFailed && !bootstrap.reportedUnreachable {
            bootstrap.reportedUnreachable = true
            event(.allBootstrapUnreachable(retryIn: config.backoffCap))
        }
    }

    /// Dials eligible addresses of a tier in random order, until `bootstrapDialsAtOnce` bootstrap
    /// dials or queries are in progress: a newcomer takes one bootstrap slot at a time, and
    /// newcomers spread over the bootstrap peers instead of all filling the first one.
    /// - Returns: Whether any dial or query started.
    mutating func dialTier(_ addresses: [Multiaddr], inProgress: Set<Multiaddr>, avoiding connected: Set<Multiaddr> = [],
                           outboundLimit: Int) -> Bool {
        var started = false
        var room = max(1, config.bootstrapDialsAtOnce) - inProgress.count
        var eligible = addresses.filter {
            !inProgress.contains($0) && !connected.contains($0) && !ownAddresses.contains($0) && bootstrap.eligible($0, now: now)
        }
        while room > 0, !eligible.isEmpty, outboundCount < outboundLimit {
            let address = eligible.remove(at: Int.random(in: 0..<eligible.count, using: &random))
            guard let target = try? address.dialTarget(), target.transport == .tcp else { continue }
            switch target.host {
            case let .dns(name, family):
                // Counted as failed until it answers, so a dead name backs off like a dead address.
                bootstrap.failed(address, now: now, config: config, random: &random)
                resolve(name, family: family == .ipv4Only ? .ipv4 : family == .ipv6Only ? .ipv6 : .any,
                        purpose: .bootstrap(address, port: target.port))
            case let .ip(ip):
                if bans.isBanned(.address(ip), now: now) { continue }
                dial(address, purpose: .bootstrap(address), expectedKey: nil)
            }
            started = true
            room -= 1
        }
        return started
    }

    mutating func resolved(_ query: QueryID, addresses: [IPAddress]) {
        guard let purpose = pendingQueries.removeValue(forKey: query) else { return }
        let usable = addresses.filter { validator.policy.accepts($0) && !bans.isBanned(.address($0), now: now) }
        switch purpose {
        case let .seed(name):
            bootstrap.dnsBackoff[name] = nil
            for ip in usable.prefix(16) {
                if let address = Self.tcpAddress(ip, port: bootstrap.dnsPort), !bootstrap.resolved.contains(address),
                   bootstrap.resolved.count < 64 {
                    bootstrap.resolved.append(address)
                }
            }
            fillOutbound()
        case let .bootstrap(original, port):
            for ip in usable.prefix(2) {
                if let address = Self.tcpAddress(ip, port: port) { dial(address, purpose: .bootstrap(original), expectedKey: nil) }
            }
        case let .peer(key, port):
            guard !busyKeys.contains(key), let ip = usable.first, let address = Self.tcpAddress(ip, port: port) else {
                if usable.isEmpty { book.markFailure(key, now: now) }
                return
            }
            dial(address, purpose: .regular, expectedKey: key)
        }
    }

    mutating func resolveFailed(_ query: QueryID, reason: String) {
        guard let purpose = pendingQueries.removeValue(forKey: query) else { return }
        if case let .peer(key, _) = purpose { book.markFailure(key, now: now) }
    }

    static func tcpAddress(_ ip: IPAddress, port: UInt16) -> Multiaddr? {
        let text = ip.isIPv4 ? "/ip4/\(ip)/tcp/\(port)" : "/ip6/\(ip)/tcp/\(port)"
        return try? Multiaddr(text)
    }

    /// One short test connection to an address we never reached (Bitcoin's feeler), to the
    /// occupant of a contested tried slot, or, with no untried address, a refresh feeler.
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
        }) else {
            // Nothing untried (always so in roster mode, where the new table stays empty):
            // refresh the view through the member connected least recently instead.
            refreshFeeler()
            return
        }
        guard let address = dialAddress(for: entry.record) else { return }
        if let ip = address.ipAddress, bans.isBanned(.address(ip), now: now) { return }
        dial(address, purpose: .feeler, expectedKey: entry.publicKey)
    }

    // MARK: Node state

    /// bootstrapping → initialSync → maintenance, and back to bootstrapping with no ready peer.
    mutating func updateState() {
        guard state != .stopped else { return }
        if !hasReadyPeer {
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
