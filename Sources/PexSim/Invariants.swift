import PexCore
import PexWire

/// A broken safety property, with when and where it was seen.
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    public let time: Instant
    public let host: Int
    public let message: String

    public var description: String { "t=\(time) host \(host): \(message)" }
}

/// Checks the safety properties of a simulated network while it runs.
///
/// Two kinds of checks:
/// - **On every output** (cheap, always on): each record a node persists has a valid signature,
///   belongs to the roster in roster mode, and never has a lower seq than the record it replaces;
///   a `connected` event never names a key the node has banned.
/// - **On every input** (`everyStep`) or at sampling points (`checkAll`): `Node.checkInvariants()`
///   (address-book structure, banned keys without ready connections, roster, expiry), table and
///   connection bounds, and that the store mirrors the address book exactly.
///
/// Checking every input of a 512-node run costs more than the run itself (each check walks the
/// node's whole table), so the large scenarios check outputs always and the rest once per
/// sampling interval; the seed sweep checks everything at every step.
public final class InvariantChecker {
    /// Whether the per-host structural checks run after every input.
    public var everyStep: Bool
    /// At most this many hosts per `checkAll`, taken in turn, so that every host is still checked
    /// every `hosts / hostsPerCheck` calls; nil checks all. The structural checks walk a node's
    /// whole address book, and for 10 000 nodes a full pass per round would cost more than the
    /// simulation itself. The per-output checks (`observe`) never sample.
    public var hostsPerCheck: Int?
    private var nextSampled = 0
    /// Hosts whose own state is not checked (attackers run patched behaviour on top of a node).
    public var exempt: Set<Int> = []
    /// Every violation seen, in order (at most `limit`).
    public private(set) var violations: [Violation] = []
    public var limit = 100
    /// How many checks ran (to prove the checker was active).
    public private(set) var checks = 0
    let crypto: any CryptoProvider
    /// Highest seq each host has persisted per key; reset when the host drops the key or restarts empty.
    var persistedSeq: [Int: [PublicKey: UInt64]] = [:]

    /// A checker; call `attach(to:)` before running.
    /// - Parameters:
    ///   - crypto: The provider the network signs with, to re-verify persisted records.
    ///   - everyStep: Run the structural checks after every input.
    public init(crypto: any CryptoProvider, everyStep: Bool) {
        self.crypto = crypto
        self.everyStep = everyStep
    }

    /// Installs the checker as the network's observers (replacing any others).
    public func attach(to sim: SimNetwork) {
        sim.outputObserver = { [unowned self] sim, i, output in self.observe(sim, i, output) }
        sim.observer = everyStep ? { [unowned self] sim, i in self.checkHost(sim, i) } : nil
    }

    /// Forgets what a host persisted (call when it restarts without its store).
    public func hostWiped(_ i: Int) { persistedSeq[i] = nil }

    /// Runs the structural checks on every live host.
    public func checkAll(_ sim: SimNetwork) {
        guard let limit = hostsPerCheck, limit < sim.hosts.count else {
            for i in sim.hosts.indices where sim.isAlive(i) { checkHost(sim, i) }
            return
        }
        for _ in 0..<limit {
            let i = nextSampled % sim.hosts.count
            nextSampled += 1
            if sim.isAlive(i) { checkHost(sim, i) }
        }
    }

    /// Checks every live host, whatever `hostsPerCheck` says (at the end of a run).
    public func checkEveryHost(_ sim: SimNetwork) {
        for i in sim.hosts.indices where sim.isAlive(i) { checkHost(sim, i) }
    }

    func fail(_ sim: SimNetwork, _ i: Int, _ message: String) {
        guard violations.count < limit else { return }
        violations.append(Violation(time: sim.now, host: i, message: message))
    }

    func observe(_ sim: SimNetwork, _ i: Int, _ output: Output) {
        guard !exempt.contains(i) else { return }
        switch output {
        case .persist(.upsertPeer), .event(.connected):
            sim.inspect(i) { observe(sim, i, output, $0) }
        default:
            // Most outputs are frames, and these checks do not read the node: passing it to a
            // closure copied the whole node for every output.
            guard sim.isInspectable(i) else { return }
            checks += 1
            if case let .persist(.removePeer(key)) = output { persistedSeq[i]?[key] = nil }
        }
    }

