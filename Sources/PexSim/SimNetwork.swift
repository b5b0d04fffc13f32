import Foundation
import PexCore
import PexWire

/// How one-way latency is drawn for each segment.
public enum LatencyDistribution: Sendable, Equatable {
    /// Uniform in `LinkModel.latencyMin ... LinkModel.latencyMax` (the default).
    case uniform
    /// Normal around `mean` with standard deviation `deviation`, clipped to `latencyMin ... latencyMax`.
    case normal(mean: TimeSpan, deviation: TimeSpan)
    /// `latencyMin` plus a Pareto tail of shape `alpha` (smaller is heavier), clipped at `latencyMax`:
    /// most segments are fast, a few are very slow (congested or intercontinental paths).
    case pareto(alpha: Double)
}

/// Link behaviour of the simulated network.
///
/// The simulator models TCP, so packet-level faults show only as what TCP turns them into:
/// - **loss** → retransmission delay. Each lost transmission waits one retransmission timeout,
///   which doubles per consecutive loss (RFC 6298 backoff); after `maxRetransmits` the
///   connection is reset, as a TCP user timeout would.
/// - **reordering** → head-of-line delay: TCP delivers in order, so a segment overtaken by a later
///   one holds the later one back until it arrives (`reorder`, `reorderDelay`).
/// - **duplication** → nothing at all: the receiving TCP drops duplicate segments, so the
///   application never sees them. There is deliberately no duplication knob.
/// Order within a connection is always kept.
public struct LinkModel: Sendable, Equatable {
    /// One-way latency range (the bounds of every distribution).
    public var latencyMin: TimeSpan = .milliseconds(5)
    public var latencyMax: TimeSpan = .milliseconds(50)
    public var distribution: LatencyDistribution = .uniform
    /// Probability that a dial fails although the target is up (lost SYN, full backlog).
    public var dialFailure = 0.0
    /// Probability that a segment transmission is lost; it is retransmitted after `retransmitDelay`,
    /// doubling per consecutive loss.
    public var loss = 0.0
    public var retransmitDelay: TimeSpan = .milliseconds(200)
    /// Consecutive losses after which the connection is reset (TCP user timeout).
    public var maxRetransmits = 6
    /// Probability that a segment is reordered behind a later one, and the extra wait that causes.
    public var reorder = 0.0
    public var reorderDelay: TimeSpan = .milliseconds(30)
    public init() {}
}

/// N nodes running the real `PexCore.Node`, wired through a simulated network under one
/// virtual clock. Everything random comes from one seed, so a run replays exactly.
public final class SimNetwork {
    /// One simulated machine.
    public struct Host {
        public let index: Int
        public let identity: KeyPair
        /// The host's address; `SimNetwork.changeAddress(_:to:)` moves it.
        public internal(set) var ip: IPAddress
        public let port: UInt16
        public var config: NodeConfig
        public var node: Node?
        public var store = SimStore()
        public var alive: Bool { node != nil }
        /// Every event the node emitted, with its time (bounded by `SimNetwork.eventLimit`).
        public var events: [(Instant, Event)] = []
        public var listenAddress: Multiaddr { SimNetwork.address(ip, port) }
    }

    enum Item {
        case tick(Int)
        case connect(dialer: Endpoint, target: Int)
        /// An input for a host, dropped if the host restarted since (its ids start over).
        case input(Int, Input, generation: Int)
        case deliver(Endpoint, [UInt8], generation: Int)
        /// The transport of this endpoint closed (EOF or reset): it stops receiving.
        case closed(Endpoint, reason: String, generation: Int)
        case action(() -> Void)
    }

    struct Endpoint: Hashable, Comparable {
        let host: Int
        let connection: ConnectionID
        static func < (a: Endpoint, b: Endpoint) -> Bool { (a.host, a.connection.raw) < (b.host, b.connection.raw) }
    }

