import PexWire

extension Node {
    // MARK: Address fetch (bootstrap connections)

    /// Ready bootstrap connections by their peer's key: address fetches still running.
    var addressFetchPeers: [PublicKey: ConnectionID] {
        var peers: [PublicKey: ConnectionID] = [:]
        for id in connectionOrder {
            guard let c = connections[id], c.isReady, case .bootstrap = c.purpose, let key = c.peerKey else { continue }
            peers[key] = id
        }
        return peers
    }

    /// `busyKeys` without the peers reached only through an address fetch.
    var busyKeysExcludingAddressFetches: Set<PublicKey> {
        Set(connectionOrder.flatMap { id -> [PublicKey] in
            guard let c = connections[id], c.phase != .closing else { return [] }
            if c.isReady, case .bootstrap = c.purpose { return [] }
            return [c.peerKey, c.expectedKey].compactMap { $0 }
        })
    }

    /// The outbound selection picked the peer of an address fetch: the connection becomes a
    /// regular one and is kept (it already counts toward the outbound target).
    mutating func promoteAddressFetch(_ id: ConnectionID) {
        guard let c = connections[id], case .bootstrap = c.purpose, let key = c.peerKey else { return }
        connections[id]?.purpose = .regular
        markOutboundSuccess(key)
        persistPeer(key)
    }

    /// Whether the book holds at least `targetOutbound` peers the outbound selection could
    /// pick besides the address-fetch peers: the fetch has done its job.
    func bookHasEnoughCandidates(besides fetching: [PublicKey: ConnectionID]) -> Bool {
        let own = identity.publicKey
        let roster = config.roster
        var count = 0
        // Only a count is taken, so the dictionary's order decides nothing.
        for key in book.book.keys where key != own && fetching[key] == nil && (roster?.contains(key) ?? true)
            && !bans.isBanned(.key(key), now: now) {
            count += 1
            if count >= config.targetOutbound { return true }
        }
        return false
    }

    /// Releases every address fetch whose exchange completed, once the book holds enough
    /// candidates and another connection is ready (the node is never left alone by it). Its
    /// slot at the bootstrap peer frees up for the next newcomer, and ours for a regular peer.
    mutating func releaseAddressFetches() {
        let fetching = addressFetchPeers
        guard !fetching.isEmpty else { return }
        let done = connectionOrder.filter { id in
            guard let c = connections[id], c.isReady, case .bootstrap = c.purpose else { return false }
            return c.exchanges > 0 && c.pending == nil
        }
        guard !done.isEmpty, readyPeers.count > fetching.count,
              bookHasEnoughCandidates(besides: fetching) else { return }
        for id in done {
            metrics.addressFetchesReleased += 1
            // Ended silently, like a feeler: nothing went wrong that an Error could name.
            close(id, code: .unspecified, message: "", reason: "address fetch done", sendError: false)
        }
    }
}
