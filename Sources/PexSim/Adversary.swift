import PexCore
import PexWire

/// The sans-IO shape of a simulated host that is not a `Node`: `SimNetwork` feeds it the same
/// inputs and carries out the same outputs (`send`, `dial`, `close`).
public protocol SimScript: AnyObject {
    /// A fresh id for a connection the network opened to this host.
    func newConnectionID() -> ConnectionID
    /// One input at virtual time `now`.
    func handle(_ input: Input, now: Instant)
    /// The next output, nil when none is pending.
    func pollOutput() -> Output?
    /// When the host next wants a `.tick`.
    func nextDeadline() -> Instant?
}

/// What an `Adversary` does, beyond completing real handshakes and answering `Ping`s.
public struct AdversaryPlan: Sendable {
    /// Addresses dialled at start, and again `redialDelay` after each close or failed dial.
    public var dial: [Multiaddr] = []
    public var redialDelay: TimeSpan = .seconds(1)
    /// Records announced once a connection is ready, in `PeerAnnouncement`s of at most `announceBurst`.
    public var announce: [SignedPeerRecord] = []
    public var announceBurst = WireLimits.maxRecordsPerMessage
    /// After the burst, `trickleCount` further records of `announce` (cycling) every `trickleInterval`.
    public var trickleInterval: TimeSpan?
    public var trickleCount = 1
    /// Records served in `PeerResponse`s: a random sample of up to `max_peers` per request.
    public var serve: [SignedPeerRecord] = []
    /// Flooding: every `floodInterval` on each ready connection, `floodRequests` `PeerRequest`s,
    /// `floodPings` `Ping`s and one `PeerAnnouncement` of `floodRecords` records from `floodPool`.
    public var floodInterval: TimeSpan?
    public var floodRequests = 0
    public var floodPings = 0
    public var floodRecords = 0
    public var floodPool: [SignedPeerRecord] = []
    /// After a connection is closed by the peer, continue under a fresh identity (Sybil rotation).
    public var rotateIdentity = false
    /// The record sent in the `Hello` to a given peer address (equivocation); others get the own record.
    public var helloRecord: [IPAddress: SignedPeerRecord] = [:]

    public init() {}
}

/// What an adversary observed: the victim's reactions and the cost it imposed.
public struct AdversaryStats: Sendable, Equatable {
    public var dials = 0
    public var accepted = 0
    public var handshakes = 0
    /// Connections the peer closed (any reason) after or during the handshake.
    public var closedByPeer = 0
    /// Bytes the peers sent us: what attacking cost them in bandwidth.
    public var bytesReceived = 0
    public var framesReceived: [String: Int] = [:]
    /// `Error`s received, by code name.
    public var errorsReceived: [String: Int] = [:]
    public var requestsSent = 0
    public var recordsSent = 0
    public var pingsSent = 0
    /// Identities used so far (grows with `rotateIdentity`).
    public var identities = 1
    public var firstRateLimited: Instant?
    public var firstClosedByPeer: Instant?
    public var firstBanned: Instant?
    public init() {}
}

/// A scripted host that speaks the real wire protocol: PexWire frames, a real `Hello`/`Auth`
/// handshake over the `AuthTranscript`, records signed with its own keys by the network's
/// `CryptoProvider`; and then misbehaves as its `AdversaryPlan` says. It never verifies what it
/// receives (an attacker has no reason to) but decodes every frame to count the reactions.
public final class Adversary: SimScript {
    final class Conn {
        let id: ConnectionID
        let role: AuthRole
        var remoteIP: IPAddress?
        var target: Multiaddr?
        var decoder = FrameDecoder(maxFrameSize: WireLimits.maxFrameSize)
        var ourHello: [UInt8] = []
        let nonce: [UInt8]
        var theirHello: [UInt8]?
        var theirNonce: [UInt8] = []
        var sentAuth = false
        var ready = false
        var announced = 0
        var nextTrickle: Instant?
        var nextFlood: Instant?
        var open = true
        /// The identity of this connection's Hello: a rotation must not change it mid-handshake.
        var identity: KeyPair?
        init(id: ConnectionID, role: AuthRole, nonce: [UInt8]) {
            self.id = id
            self.role = role
            self.nonce = nonce
        }
    }

    public private(set) var identity: KeyPair
    public private(set) var record: SignedPeerRecord
    public private(set) var stats = AdversaryStats()
    /// Every key this adversary has used.
    public private(set) var keys: [PublicKey]
    public var plan: AdversaryPlan
    let crypto: any CryptoProvider
    let networkID: String
    let address: Multiaddr
    var random: SeededRandom
    var conns: [ConnectionID: Conn] = [:]
    var outputs: [Output] = []
    var outputIndex = 0
    var nextID: UInt64 = 1
    var now: Instant
    var redials: [(Instant, Multiaddr)] = []
    var started = false
    var requestID: UInt64 = 1
    var floodCursor = 0