    public private(set) var hosts: [Host] = []
    public private(set) var now: Instant
    public var link = LinkModel()
    public let crypto: any CryptoProvider
    /// One parser for every node: each distinct record is decoded once per run and its buffers
    /// are shared by every node that holds it (memory and time of large runs; outcomes are the
    /// same as with per-node parsing).
    public let parser = MemoizingRecordParser()
    public var eventLimit = 10_000
    var rng: SeededRandom
    var queue = EventQueue<Item>()
    /// Where an endpoint's writes go; removed when that side closes or its peer's socket is gone.
    var peers: [Endpoint: Endpoint] = [:]
    /// Endpoints whose socket still receives (from connect until their own `.closed`).
    var open: Set<Endpoint> = []
    /// Dials whose SYN is on its way; a dial closed or crashed meanwhile is dropped from here.
    var pendingConnects: Set<Endpoint> = []
    /// Deliveries within one direction of a connection never overtake each other (TCP).
    var lastDelivery: [Endpoint: UInt64] = [:]
    /// Segments and EOFs sent across a blocked direction: TCP keeps retransmitting them, so they
    /// arrive, in order, once the path heals (unless a side gave up and closed first).
    var held: [Endpoint: (from: Int, items: [HeldItem])] = [:]
    enum HeldItem { case bytes([UInt8]), eof(String) }
    /// Per-link overrides of `link`, keyed by `linkKey(from, to)`.
    public var linkOverrides: [UInt64: LinkModel] = [:]
    /// Ready connections per endpoint and the peer key, from the nodes' events.
    var ready: [Endpoint: PublicKey] = [:]
    var scheduledTick: [Int: UInt64] = [:]
    var byAddress: [IPAddress: Int] = [:]
    /// Each host restart bumps its generation; deliveries to an older generation are dropped.
    var generation: [Int: Int] = [:]
    var ephemeralPort: UInt16 = 40000
    /// `hosts[i].alive`, kept apart so hot paths need not touch the node value.
    var running: [Bool] = []
    /// Host pairs that cannot reach each other (one-way: from → to), as `linkKey(from, to)`.
    var blocked: Set<UInt64> = []
    public private(set) var traceHash: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var steps = 0
    public private(set) var bytesDelivered = 0
    /// Called after every input with the host index; checks invariants in tests and the simulator.
    public var observer: ((SimNetwork, Int) -> Void)?
    /// Called with every persistence change and event a node emits, before the store applies it.
    public var outputObserver: ((SimNetwork, Int, Output) -> Void)?
    /// Connections reset because a segment was lost `maxRetransmits` times in a row.
    public private(set) var retransmitResets = 0
    /// Hosts driven by a script instead of a `Node` (adversaries); see `start(_:script:)`.
    var scripts: [Int: any SimScript] = [:]

    public init(seed: UInt64, crypto: any CryptoProvider, start: Instant = .unix(seconds: 1_800_000_000)) {
        rng = SeededRandom(seed: seed)
        self.crypto = crypto
        now = start
    }

    /// A routable simulated address for host `i`: one /16 per host, outside every special range.
    public static func ip(for i: Int) -> IPAddress {
        IPAddress(ipv4: UInt8(11 + i / 250), UInt8(i % 250), UInt8(i / 250 % 250), 1)
    }

    public static func address(_ ip: IPAddress, _ port: UInt16) -> Multiaddr {
        try! Multiaddr(ip.isIPv4 ? "/ip4/\(ip)/tcp/\(port)" : "/ip6/\(ip)/tcp/\(port)")
    }

    /// Adds a host (not started). `configure` adjusts its configuration.
    @discardableResult
    public func addHost(seed: [UInt8]? = nil, ip: IPAddress? = nil, networkID: String = "pex-sim",
                        configure: (inout NodeConfig) -> Void = { _ in }) -> Int {
        let index = hosts.count
        var keySeed = seed ?? [UInt8](repeating: 0, count: 32)
        if seed == nil {
            keySeed[0] = UInt8(index & 0xff); keySeed[1] = UInt8(index >> 8 & 0xff); keySeed[2] = UInt8(index >> 16 & 0xff)
            keySeed[31] = 0x77
        }
        let identity = try! KeyPair(seed: keySeed)
        let address = ip ?? Self.ip(for: index)
        var config = NodeConfig(networkID: networkID, advertisedAddresses: [Self.address(address, 4001)])
        configure(&config)
        running.append(false)
        hosts.append(Host(index: index, identity: identity, ip: address, port: 4001, config: config))
        byAddress[address] = index
        return index
    }

