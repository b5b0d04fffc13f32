import PexCore
import PexWire

/// Which signature scheme a simulated network uses.
public enum SimCrypto: String, Sendable, CaseIterable, Codable {
    /// Real Ed25519 through libsodium: the speed of a real node.
    case sodium
    /// `InsecureFakeCrypto`: same message sizes, a fraction of the CPU, for large runs.
    case fake

    public var provider: any CryptoProvider {
        switch self {
        case .sodium: SodiumCrypto()
        case .fake: InsecureFakeCrypto()
        }
    }
}

/// Timers of the simulated nodes. `standard` keeps the shipped defaults (a round is 30 s);
/// `fast` scales every timer down so that seed sweeps finish quickly in debug builds while
/// keeping their ratios (ping < idle timeout, request timeout ≥ a round, backoff cap ≫ base).
public struct SimTiming: Sendable, Equatable, Codable {
    public var syncIntervalMs: UInt64
    public var syncJitterMs: UInt64
    public var pingIntervalMs: UInt64
    public var idleTimeoutMs: UInt64
    public var handshakeTimeoutMs: UInt64
    public var requestTimeoutMs: UInt64
    public var feelerIntervalMs: UInt64
    public var backoffCapMs: UInt64

    /// The shipped defaults of `NodeConfig`.
    public static let standard = SimTiming(
        syncIntervalMs: 30_000, syncJitterMs: 5_000, pingIntervalMs: 15_000, idleTimeoutMs: 45_000,
        handshakeTimeoutMs: 10_000, requestTimeoutMs: 30_000, feelerIntervalMs: 120_000, backoffCapMs: 300_000)
    /// Everything six times faster.
    public static let fast = SimTiming(
        syncIntervalMs: 5_000, syncJitterMs: 1_000, pingIntervalMs: 2_500, idleTimeoutMs: 7_500,
        handshakeTimeoutMs: 2_000, requestTimeoutMs: 5_000, feelerIntervalMs: 20_000, backoffCapMs: 50_000)

    public var syncInterval: TimeSpan { .milliseconds(syncIntervalMs) }

    /// Applies these timers to a node configuration.
    public func apply(_ c: inout NodeConfig) {
        c.syncInterval = .milliseconds(syncIntervalMs)
        c.syncJitter = .milliseconds(syncJitterMs)
        c.pingInterval = .milliseconds(pingIntervalMs)
        c.idleTimeout = .milliseconds(idleTimeoutMs)
        c.handshakeTimeout = .milliseconds(handshakeTimeoutMs)
        c.requestTimeout = .milliseconds(requestTimeoutMs)
        c.feelerInterval = .milliseconds(feelerIntervalMs)
        c.backoffCap = .milliseconds(backoffCapMs)
    }
}

extension SimNetwork {
    /// The key seed `addHost` uses for host `index` when none is given.
    public static func identitySeed(_ index: Int) -> [UInt8] {
        var keySeed = [UInt8](repeating: 0, count: 32)
        keySeed[0] = UInt8(index & 0xff); keySeed[1] = UInt8(index >> 8 & 0xff); keySeed[2] = UInt8(index >> 16 & 0xff)
        keySeed[31] = 0x77
        return keySeed
    }

    /// The listen address of host `i` (its current IP, port 4001).
    public func address(of i: Int) -> Multiaddr { Self.address(hosts[i].ip, hosts[i].port) }

    /// Builds a network of `count` hosts that bootstrap from `bootstrap` (host indices).
    ///
    /// - Parameters:
    ///   - count: Number of hosts (none started).
    ///   - seed: The run's seed.
    ///   - crypto: Signature scheme.
    ///   - bootstrap: Hosts every other host is configured with.
    ///   - roster: Federation mode: every host's key is on every host's roster.
    ///   - timing: Node timers.
    ///   - rosterExtra: Roster slots for hosts added later (indices `count ..< count + rosterExtra`).
    ///   - configure: Last word on each host's configuration.
    /// - Returns: The network.
    public static func build(
        count: Int, seed: UInt64, crypto: SimCrypto, bootstrap: [Int], roster: Bool, timing: SimTiming,
        rosterExtra: Int = 0, configure: (Int, inout NodeConfig) -> Void = { _, _ in }
    ) -> SimNetwork {
        let sim = SimNetwork(seed: seed, crypto: crypto.provider)
        let members: Set<PublicKey>? = roster
            ? Set((0..<(count + rosterExtra)).compactMap { try? KeyPair(seed: identitySeed($0)).publicKey }) : nil
        for i in 0..<count {
            sim.addHost { config in
                config.bootstrapPeers = bootstrap.filter { $0 != i }.map { address(ip(for: $0), 4001) }
                config.roster = members
                timing.apply(&config)
                configure(i, &config)
            }
        }
        return sim
    }

