import PexCore
import PexWire

/// Link behaviour of the simulated network.
public struct LinkModel: Sendable, Equatable {
    /// One-way latency is uniform in this range.
    public var latencyMin: TimeSpan = .milliseconds(5)
    public var latencyMax: TimeSpan = .milliseconds(50)
    /// Probability that a dial fails although the target is up (lost SYN, full backlog).
    public var dialFailure = 0.0
    /// Probability that a segment is lost and retransmitted: it then arrives one `retransmitDelay`
    /// later (TCP hides loss as delay; order within a connection is kept).
    public var loss = 0.0
    public var retransmitDelay: TimeSpan = .milliseconds(200)
    public init() {}
}

/// N nodes running the real `PexCore.Node`, wired through a simulated network under one
/// virtual clock. Everything random comes from one seed, so a run replays exactly.
public final class SimNetwork {
    /// One simulated machine.
    public struct Host {
        public let index: Int
        public let identity: KeyPair
        public let ip: IPAddress
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
        case input(Int, Input)
        case deliver(Endpoint, [UInt8], generation: Int)
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
    public var eventLimit = 10_000
    var rng: SeededRandom
    var queue = EventQueue<Item>()
    var peers: [Endpoint: Endpoint] = [:]
    /// Deliveries within one direction of a connection never overtake each other (TCP).
    var lastDelivery: [Endpoint: UInt64] = [:]
    var scheduledTick: [Int: UInt64] = [:]
    var byAddress: [IPAddress: Int] = [:]
    /// Each host restart bumps its generation; deliveries to an older generation are dropped.
    var generation: [Int: Int] = [:]
    var ephemeralPort: UInt16 = 40000
    /// Host pairs that cannot reach each other (one-way: from → to).
    var blocked: Set<[Int]> = []
    public private(set) var traceHash: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var steps = 0
    public private(set) var bytesDelivered = 0
    /// Called after every input with the host index; checks invariants in tests and the simulator.
    public var observer: ((SimNetwork, Int) -> Void)?

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
        hosts.append(Host(index: index, identity: identity, ip: address, port: 4001, config: config))
        byAddress[address] = index
        return index
    }

    /// Starts (or restarts) a host's node, loading its store unless `fresh`.
    public func start(_ i: Int, fresh: Bool = false) {
        if fresh { hosts[i].store = SimStore() }
        generation[i, default: 0] += 1
        hosts[i].node = Node(config: hosts[i].config, identity: hosts[i].identity, crypto: crypto,
                             random: SeededRandom(seed: rng.next()), now: now)
        input(i, .loaded(hosts[i].store.state))
    }

    /// Stops a host abruptly: its connections drop (peers see resets) and its memory is gone.
    public func crash(_ i: Int, keepStore: Bool = true) {
        guard hosts[i].alive else { return }
        hosts[i].node = nil
        if !keepStore { hosts[i].store = SimStore() }
        for (local, remote) in peers.sorted(by: { $0.key < $1.key }) where local.host == i {
            peers[local] = nil
            peers[remote] = nil
            schedule(.input(remote.host, .closed(remote.connection, reason: "connection reset")), after: latency())
        }
        scheduledTick[i] = nil
    }

    /// Blocks traffic between the given groups (every pair across groups, both ways).
    public func partition(_ groups: [[Int]]) {
        for (a, ga) in groups.enumerated() {
            for (b, gb) in groups.enumerated() where a != b {
                for x in ga { for y in gb { blocked.insert([x, y]) } }
            }
        }
    }

    /// Blocks traffic from `from` to `to` only.
    public func block(from: Int, to: Int) { blocked.insert([from, to]) }

