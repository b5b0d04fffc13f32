import PexWire

/// Where a node without peers looks, in fallback order, and when it may try each address again.
///
/// Order: persisted peers (the address book, tried by the regular selection), then configured
/// bootstrap peers, then DNS seeds, then the built-in fixed list. Each address backs off
/// exponentially with full jitter; when everything has failed the node keeps retrying at the
/// capped backoff and says so (`Event.allBootstrapUnreachable`).
struct BootstrapSources {
    struct Backoff: Equatable {
        var failures = 0
        var notBefore: Instant = Instant(nanoseconds: 0)
    }

    var configured: [Multiaddr]
    var dnsSeeds: [String]
    var fixed: [Multiaddr]
    var dnsPort: UInt16
    /// Addresses learned from DNS seeds, in answer order.
    var resolved: [Multiaddr] = []
    var backoff: [Multiaddr: Backoff] = [:]
    var dnsBackoff: [String: Backoff] = [:]
    var reportedUnreachable = false
    /// Whether a bootstrap connection completed its handshake since the node started. Until
    /// one has, a node keeps trying them even while it has peers (§15.2).
    var reachedOne = false

    init(config: NodeConfig) {
        configured = config.bootstrapPeers
        dnsSeeds = config.dnsSeeds
        fixed = config.fixedPeers
        dnsPort = config.dnsSeedPort
    }

    /// Every address candidate in fallback order (DNS seeds are resolved separately).
    var candidates: [Multiaddr] { configured + resolved + fixed }

    /// Earliest instant after `now` at which a backed-off candidate becomes eligible. Waits that
    /// already ended are not deadlines: reporting them would make the driver spin.
    func nextAttempt(after now: Instant) -> Instant? {
        let waits = candidates.compactMap { backoff[$0]?.notBefore } + dnsSeeds.compactMap { dnsBackoff[$0]?.notBefore }
        return waits.filter { $0 > now }.min()
    }

    func eligible(_ address: Multiaddr, now: Instant) -> Bool {
        (backoff[address]?.notBefore ?? Instant(nanoseconds: 0)) <= now
    }

    func eligibleSeed(_ name: String, now: Instant) -> Bool {
        (dnsBackoff[name]?.notBefore ?? Instant(nanoseconds: 0)) <= now
    }

    /// Delay after `failures` consecutive failures: uniform in [0, min(cap, base × 2^failures)].
    static func delay(failures: Int, base: TimeSpan, cap: TimeSpan, random: inout AnyRandom) -> TimeSpan {
        let exponent = UInt64(min(failures, 30))
        let ceiling = min(cap, base * (1 << exponent))
        return random.jitter(upTo: ceiling)
    }

    mutating func failed(_ address: Multiaddr, now: Instant, config: NodeConfig, random: inout AnyRandom) {
        var b = backoff[address] ?? Backoff()
        b.failures += 1
        b.notBefore = now + Self.delay(failures: b.failures, base: config.backoffBase, cap: config.backoffCap, random: &random)
        backoff[address] = b
    }

    mutating func seedFailed(_ name: String, now: Instant, config: NodeConfig, random: inout AnyRandom) {
        var b = dnsBackoff[name] ?? Backoff()
        b.failures += 1
        b.notBefore = now + Self.delay(failures: b.failures, base: config.backoffBase, cap: config.backoffCap, random: &random)
        dnsBackoff[name] = b
    }

    mutating func succeeded(_ address: Multiaddr) {
        backoff[address] = nil
        reportedUnreachable = false
        reachedOne = true
    }

    /// Whether every candidate has failed at least once (and there is at least one).
    var allFailed: Bool {
        let all = candidates
        return !all.isEmpty && all.allSatisfy { (backoff[$0]?.failures ?? 0) > 0 }
            && dnsSeeds.allSatisfy { (dnsBackoff[$0]?.failures ?? 0) > 0 }
    }
}