    /// Runs until `condition` holds, checking every `step`, or until `limit` passes.
    /// - Returns: The virtual time it took, or nil when the limit passed first.
    @discardableResult
    public func run(until condition: () -> Bool, limit: TimeSpan, step: TimeSpan = .seconds(1)) -> TimeSpan? {
        let start = now
        let end = now + limit
        while now < end {
            if condition() { return now - start }
            run(for: step)
        }
        return condition() ? now - start : nil
    }

    /// Coverage of `holders` over `subjects`: the fraction of (holder, subject ≠ holder) pairs
    /// where the holder stores the subject's current record (seq ≥ the subject's own seq).
    public func coverage(holders: [Int], subjects: [Int]) -> Double {
        let current = subjects.compactMap { i -> (Int, PublicKey, UInt64)? in
            inspect(i) { (i, $0.identity.publicKey, $0.ownSeq) }
        }
        var have = 0, want = 0
        for h in holders {
            _ = inspect(h) { node in
                for (i, key, seq) in current where i != h {
                    want += 1
                    if let entry = node.entry(for: key), entry.record.seq >= seq { have += 1 }
                }
            }
        }
        return want == 0 ? 1 : Double(have) / Double(want)
    }

    /// Whether every host in `among` is up and holds every other one's current record.
    public func converged(among: [Int]) -> Bool {
        guard among.allSatisfy(isAlive) else { return false }
        let live = among
        let current = live.compactMap { i -> (Int, PublicKey, UInt64)? in
            inspect(i) { (i, $0.identity.publicKey, $0.ownSeq) }
        }
        for h in live {
            let ok = inspect(h) { node in
                current.allSatisfy { i, key, seq in i == h || (node.entry(for: key)?.record.seq ?? 0) >= seq }
            } ?? true
            if !ok { return false }
        }
        return true
    }

    /// Whether every host in `among` is up, has a ready connection, and has its current record
    /// held by at least one other host in `among`: the liveness of an open network whose books
    /// are smaller than the network, where no host can hold everyone.
    public func reachable(among: [Int]) -> Bool {
        unreachable(among: among, limit: 1).isEmpty
    }

    /// Why `reachable(among:)` fails: a line per host that is down, unconnected or held by
    /// nobody (at most `limit`).
    public func diagnoseReachability(among: [Int], limit: Int = 8) -> [String] {
        unreachable(among: among, limit: limit).map { "host \($0.host): \($0.reason)" }
    }

    func unreachable(among: [Int], limit: Int) -> [(host: Int, reason: String)] {
        var found: [(host: Int, reason: String)] = []
        for i in among where !isAlive(i) {
            found.append((i, "down"))
            if found.count >= limit { return found }
        }
        // Runs once a simulated second: the description is built only for a failing host.
        let current = among.compactMap { i in inspect(i) { (i, $0.identity.publicKey, $0.ownSeq, $0.readyPeers.count) } }
        func holds(_ h: Int, _ key: PublicKey, _ seq: UInt64) -> Bool {
            inspect(h) { ($0.entry(for: key)?.record.seq ?? 0) >= seq } ?? false
        }
        for (i, key, seq, ready) in current {
            if ready > 0, current.contains(where: { h, _, _, _ in h != i && holds(h, key, seq) }) { continue }
            let holders = current.filter { h, _, _, _ in h != i && holds(h, key, seq) }.count
            let state = inspect(i) { node in
                "[\(node.state.rawValue), in \(node.connectionCount(.inbound)) out \(node.connectionCount(.outbound)), "
                    + "\(node.knownRecordCount) known]"
            } ?? ""
            found.append((i, "\(state) \(ready) ready connections, current record held by \(holders) other hosts"))
            if found.count >= limit { break }
        }
        return found
    }

    /// Why `converged(among:)` fails: a line per host that misses records (at most `limit`).
    public func diagnose(among: [Int], limit: Int = 8) -> [String] {
        let live = among.filter { isAlive($0) }
        let current = live.compactMap { i in inspect(i) { (i, $0.identity.publicKey, $0.ownSeq) } }
        var lines: [String] = []
        for h in live {
            guard let line = inspect(h, { node -> String? in
                let missing = current.filter { i, key, seq in i != h && (node.entry(for: key)?.record.seq ?? 0) < seq }
                guard !missing.isEmpty else { return nil }
                let stale = missing.filter { node.entry(for: $0.1) != nil }.count
                return "host \(h) [\(node.state.rawValue), \(node.readyPeers.count) ready, in \(node.connectionCount(.inbound)) out \(node.connectionCount(.outbound)), "
                    + "\(node.knownRecords.count) known] misses \(missing.count) (\(stale) stale): "
                    + missing.prefix(6).map { "\($0.0)" }.joined(separator: ",")
            }) ?? nil else { continue }
            lines.append(line)
            if lines.count >= limit { break }
        }
        return lines
    }

    /// Total bytes all live nodes sent so far (their own metrics).
    public var bytesSentByNodes: Int { hosts.indices.reduce(0) { $0 + (inspect($1) { $0.metrics.bytesOut } ?? 0) } }
}