    public func heal() { blocked.removeAll() }

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
        case let .input(i, input):
            self.input(i, input)
        case let .connect(dialer, target):
            connect(dialer, target)
        case let .deliver(to, bytes, gen):
            guard generation[to.host] == gen, peers[to] != nil else { return }
            bytesDelivered += bytes.count
            input(to.host, .received(to.connection, bytes))
        case let .action(action):
            action()
        }
    }

    // MARK: Plumbing

    func latency() -> TimeSpan {
        let span = link.latencyMax.nanoseconds - link.latencyMin.nanoseconds
        var t = link.latencyMin.nanoseconds + (span == 0 ? 0 : UInt64.random(in: 0...span, using: &rng))
        if link.loss > 0 && Double.random(in: 0..<1, using: &rng) < link.loss { t += link.retransmitDelay.nanoseconds }
        return TimeSpan(nanoseconds: t)
    }

    func schedule(_ item: Item, after span: TimeSpan) {
        queue.push(item, at: (now + span).nanoseconds)
    }

    func reachable(_ a: Int, _ b: Int) -> Bool { !blocked.contains([a, b]) }

    func input(_ i: Int, _ input: Input) {
        guard hosts[i].node != nil else { return }
        hosts[i].node!.handle(input, now: now)
        mix(UInt64(i))
        drain(i)
        observer?(self, i)
    }

    func drain(_ i: Int) {
        while let output = hosts[i].node?.pollOutput() {
            switch output {
            case let .dial(id, address):
                mix(1)
                let dialer = Endpoint(host: i, connection: id)
                guard let ip = address.ipAddress, let target = byAddress[ip], address.port == hosts[target].port,
                      hosts[target].alive, reachable(i, target), reachable(target, i),
                      !(link.dialFailure > 0 && Double.random(in: 0..<1, using: &rng) < link.dialFailure) else {
                    schedule(.input(i, .dialFailed(id, reason: "unreachable")), after: latency() + latency())
                    continue
                }
                schedule(.connect(dialer: dialer, target: target), after: latency() + latency())
            case let .send(id, bytes):
                mix(2 &+ UInt64(bytes.count))
                let from = Endpoint(host: i, connection: id)
                guard let to = peers[from] else { continue }
                guard reachable(i, to.host) else { continue }  // lost: the connection will time out
                var at = (now + latency()).nanoseconds
                if let last = lastDelivery[to], last > at { at = last }
                lastDelivery[to] = at
                queue.push(.deliver(to, bytes, generation: generation[to.host] ?? 0), at: at)
            case let .close(id):
                mix(3)
                let local = Endpoint(host: i, connection: id)
                if let remote = peers.removeValue(forKey: local) {
                    peers[remote] = nil
                    // The peer sees EOF after the bytes already in flight.
                    let at = max((now + latency()).nanoseconds, lastDelivery[remote] ?? 0)
                    queue.push(.input(remote.host, .closed(remote.connection, reason: "closed by peer")), at: at)
                }
                schedule(.input(i, .closed(id, reason: "closed")), after: .zero)
            case let .resolve(query, _, _):
                schedule(.input(i, .resolveFailed(query, reason: "no DNS in the simulator")), after: latency())
            case let .persist(change):
                hosts[i].store.apply(change)
            case let .event(event):
                mix(4)
                if hosts[i].events.count < eventLimit { hosts[i].events.append((now, event)) }
            }
        }
        if let deadline = hosts[i].node?.nextDeadline() {
            let t = max(deadline.nanoseconds, now.nanoseconds)
            if scheduledTick[i].map({ t < $0 }) ?? true {
                scheduledTick[i] = t
                queue.push(.tick(i), at: t)
            }
        }
    }

    func connect(_ dialer: Endpoint, _ target: Int) {
        guard hosts[dialer.host].alive, hosts[target].alive, reachable(dialer.host, target), reachable(target, dialer.host) else {
            input(dialer.host, .dialFailed(dialer.connection, reason: "unreachable"))
            return
        }
        guard let id = hosts[target].node?.newConnectionID() else { return }
        let accepted = Endpoint(host: target, connection: id)
        peers[dialer] = accepted
        peers[accepted] = dialer
        ephemeralPort = ephemeralPort == 65000 ? 40000 : ephemeralPort + 1
        input(target, .accepted(id, remote: Self.address(hosts[dialer.host].ip, ephemeralPort)))
        input(dialer.host, .connected(dialer.connection))
    }

    /// Folds an observation into the trace hash (FNV-1a over 64-bit words).
    func mix(_ value: UInt64) {
        traceHash = (traceHash ^ value) &* 0x100_0000_01b3
        traceHash = (traceHash ^ now.nanoseconds) &* 0x100_0000_01b3
    }
}