    func observe(_ sim: SimNetwork, _ i: Int, _ output: Output, _ node: Node) {
        checks += 1
        switch output {
        case let .persist(.upsertPeer(peer)):
            let verified: VerifiedPeerRecord
            do {
                // The shared parser: decoding is a pure function of the bytes (the signature is
                // still checked here, with the checker's own crypto).
                verified = try sim.parser.parse(peer.record, networkID: node.config.networkID)
                    .verify(now: sim.now.unixSeconds, crypto: crypto)
            } catch {
                return fail(sim, i, "stored a record that does not verify: \(error.reason)")
            }
            let key = verified.publicKey
            if let roster = node.config.roster, !roster.contains(key) {
                fail(sim, i, "stored non-member \(key) in roster mode")
            }
            if let previous = persistedSeq[i]?[key], verified.seq < previous {
                fail(sim, i, "record of \(key) replaced by a lower seq (\(previous) → \(verified.seq))")
            }
            persistedSeq[i, default: [:]][key] = max(verified.seq, persistedSeq[i]?[key] ?? 0)
        case let .event(.connected(_, key, _, _)):
            if node.isBanned(.key(key)) { fail(sim, i, "banned key \(key) admitted (ready connection)") }
        default:
            break
        }
    }

    /// Structural checks of one host.
    public func checkHost(_ sim: SimNetwork, _ i: Int) {
        guard !exempt.contains(i) else { return }
        sim.inspect(i) { checkHost(sim, i, $0) }
    }

    func checkHost(_ sim: SimNetwork, _ i: Int, _ node: Node) {
        checks += 1
        for problem in node.checkInvariants() { fail(sim, i, problem) }
        let c = node.config
        let book = c.addressBook
        let capacity = (book.newBucketCount + book.triedBucketCount) * book.bucketSize + book.maxProtected
        let stored = sim.hosts[i].store.state.peers.count
        if stored > capacity { fail(sim, i, "table over its bound: \(stored) > \(capacity)") }
        // Ready inbound connections stay within maxInbound (checked by `checkInvariants`);
        // newcomers still in their handshake may exceed it by up to maxPendingHandshakes.
        let inbound = node.connectionCount(.inbound)
        let bound = c.maxInbound + c.maxPendingHandshakes
        if inbound > bound { fail(sim, i, "inbound connections over the bound: \(inbound) > \(bound)") }
        // Outbound: the target, plus feelers and tried-slot tests running at the same time.
        let outboundBound = c.targetOutbound + book.maxPendingCollisions + 2
        let outbound = node.connectionCount(.outbound)
        if outbound > outboundBound { fail(sim, i, "outbound connections over the bound: \(outbound) > \(outboundBound)") }
        if !everyStep || sim.steps % 64 == 0 { checkMirror(sim, i, node) }
    }

    /// The store must hold exactly the address book's records: a restart loads the store, so a
    /// drift means lost or resurrected records after a crash.
    func checkMirror(_ sim: SimNetwork, _ i: Int, _ node: Node) {
        let inStore = sim.hosts[i].store.state.peers
        // Same count, and each stored row is the book's version of its key: equal contents.
        // (Lookups, not a sorted comparison: this runs for every host every round.)
        let mirrored = node.knownRecordCount == inStore.count && inStore.allSatisfy { peer in
            SimStore.key(of: peer.record, parser: sim.parser).flatMap { node.entry(for: $0)?.record.signed } == peer.record
        }
        if mirrored { return }
        let inBook = node.knownRecords
        let bookKeys = Set(inBook.map(\.publicKey))
        let storeKeys = Set(inStore.compactMap { SimStore.key(of: $0.record, parser: sim.parser) })
        let missing = bookKeys.subtracting(storeKeys).count, extra = storeKeys.subtracting(bookKeys).count
        if missing > 0 || extra > 0 {
            fail(sim, i, "store out of sync with the address book: \(missing) missing, \(extra) extra")
        } else {
            fail(sim, i, "store holds other record versions than the address book")
        }
    }
}
