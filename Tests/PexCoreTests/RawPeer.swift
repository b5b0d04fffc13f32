import PexCore
import PexWire
import XCTest

/// Drives ONE `Node` directly, with no simulated network: the test is the driver. It feeds
/// inputs at an explicit virtual time, drains every output, and routes the bytes the node sends
/// to the `RawPeer` that owns the connection, so that tests can decode exactly what the node
/// said (down to the `Error` code) and count exactly what it persisted and reported.
final class NodeHarness {
    var node: Node
    private(set) var now: Instant
    let crypto: any CryptoProvider
    /// Every output, in order, with the time it was emitted.
    private(set) var log: [(Instant, Output)] = []
    /// Bytes the node sent, per connection, in order.
    private(set) var sent: [ConnectionID: [UInt8]] = [:]
    /// Connections the node asked to close.
    private(set) var closeRequested: Set<ConnectionID> = []
    /// Peers that answer Pings and PeerRequests on their own while time passes.
    var servicedPeers: [RawPeer] = []

    static let start = Instant.unix(seconds: 1_800_000_000)

    init(config: NodeConfig, identity: KeyPair = try! KeyPair(seed: [UInt8](repeating: 0x11, count: 32)),
         crypto: any CryptoProvider = SodiumCrypto(), seed: UInt64 = 7, stored: PersistedState = PersistedState(),
         now: Instant = NodeHarness.start) {
        self.now = now
        self.crypto = crypto
        node = Node(config: config, identity: identity, crypto: crypto, random: SeededRandom(seed: seed), now: now)
        handle(.loaded(stored))
    }

    /// A routable configuration for the node under test (11.0.0.1, its own /16).
    static func config(_ configure: (inout NodeConfig) -> Void = { _ in }) -> NodeConfig {
        var config = NodeConfig(networkID: Scenario.network, advertisedAddresses: [try! Multiaddr("/ip4/11.0.0.1/tcp/4001")])
        configure(&config)
        return config
    }

    /// Feeds one input at the current time.
    /// - Returns: The outputs it produced.
    @discardableResult
    func handle(_ input: Input) -> [Output] {
        node.handle(input, now: now)
        var outputs: [Output] = []
        while let output = node.pollOutput() {
            outputs.append(output)
            log.append((now, output))
            switch output {
            case let .send(id, bytes): sent[id, default: []].append(contentsOf: bytes)
            case let .close(id): closeRequested.insert(id)
            default: break
            }
        }
        return outputs
    }

    /// Moves time forward through every deadline up to `now + span`, ticking the node at each
    /// and letting the serviced peers answer. `onOutput` sees each tick's outputs (to answer dials).
    func advance(by span: TimeSpan, onOutputs: (([Output]) -> Void)? = nil) {
        let end = now + span
        while true {
            guard let deadline = node.nextDeadline(), deadline <= end else { break }
            now = max(deadline, now)
            let outputs = handle(.tick)
            onOutputs?(outputs)
            for peer in servicedPeers { peer.service() }
        }
        now = end
        let outputs = handle(.tick)
        onOutputs?(outputs)
        for peer in servicedPeers { peer.service() }
    }

    /// Jumps to `now + span` with a single tick: the clock of a node that was suspended.
    func jump(by span: TimeSpan) {
        now = now + span
        handle(.tick)
    }

    var events: [Event] { log.compactMap { if case let .event(e) = $0.1 { e } else { nil } } }
    var persisted: [PersistChange] { log.compactMap { if case let .persist(p) = $0.1 { p } else { nil } } }
    var dials: [(Instant, ConnectionID, Multiaddr)] {
        log.compactMap { if case let .dial(id, address) = $0.1 { ($0.0, id, address) } else { nil } }
    }
    /// The misbehaviour scores reported for a subject, in order.
    func scores(of subject: BanSubject) -> [Int] {
        events.compactMap { if case let .misbehaviour(s, _, score) = $0, s == subject { score } else { nil } }
    }
}