    /// Starts (or restarts) a host's node, loading its store unless `fresh`.
    public func start(_ i: Int, fresh: Bool = false) {
        if fresh { hosts[i].store = SimStore() }
        generation[i, default: 0] += 1
        running[i] = true
        hosts[i].node = Node(config: hosts[i].config, identity: hosts[i].identity, crypto: crypto,
                             random: SeededRandom(seed: rng.next()), now: now, parser: parser)
        input(i, .loaded(hosts[i].store.state))
    }

    /// Starts host `i` driven by `script` instead of a node (an adversary speaking the wire
    /// protocol by hand). The host has no `Node`: `inspect` and the invariant checks skip it.
    public func start(_ i: Int, script: any SimScript) {
        generation[i, default: 0] += 1
        running[i] = true
        hosts[i].node = nil
        scripts[i] = script
        input(i, .tick)
    }

    /// Stops a host abruptly: its connections drop (peers see resets) and its memory is gone.
    public func crash(_ i: Int, keepStore: Bool = true) {
        guard running[i] else { return }
        running[i] = false
        hosts[i].node = nil
        scripts[i] = nil
        if !keepStore { hosts[i].store = SimStore() }
        for (local, remote) in peers.sorted(by: { $0.key < $1.key }) where local.host == i {
            peers[local] = nil
            peers[remote] = nil
            // The peer learns of the crash by a reset, or, across a partition, only by its timeouts.
            if reachable(i, remote.host) {
                schedule(.closed(remote, reason: "connection reset", generation: generation[remote.host] ?? 0),
                         after: latency(i, remote.host))
            }
        }
        for endpoint in open.sorted() where endpoint.host == i { open.remove(endpoint); forget(endpoint) }
        pendingConnects = pendingConnects.filter { $0.host != i }
        scheduledTick[i] = nil
    }

    /// Crashes a host and starts it again at once, with its store or empty.
    public func restart(_ i: Int, keepStore: Bool = true) {
        crash(i, keepStore: keepStore)
        start(i, fresh: !keepStore)
    }

    /// Moves a host to a new IP address: later dials to the old one fail. The node is not told;
    /// pair this with `Command.reload` carrying the new advertised address.
    public func changeAddress(_ i: Int, to ip: IPAddress) {
        if byAddress[hosts[i].ip] == i { byAddress[hosts[i].ip] = nil }
        hosts[i].ip = ip
        byAddress[ip] = i
    }

    /// The link model between two hosts (`link` unless overridden).
    public func model(_ from: Int, _ to: Int) -> LinkModel { linkOverrides[Self.linkKey(from, to)] ?? link }

    /// Overrides the link model in both directions between two hosts.
    public func setLink(_ a: Int, _ b: Int, _ model: LinkModel) {
        linkOverrides[Self.linkKey(a, b)] = model
        linkOverrides[Self.linkKey(b, a)] = model
    }

