import PexWire

/// One ready inbound connection, as inbound eviction sees it.
struct EvictionCandidate: Equatable {
    var id: ConnectionID
    /// The peer's network group (§5.3): `[0]` for every loopback or private address.
    var netGroup: [UInt8]
    /// The network group hashed with a secret of the node: which groups win protection cannot
    /// be predicted (nor bought) by peers.
    var keyedGroup: [UInt8]
    /// When the handshake completed.
    var connectedAt: Instant
    var minRoundTrip: TimeSpan?
    var lastUsefulAt: Instant?
}

/// Which inbound peer makes room for a newcomer when every inbound slot is taken (Bitcoin
/// Core's `SelectNodeToEvict`, scaled to the node's `maxInbound`).
///
/// An attacker can fake a few of these qualities but not all at once: peers from distinct
/// network groups, the fastest peers, the peers that recently told us something new and the
/// longest-connected peers are protected in turn; of the rest, the youngest connection of the
/// network group with the most connections is evicted. It is a pure function of its input
/// (ties broken by connection id), so a node's choice is deterministic under a seeded source.
enum InboundEviction {
    /// How many peers each quality protects, for `slots` inbound slots: distinct network
    /// groups (one peer each), lowest round-trip times, most recently useful; at least one of
    /// each. Bitcoin Core protects 4, 8 and 8 of 125; these are 4, 8 and 4 of the default 32,
    /// scaled so that a node with few slots still leaves some peers evictable (fixed counts
    /// would protect every one of 8 slots, and newcomers would be refused again).
    static func protections(slots: Int) -> (groups: Int, fastest: Int, useful: Int) {
        (max(1, slots / 8), max(1, slots / 4), max(1, slots / 8))
    }

    /// The connection to evict, or `nil` when every candidate is protected.
    ///
    /// - Parameters:
    ///   - candidates: The ready inbound connections (the newcomer not among them).
    ///   - slots: The node's `maxInbound`.
    /// - Returns: The connection to close.
    static func select(_ candidates: [EvictionCandidate], slots: Int) -> ConnectionID? {
        let (protectedGroups, protectedFastest, protectedUseful) = protections(slots: slots)
        // Oldest first, then by id: every later "first of" and "stable" choice depends on it.
        var rest = candidates.sorted { ($0.connectedAt, $0.id) < ($1.connectedAt, $1.id) }

        // 1. Network-group diversity: the oldest peer of each of `protectedGroups` groups, the
        //    groups chosen by their keyed hash. In lab mode (one group) this protects one peer.
        var groupsSeen: Set<[UInt8]> = []
        let firstOfGroup = rest.filter { groupsSeen.insert($0.netGroup).inserted }
        let keepGroups = firstOfGroup
            .sorted { $0.keyedGroup.lexicographicallyPrecedes($1.keyedGroup) }
            .prefix(protectedGroups).map(\.id)
        rest.removeAll { keepGroups.contains($0.id) }

        // 2. Low latency: hard to fake from far away; unmeasured peers come last.
        let fastest = rest.filter { $0.minRoundTrip != nil }
            .sorted { ($0.minRoundTrip!, $0.connectedAt, $0.id) < ($1.minRoundTrip!, $1.connectedAt, $1.id) }
            .prefix(protectedFastest).map(\.id)
        rest.removeAll { fastest.contains($0.id) }

        // 3. Recent usefulness: peers that delivered records new to us.
        let useful = rest.filter { $0.lastUsefulAt != nil }
            .sorted { ($1.lastUsefulAt!, $0.connectedAt, $0.id) < ($0.lastUsefulAt!, $1.connectedAt, $1.id) }
            .prefix(protectedUseful).map(\.id)
        rest.removeAll { useful.contains($0.id) }

        // 4. Longevity: the older half of what is left (rest is still oldest first).
        rest.removeFirst(rest.count / 2)
        guard !rest.isEmpty else { return nil }

        // 5. The group with the most connections loses its youngest; between groups of equal
        //    size, the one whose youngest connection is youngest.
        var byGroup: [[UInt8]: [EvictionCandidate]] = [:]
        for candidate in rest { byGroup[candidate.netGroup, default: []].append(candidate) }
        let victims = byGroup.values.compactMap { members in members.last.map { (members.count, $0) } }
        let chosen = victims.max { a, b in
            (a.0, a.1.connectedAt, a.1.id) < (b.0, b.1.connectedAt, b.1.id)
        }
        return chosen?.1.id
    }
}

extension Node {
    // MARK: Inbound eviction

    /// The ready inbound connection to close to admit one more, or `nil` when all are protected.
    /// - Parameter excluding: The newcomer, which is never its own victim.
    func inboundEvictionVictim(excluding newcomer: ConnectionID? = nil) -> ConnectionID? {
        let candidates = connectionOrder.compactMap { id -> EvictionCandidate? in
            guard id != newcomer, let c = connections[id], c.direction == .inbound, c.isReady else { return nil }
            let group = c.remoteIP?.netGroup ?? []
            return EvictionCandidate(
                id: id, netGroup: group, keyedGroup: crypto.hash256(bucketKey + Self.evictionDomain + group),
                connectedAt: c.readyAt ?? c.openedAt, minRoundTrip: c.minRoundTrip, lastUsefulAt: c.lastUsefulAt)
        }
        return InboundEviction.select(candidates, slots: config.maxInbound)
    }

    /// Separates the eviction group hash from the address book's use of the same secret.
    static let evictionDomain = Array("pex-inbound-eviction".utf8)

    /// Ready inbound connections other than `id`, closing ones excluded.
    func readyInboundCount(excluding id: ConnectionID) -> Int {
        connectionOrder.reduce(0) { count, other in
            guard other != id, let c = connections[other], c.direction == .inbound, c.isReady else { return count }
            return count + 1
        }
    }

    /// A newly authenticated inbound peer found every inbound slot taken: evict a peer to make
    /// room, or refuse the newcomer when every peer is protected.
    /// - Returns: Whether the newcomer stays.
    mutating func makeRoomForInbound(_ id: ConnectionID) -> Bool {
        guard let c = connections[id], c.direction == .inbound,
              readyInboundCount(excluding: id) >= config.maxInbound else { return true }
        guard let victim = inboundEvictionVictim(excluding: id) else {
            close(id, code: .tooManyConnections, message: "inbound connections full", reason: "inbound connections full")
            return false
        }
        metrics.inboundEvictions += 1
        close(victim, code: .tooManyConnections, message: "evicted for a new peer", reason: "evicted for a new peer")
        return true
    }
}