/// The far end of one connection to the node under test, speaking raw frames with its own key.
///
/// It can complete a real handshake (a Hello carrying a validly signed record, and an Auth over
/// the transcript built with PexWire's `AuthTranscript`), then send arbitrary frames or bytes.
/// Everything the node sends back is decoded with `FrameDecoder` into `received`.
final class RawPeer {
    let harness: NodeHarness
    let identity: KeyPair
    let id: ConnectionID
    /// Whether the node accepted us (we are the initiator) or dialled us.
    let role: AuthRole
    let nonce: [UInt8]
    private(set) var record: SignedPeerRecord
    private(set) var ourHello: [UInt8] = []
    private(set) var nodeHello: [UInt8]?
    private var decoder = FrameDecoder(maxFrameSize: WireLimits.maxFrameSize)
    private var consumed = 0
    /// Frames the node sent on this connection, decoded, in order.
    private(set) var received: [Frame] = []
    /// A framing or decoding failure of the node's bytes (never expected).
    private(set) var decodeFailure: WireError?
    /// Frames of `received` that `service()` has looked at.
    private var serviced = 0

    var publicKey: PublicKey { identity.publicKey }
    var closedByNode: Bool { harness.closeRequested.contains(id) }

    /// A key pair from a small integer, distinct from the node's.
    static func key(_ n: Int) -> KeyPair {
        var seed = [UInt8](repeating: 0x5a, count: 32)
        seed[0] = UInt8(n & 0xff); seed[1] = UInt8(n >> 8 & 0xff); seed[2] = UInt8(n >> 16 & 0xff)
        return try! KeyPair(seed: seed)
    }

    /// A valid record of `identity` at `seq` with the given addresses, signed with `crypto`.
    static func record(_ identity: KeyPair, seq: UInt64, addresses: [String], network: String = Scenario.network,
                       expiresAt: UInt64, crypto: any CryptoProvider) -> SignedPeerRecord {
        try! SignedPeerRecord.create(keyPair: identity, seq: seq, addresses: addresses.map { try! Multiaddr($0) },
                                     networkID: network, expiresAt: expiresAt, crypto: crypto)
    }

    private init(harness: NodeHarness, identity: KeyPair, id: ConnectionID, role: AuthRole, record: SignedPeerRecord) {
        self.harness = harness
        self.identity = identity
        self.id = id
        self.role = role
        self.record = record
        var rng = SeededRandom(seed: id.raw &* 31 &+ UInt64(identity.publicKey.bytes[0]))
        nonce = rng.bytes(WireLimits.nonceLength)
    }

    /// The default record of a raw peer: one address in `ip`'s /16, valid for a day.
    static func defaultRecord(_ identity: KeyPair, ip: String, harness: NodeHarness) -> SignedPeerRecord {
        record(identity, seq: harness.now.unixSeconds, addresses: ["/ip4/\(ip)/tcp/4001"],
               expiresAt: harness.now.unixSeconds + 86_400, crypto: harness.crypto)
    }

    /// Opens an inbound connection to the node from `ip` (the node sends its Hello at once).
    static func connect(to harness: NodeHarness, identity: KeyPair, ip: String = "12.0.0.1",
                        record: SignedPeerRecord? = nil, port: Int = 50000) -> RawPeer {
        let id = harness.node.newConnectionID()
        let peer = RawPeer(harness: harness, identity: identity, id: id, role: .initiator,
                           record: record ?? defaultRecord(identity, ip: ip, harness: harness))
        harness.handle(.accepted(id, remote: try! Multiaddr("/ip4/\(ip)/tcp/\(port)")))
        peer.pump()
        return peer
    }

    /// Lets the node make its first dial (one second passes) and answers it as the bootstrap
    /// peer at 20.0.0.1 (key 50), with a completed handshake: one ready outbound connection.
    /// - Returns: The bootstrap peer, or `nil` (a test failure) when the node dialled nothing.
    static func answerFirstDial(of harness: NodeHarness, file: StaticString = #filePath, line: UInt = #line) -> RawPeer? {
        harness.advance(by: .seconds(1))
        guard let dial = harness.dials.first else {
            XCTFail("the node did not dial its bootstrap peer", file: file, line: line)
            return nil
        }
        let peer = answer(dial: dial.1, of: harness, identity: key(50), ip: "20.0.0.1")
        peer.handshake(file: file, line: line)
        return peer
    }