    static func linkKey(_ from: Int, _ to: Int) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: from)) << 32 | UInt64(UInt32(truncatingIfNeeded: to)) }

    /// Ready connections of a host (connection, peer key), in connection order.
    public func readyConnections(of i: Int) -> [(ConnectionID, PublicKey)] {
        ready.filter { $0.key.host == i }.sorted { $0.key < $1.key }.map { ($0.key.connection, $0.value) }
    }

    /// Number of open connections in the whole network (each counted once).
    public var connectionCount: Int { peers.count / 2 }

    /// Writes raw bytes on a host's connection, as if its node had sent them (attackers).
    public func inject(_ i: Int, _ id: ConnectionID, _ bytes: [UInt8]) {
        transmit(from: Endpoint(host: i, connection: id), bytes)
    }

    /// Blocks traffic between the given groups (every pair across groups, both ways).
    public func partition(_ groups: [[Int]]) {
        for (a, ga) in groups.enumerated() {
            for (b, gb) in groups.enumerated() where a != b {
                for x in ga { for y in gb { blocked.insert(Self.linkKey(x, y)) } }
            }
        }
    }

    /// Blocks traffic from `from` to `to` only (a one-way partition: with TCP no new connection
    /// can form either way, and established ones stall in one direction until they time out).
    public func block(from: Int, to: Int) { blocked.insert(Self.linkKey(from, to)) }

    /// Lifts one direction of a block; held segments on that path go out.
    public func unblock(from: Int, to: Int) {
        blocked.remove(Self.linkKey(from, to))
        flushHeld()
    }

    /// Lifts every block; held segments are delivered in order.
    public func heal() {
        blocked.removeAll()
        flushHeld()
    }

    /// Whether any traffic is blocked.
    public var isPartitioned: Bool { !blocked.isEmpty }

    /// Runs `action` at virtual time `at`.
    public func at(_ time: Instant, _ action: @escaping () -> Void) {
        queue.push(.action(action), at: time.nanoseconds)
    }

    /// Delivers a command to a host's node now.
    public func command(_ i: Int, _ command: Command) { input(i, .command(command)) }

    /// Runs until virtual time `end` (or no events remain).
    public func run(until end: Instant) {
        while let t = queue.nextTime, t <= end.nanoseconds {
            step()
        }
        if now < end { now = end }
    }

    public func run(for span: TimeSpan) { run(until: now + span) }

    /// Processes the earliest event.
    public func step() {
        guard let (time, item) = queue.pop() else { return }
        steps += 1
        if time > now.nanoseconds { now = Instant(nanoseconds: time) }
        switch item {
        case let .tick(i):
            guard scheduledTick[i] == time else { return }
            scheduledTick[i] = nil
            input(i, .tick)
        case let .input(i, input, gen):
            guard generation[i] == gen else { return }
            self.input(i, input)
        case let .connect(dialer, target):
            connect(dialer, target)
        case let .deliver(to, bytes, gen):
            guard generation[to.host] == gen, open.contains(to) else { return }
            bytesDelivered += bytes.count
            input(to.host, .received(to.connection, bytes))
        case let .closed(endpoint, reason, gen):
            guard generation[endpoint.host] == gen, open.remove(endpoint) != nil else { return }
            peers[endpoint] = nil
            forget(endpoint)
            input(endpoint.host, .closed(endpoint.connection, reason: reason))
        case let .action(action):
            action()
        }
    }

    // MARK: Plumbing

    /// One-way delay of a segment from `from` to `to`, loss and reordering included.
    /// - Returns: nil when the segment was lost `maxRetransmits` times in a row.
    func segmentDelay(_ from: Int, _ to: Int) -> TimeSpan? {
        let m = model(from, to)
        var t = baseLatency(m).nanoseconds
        if m.loss > 0 {
            var rto = m.retransmitDelay.nanoseconds
            var losses = 0
            while Double.random(in: 0..<1, using: &rng) < m.loss {
                losses += 1
                if losses > m.maxRetransmits { return nil }
                t += rto
                rto = min(rto * 2, 60_000_000_000)
            }
        }
        if m.reorder > 0 && Double.random(in: 0..<1, using: &rng) < m.reorder { t += m.reorderDelay.nanoseconds }
        return TimeSpan(nanoseconds: t)
    }

    /// One-way latency of a control event (SYN, FIN, reset): no loss modelled.
    func latency(_ from: Int = -1, _ to: Int = -1) -> TimeSpan {
        baseLatency(from < 0 ? link : model(from, to))
    }

    func baseLatency(_ m: LinkModel) -> TimeSpan {
        let lo = m.latencyMin.nanoseconds, hi = max(m.latencyMax.nanoseconds, m.latencyMin.nanoseconds)
        let span = hi - lo
        switch m.distribution {
        case .uniform:
            return TimeSpan(nanoseconds: lo + (span == 0 ? 0 : UInt64.random(in: 0...span, using: &rng)))
        case let .normal(mean, deviation):
            // Box–Muller from two uniforms drawn from the seeded generator.
            let u1 = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &rng)
            let u2 = Double.random(in: 0..<1, using: &rng)
            let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            let v = Double(mean.nanoseconds) + z * Double(deviation.nanoseconds)
            return TimeSpan(nanoseconds: UInt64(min(max(v, Double(lo)), Double(hi))))
        case let .pareto(alpha):
            let u = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &rng)
            let factor = pow(u, -1 / max(alpha, 0.1))  // ≥ 1
            let v = Double(max(lo, 1_000_000)) * factor
            return TimeSpan(nanoseconds: UInt64(min(v, Double(hi))))
        }
    }

    func schedule(_ item: Item, after span: TimeSpan) {
        queue.push(item, at: (now + span).nanoseconds)
    }

    func reachable(_ a: Int, _ b: Int) -> Bool { blocked.isEmpty || !blocked.contains(Self.linkKey(a, b)) }

    /// Sends bytes from an endpoint to its peer: held while the path is blocked, else delivered
    /// after the segment delay, never before earlier bytes of the same direction.
    func transmit(from: Endpoint, _ bytes: [UInt8]) {
        guard let to = peers[from] else { return }
        if !reachable(from.host, to.host) {
            held[to, default: (from.host, [])].items.append(.bytes(bytes))
            return
        }
        guard let delay = segmentDelay(from.host, to.host) else {
            // Retransmissions exhausted: both sides see a reset.
            retransmitResets += 1
            reset(from, to, reason: "retransmission timeout")
            return
        }
        var at = (now + delay).nanoseconds
        if let last = lastDelivery[to], last > at { at = last }
        lastDelivery[to] = at
        queue.push(.deliver(to, bytes, generation: generation[to.host] ?? 0), at: at)
    }

    func reset(_ a: Endpoint, _ b: Endpoint, reason: String) {
        peers[a] = nil
        peers[b] = nil
        held[a] = nil
        held[b] = nil
        for e in [a, b] {
            schedule(.closed(e, reason: reason, generation: generation[e.host] ?? 0), after: .zero)
        }
    }

    /// Delivers what a healed path held, in order per connection.
    func flushHeld() {
        for to in held.keys.sorted() {
            guard let path = held[to], reachable(path.from, to.host) else { continue }
            held[to] = nil
            guard open.contains(to) else { continue }
            let gen = generation[to.host] ?? 0
            for item in path.items {
                var at = (now + latency(path.from, to.host)).nanoseconds
                if let last = lastDelivery[to], last > at { at = last }
                lastDelivery[to] = at
                switch item {
                case let .bytes(bytes): queue.push(.deliver(to, bytes, generation: gen), at: at)
                case let .eof(reason): queue.push(.closed(to, reason: reason, generation: gen), at: at)
                }
            }
        }
    }

    /// Drops per-endpoint bookkeeping of a socket that is gone.
    func forget(_ e: Endpoint) {
        lastDelivery[e] = nil
        held[e] = nil
        ready[e] = nil
    }

    func input(_ i: Int, _ input: Input) {
        guard running[i] else { return }
        if !scripts.isEmpty, let script = scripts[i] {
            script.handle(input, now: now)
        } else {
            hosts[i].node!.handle(input, now: now)
        }
        mix(UInt64(i))
        drain(i)
        observer?(self, i)
    }

    func drain(_ i: Int) {
        while let output = hosts[i].node?.pollOutput() ?? scripts[i]?.pollOutput() {
            switch output {
            case let .dial(id, address):
                mix(1)
                let dialer = Endpoint(host: i, connection: id)
                guard let ip = address.ipAddress, let target = byAddress[ip], reachable(i, target), reachable(target, i) else {
                    // No answer to the SYN (nobody there, or the path is cut): the node's own
                    // handshake timeout gives up on the dial.
                    continue
                }
                let rtt = latency(i, target) + latency(target, i)
                guard address.port == hosts[target].port, running[target],
                      !(model(i, target).dialFailure > 0 && Double.random(in: 0..<1, using: &rng) < model(i, target).dialFailure) else {
                    schedule(.input(i, .dialFailed(id, reason: "connection refused"), generation: generation[i] ?? 0), after: rtt)
                    continue
                }
                pendingConnects.insert(dialer)
                schedule(.connect(dialer: dialer, target: target), after: rtt)
            case let .send(id, bytes):
                mix(2 &+ UInt64(bytes.count))
                transmit(from: Endpoint(host: i, connection: id), bytes)
            case let .close(id):
                mix(3)
                let local = Endpoint(host: i, connection: id)
                if let remote = peers.removeValue(forKey: local) {
                    // The remote's writes now go nowhere (our socket is closed); it still receives
                    // the bytes in flight, then EOF — or, across a blocked path, once it heals.
                    peers[remote] = nil
                    let gen = generation[remote.host] ?? 0
                    if !reachable(i, remote.host) {
                        held[remote, default: (i, [])].items.append(.eof("closed by peer"))
                    } else {
                        let at = max((now + latency(i, remote.host)).nanoseconds, lastDelivery[remote] ?? 0)
                        queue.push(.closed(remote, reason: "closed by peer", generation: gen), at: at)
                    }
                }
                schedule(.closed(local, reason: "closed", generation: generation[i] ?? 0), after: .zero)
                if !open.contains(local) {
                    // A dial given up before it connected: the late SYN-ACK will be refused.
                    pendingConnects.remove(local)
                    schedule(.input(i, .closed(id, reason: "closed"), generation: generation[i] ?? 0), after: .zero)
                }
            case let .resolve(query, _, _):
                schedule(.input(i, .resolveFailed(query, reason: "no DNS in the simulator"), generation: generation[i] ?? 0), after: latency())
            case let .persist(change):
                outputObserver?(self, i, output)
                hosts[i].store.apply(change, parser: parser)
            case let .event(event):
                mix(4)
                switch event {
                case let .connected(id, key, _, _): ready[Endpoint(host: i, connection: id)] = key
                case let .disconnected(id, _, _): ready[Endpoint(host: i, connection: id)] = nil
                default: break
                }
                outputObserver?(self, i, output)
                if hosts[i].events.count < eventLimit { hosts[i].events.append((now, event)) }
            }
        }
        // `nextDeadline` through `withNode` so the (large) node value is borrowed, not copied.
        if let deadline = scripts.isEmpty || scripts[i] == nil ? withNode(i, { $0.nextDeadline() }) ?? nil : scripts[i]?.nextDeadline() {
            let t = max(deadline.nanoseconds, now.nanoseconds)
            if scheduledTick[i].map({ t < $0 }) ?? true {
                scheduledTick[i] = t
                queue.push(.tick(i), at: t)
            }
        }
    }

    func connect(_ dialer: Endpoint, _ target: Int) {
        guard pendingConnects.remove(dialer) != nil, running[dialer.host] else { return }
        guard running[target], reachable(dialer.host, target), reachable(target, dialer.host) else {
            input(dialer.host, .dialFailed(dialer.connection, reason: "connection refused"))
            return
        }
        guard let id = hosts[target].node?.newConnectionID() ?? scripts[target]?.newConnectionID() else { return }
        let accepted = Endpoint(host: target, connection: id)
        peers[dialer] = accepted
        peers[accepted] = dialer
        open.insert(dialer)
        open.insert(accepted)
        ephemeralPort = ephemeralPort == 65000 ? 40000 : ephemeralPort + 1
        input(target, .accepted(id, remote: Self.address(hosts[dialer.host].ip, ephemeralPort)))
        input(dialer.host, .connected(dialer.connection))
    }

    /// Whether host `i`'s node is running (same as `hosts[i].alive`, without touching the node).
    public func isAlive(_ i: Int) -> Bool { running[i] }

    /// Whether host `i` runs a node that `inspect` would show (up, and not an adversary's script).
    public func isInspectable(_ i: Int) -> Bool { running[i] && (scripts.isEmpty || scripts[i] == nil) }

    /// Reads host `i`'s node without copying it.
    /// - Returns: What `body` returns, or nil when the host is down.
    public func inspect<T>(_ i: Int, _ body: (Node) -> T) -> T? {
        guard isInspectable(i) else { return nil }
        // `node!` on the array element borrows it in place; `unsafelyUnwrapped` (a getter)
        // would copy the whole node.
        return body(hosts[i].node!)
    }

    /// Runs `body` on host `i`'s node in place (no copy of the node's state).
    func withNode<T>(_ i: Int, _ body: (inout Node) -> T) -> T? {
        guard running[i], scripts.isEmpty || scripts[i] == nil else { return nil }
        return body(&hosts[i].node!)
    }

    /// Folds an observation into the trace hash (FNV-1a over 64-bit words).
    func mix(_ value: UInt64) {
        traceHash = (traceHash ^ value) &* 0x100_0000_01b3
        traceHash = (traceHash ^ now.nanoseconds) &* 0x100_0000_01b3
    }
}