    /// An adversary with its own identity and listen address.
    /// - Parameters:
    ///   - identity: Its key pair (its record is signed with it).
    ///   - address: The address its record advertises (its host's listen address).
    ///   - networkID: The network it pretends to belong to.
    ///   - crypto: The network's signature scheme.
    ///   - plan: What it does.
    ///   - seed: Its nonces' seed.
    ///   - now: The current virtual time (its record's seq and expiry derive from it).
    public init(identity: KeyPair, address: Multiaddr, networkID: String, crypto: any CryptoProvider,
                plan: AdversaryPlan, seed: UInt64, now: Instant) {
        self.identity = identity
        self.address = address
        self.networkID = networkID
        self.crypto = crypto
        self.plan = plan
        self.now = now
        random = SeededRandom(seed: seed)
        keys = [identity.publicKey]
        record = Self.sign(identity, seq: now.unixSeconds, addresses: [address], networkID: networkID, now: now, crypto: crypto)
    }

    /// A record of `identity`, valid for a day from `now`.
    /// - Returns: The signed record (these inputs are always valid, so signing cannot fail).
    public static func sign(_ identity: KeyPair, seq: UInt64, addresses: [Multiaddr], networkID: String,
                            now: Instant, crypto: any CryptoProvider) -> SignedPeerRecord {
        // Inputs are the simulator's own well-formed values; a failure is a simulator bug.
        try! SignedPeerRecord.create(keyPair: identity, seq: seq, addresses: addresses, networkID: networkID,
                                     expiresAt: now.unixSeconds + 86_400, crypto: crypto)
    }

    /// A deterministic key pair for attacker identity number `n` of a campaign `tag`.
    public static func key(_ tag: UInt8, _ n: Int) -> KeyPair {
        var seed = [UInt8](repeating: 0xa5, count: 32)
        seed[0] = UInt8(n & 0xff); seed[1] = UInt8(n >> 8 & 0xff); seed[2] = UInt8(n >> 16 & 0xff); seed[3] = tag
        return try! KeyPair(seed: seed)
    }

    // MARK: SimScript

    public func newConnectionID() -> ConnectionID {
        defer { nextID += 1 }
        return ConnectionID(raw: nextID)
    }

    public func pollOutput() -> Output? {
        guard outputIndex < outputs.count else {
            outputs.removeAll(keepingCapacity: true)
            outputIndex = 0
            return nil
        }
        defer { outputIndex += 1 }
        return outputs[outputIndex]
    }

    public func nextDeadline() -> Instant? {
        var next = redials.map(\.0).min()
        for c in conns.values where c.ready {
            for t in [c.nextTrickle, c.nextFlood].compactMap({ $0 }) { next = min(next ?? t, t) }
        }
        return next
    }

    public func handle(_ input: Input, now: Instant) {
        self.now = max(self.now, now)
        if !started {
            started = true
            for target in plan.dial { dial(target) }
        }
        switch input {
        case let .accepted(id, remote):
            stats.accepted += 1
            let c = Conn(id: id, role: .responder, nonce: random.bytes(WireLimits.nonceLength))
            c.remoteIP = remote.ipAddress
            conns[id] = c
            sendHello(c)
        case let .connected(id):
            guard let c = conns[id] else { return }
            sendHello(c)
        case let .dialFailed(id, _):
            if let c = conns.removeValue(forKey: id), let target = c.target { scheduleRedial(target) }
        case let .received(id, bytes):
            guard let c = conns[id], c.open else { return }
            stats.bytesReceived += bytes.count
            c.decoder.append(bytes)
            receive(c)
        case let .closed(id, _):
            guard let c = conns.removeValue(forKey: id) else { return }
            if c.open {
                // The peer hung up on us.
                stats.closedByPeer += 1
                if stats.firstClosedByPeer == nil { stats.firstClosedByPeer = now }
                if plan.rotateIdentity { rotate() }
            }
            if let target = c.target { scheduleRedial(target) }
        case .tick:
            tick()
        default:
            break
        }
    }

    // MARK: Behaviour

    func dial(_ target: Multiaddr) {
        let id = newConnectionID()
        let c = Conn(id: id, role: .initiator, nonce: random.bytes(WireLimits.nonceLength))
        c.target = target
        c.remoteIP = target.ipAddress
        conns[id] = c
        stats.dials += 1
        outputs.append(.dial(id, address: target))
    }

    func scheduleRedial(_ target: Multiaddr) {
        redials.append((now + plan.redialDelay, target))
    }

    /// A fresh key under the same address: bans of the old key no longer apply.
    func rotate() {
        identity = Self.key(0xee, Int(random.next() & 0xff_ffff))
        keys.append(identity.publicKey)
        stats.identities += 1
        record = Self.sign(identity, seq: now.unixSeconds, addresses: [address], networkID: networkID, now: now, crypto: crypto)
    }