    /// Answers an outbound dial of the node: the transport connects, and we are the responder.
    static func answer(dial id: ConnectionID, of harness: NodeHarness, identity: KeyPair, ip: String) -> RawPeer {
        let peer = RawPeer(harness: harness, identity: identity, id: id, role: .responder,
                           record: defaultRecord(identity, ip: ip, harness: harness))
        harness.handle(.connected(id))
        peer.pump()
        return peer
    }

    /// Decodes what the node has sent since the last call.
    func pump() {
        let bytes = harness.sent[id] ?? []
        if bytes.count > consumed {
            decoder.append(bytes[consumed...])
            consumed = bytes.count
        }
        do {
            while let frame = try decoder.nextFrame() {
                received.append(frame)
                if case .hello = frame, nodeHello == nil {
                    // The exact bytes of the node's Hello are needed for the Auth transcript.
                    nodeHello = Self.helloBytes(in: bytes)
                }
            }
        } catch {
            decodeFailure = error
        }
    }

    /// The first frame's bytes (prefix excluded): the node's Hello is always its first frame.
    private static func helloBytes(in stream: [UInt8]) -> [UInt8]? {
        var d = FrameDecoder(maxFrameSize: WireLimits.maxFrameSize)
        d.append(stream)
        return try? d.nextFrameBytes()
    }

    /// Sends our Hello (the record and capabilities can be changed to test the node's checks).
    func sendHello(capabilities: [Capability] = [.deflate, .deltaSync], record: SignedPeerRecord? = nil,
                   network: String = Scenario.network, maxFrameSize: UInt32 = 0) {
        if let record { self.record = record }
        let hello = Frame.hello(Hello(networkID: network, record: self.record, nonce: nonce, capabilities: capabilities,
                                      maxFrameSize: maxFrameSize, agent: "raw-peer"))
        ourHello = hello.encoded()
        sendBytes(FrameEncoder.delimit(ourHello))
    }

    /// Sends our Auth: our signature over the transcript of both Hellos and the node's nonce.
    func sendAuth() {
        guard let nodeHello, case let .hello(hello)? = received.first else {
            XCTFail("no Hello from the node to authenticate against")
            return
        }
        let (initiator, responder) = role == .initiator ? (ourHello, nodeHello) : (nodeHello, ourHello)
        let payload = AuthTranscript.payload(role: role, initiatorHello: initiator, responderHello: responder,
                                             peerNonce: hello.nonce, crypto: harness.crypto)
        send(.auth(Auth(signature: harness.crypto.sign(payload: payload, domain: .auth, keyPair: identity))))
    }

    /// Hello then Auth; the node's own Auth must come back and the connection be ready.
    func handshake(capabilities: [Capability] = [.deflate, .deltaSync], file: StaticString = #filePath, line: UInt = #line) {
        sendHello(capabilities: capabilities)
        sendAuth()
        XCTAssertTrue(received.contains { if case .auth = $0 { true } else { false } }, "node sent no Auth", file: file, line: line)
        XCTAssertTrue(harness.node.readyPeers.contains(publicKey), "handshake did not complete", file: file, line: line)
    }

    /// Sends one frame, uncompressed.
    func send(_ frame: Frame) { sendBytes(FrameEncoder.delimit(frame.encoded())) }

    /// Sends raw bytes on the stream.
    func sendBytes(_ bytes: [UInt8]) {
        harness.handle(.received(id, bytes))
        pump()
    }

    /// Answers what the node asked since the last call: a Pong for each Ping, an empty
    /// PeerResponse for each PeerRequest. Keeps a connection alive while time passes.
    func service() {
        pump()
        guard !closedByNode else { return }
        while serviced < received.count {
            let frame = received[serviced]
            serviced += 1
            switch frame {
            case let .ping(ping): send(.pong(Pong(nonce: ping.nonce)))
            case let .peerRequest(request):
                send(.peerResponse(PeerResponse(requestID: request.requestID, records: [], next: nil, more: false,
                                                full: request.since == nil)))
            default: break
            }
        }
    }

    /// Frames of one kind received so far.
    func frames(_ kind: String) -> [Frame] { received.filter { $0.kind == kind } }

    /// The Errors the node sent.
    var errors: [ErrorMessage] { received.compactMap { if case let .error(e) = $0 { e } else { nil } } }
}