    func tick() {
        let due = redials.filter { $0.0 <= now }
        redials.removeAll { $0.0 <= now }
        for (_, target) in due { dial(target) }
        for c in conns.values.sorted(by: { $0.id < $1.id }) where c.ready && c.open {
            if let t = c.nextTrickle, t <= now, let interval = plan.trickleInterval, !plan.announce.isEmpty {
                var batch: [SignedPeerRecord] = []
                for _ in 0..<plan.trickleCount {
                    batch.append(plan.announce[c.announced % plan.announce.count])
                    c.announced += 1
                }
                announce(c, batch)
                c.nextTrickle = now + interval
            }
            if let t = c.nextFlood, t <= now, let interval = plan.floodInterval {
                flood(c)
                c.nextFlood = now + interval
            }
        }
    }

    func flood(_ c: Conn) {
        for _ in 0..<plan.floodRequests {
            send(c, .peerRequest(PeerRequest(requestID: requestID, maxPeers: 1000)))
            requestID += 1
            stats.requestsSent += 1
        }
        for _ in 0..<plan.floodPings {
            send(c, .ping(Ping(nonce: random.next())))
            stats.pingsSent += 1
        }
        if plan.floodRecords > 0, !plan.floodPool.isEmpty {
            var batch: [SignedPeerRecord] = []
            for _ in 0..<plan.floodRecords {
                batch.append(plan.floodPool[floodCursor % plan.floodPool.count])
                floodCursor += 1
            }
            announce(c, batch)
        }
    }

    func announce(_ c: Conn, _ records: [SignedPeerRecord]) {
        guard !records.isEmpty else { return }
        send(c, .peerAnnouncement(PeerAnnouncement(records: records)))
        stats.recordsSent += records.count
    }

    func sendHello(_ c: Conn) {
        let shown = c.remoteIP.flatMap { plan.helloRecord[$0] } ?? record
        c.identity = identity
        let hello = Frame.hello(Hello(networkID: networkID, record: shown, nonce: c.nonce, capabilities: [],
                                      maxFrameSize: 0, agent: "adversary"))
        c.ourHello = hello.encoded()
        outputs.append(.send(c.id, FrameEncoder.delimit(c.ourHello)))
    }

    func send(_ c: Conn, _ frame: Frame) {
        outputs.append(.send(c.id, FrameEncoder.delimit(frame.encoded())))
    }

    func close(_ c: Conn) {
        c.open = false
        outputs.append(.close(c.id))
    }

    func receive(_ c: Conn) {
        while c.open {
            let bytes: [UInt8]?
            do { bytes = try c.decoder.nextFrameBytes() } catch { close(c); return }
            guard let bytes else { return }
            guard let frame = try? Frame(decoding: bytes) else { continue }
            stats.framesReceived[frame.kind, default: 0] += 1
            switch frame {
            case let .hello(hello):
                guard c.theirHello == nil else { continue }
                c.theirHello = bytes
                c.theirNonce = hello.nonce
                let (initiator, responder) = c.role == .initiator ? (c.ourHello, bytes) : (bytes, c.ourHello)
                let payload = AuthTranscript.payload(role: c.role, initiatorHello: initiator, responderHello: responder,
                                                     peerNonce: hello.nonce, crypto: crypto)
                send(c, .auth(Auth(signature: crypto.sign(payload: payload, domain: .auth, keyPair: c.identity ?? identity))))
                c.sentAuth = true
            case .auth:
                guard c.sentAuth, !c.ready else { continue }
                c.ready = true
                stats.handshakes += 1
                becameReady(c)
            case let .ping(ping):
                send(c, .pong(Pong(nonce: ping.nonce)))
            case let .peerRequest(request):
                answer(c, request)
            case let .error(error):
                stats.errorsReceived[error.code.description, default: 0] += 1
                if error.code == .rateLimited, stats.firstRateLimited == nil { stats.firstRateLimited = now }
                if error.code == .banned, stats.firstBanned == nil { stats.firstBanned = now }
            default:
                break
            }
        }
    }

    func becameReady(_ c: Conn) {
        if !plan.announce.isEmpty {
            let burst = Array(plan.announce.prefix(plan.announceBurst))
            for chunk in stride(from: 0, to: burst.count, by: WireLimits.maxRecordsPerMessage) {
                announce(c, Array(burst[chunk..<min(chunk + WireLimits.maxRecordsPerMessage, burst.count)]))
            }
            c.announced = burst.count
            if let interval = plan.trickleInterval { c.nextTrickle = now + interval }
        }
        if let interval = plan.floodInterval {
            flood(c)
            c.nextFlood = now + interval
        }
    }

    /// Serves a random sample of `plan.serve`, as many as asked and as fit in a frame.
    func answer(_ c: Conn, _ request: PeerRequest) {
        let asked = request.recordsAsked
        var pool = plan.serve
        pool.shuffle(using: &random)
        var records: [SignedPeerRecord] = []
        var size = 64
        for r in pool.prefix(asked) {
            let cost = r.listedSize
            if size + cost > WireLimits.minFrameSize * 8 { break }
            size += cost
            records.append(r)
        }
        stats.recordsSent += records.count
        send(c, .peerResponse(PeerResponse(requestID: request.requestID, records: records,
                                           next: SyncCursor(epoch: 1, position: UInt64(records.count)),
                                           more: false, full: request.since == nil)))
    }
}
