import PexCore
import PexWire

/// Operation sequences against one protocol core (issue: "fuzz operation sequences, not just
/// bytes"). The input is a program: each byte picks an operation, the next bytes its arguments.
/// Operations open and close connections, complete real handshakes (so the fuzzer reaches the
/// ready state), send well-formed frames with fuzzed contents, raw bytes, advance time and issue
/// commands. Signatures use `InsecureFakeCrypto`, so fuzzed records can be validly signed.
///
/// After every operation the core must keep its invariants: `Node.checkInvariants()` (table
/// bounds, no banned key with a ready connection, no non-member stored in roster mode, no expired
/// record stored) and every stored record must verify at the current time.
public enum CoreCheck {
    static let network = "pex-fuzz"
    static let crypto = InsecureFakeCrypto()
    /// The peers the program can impersonate, and the node under test (index 0).
    static let keys: [KeyPair] = (0..<9).map { i in
        var seed = [UInt8](repeating: 0, count: 32)
        seed[0] = UInt8(i + 1)
        return try! KeyPair(seed: seed)
    }
    static let start = Instant.unix(seconds: 1_750_000_000)
    static let maxOperations = 256

    /// The remote side of one connection, as the program drives it.
    struct Remote {
        var key: Int
        var decoder = FrameDecoder()
        var nodeHello: [UInt8]?
        var ourHello: [UInt8]?
        var ourNonce: [UInt8] = []
        var nodeNonce: [UInt8] = []
        let outbound: Bool  // the node dialled it
        var lastRequestID: UInt64 = 0
    }

    struct Program {
        var bytes: [UInt8]
        var index = 0
        var atEnd: Bool { index >= bytes.count }
        mutating func byte() -> UInt8 {
            defer { index += 1 }
            return index < bytes.count ? bytes[index] : 0
        }
        mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }
        mutating func u64() -> UInt64 {
            var value: UInt64 = 0
            for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
            return value
        }
        mutating func take(_ n: Int) -> [UInt8] { (0..<n).map { _ in byte() } }
    }

    /// What a program reached, so tests can check that the seeds get past the handshake.
    public struct Summary: Equatable, Sendable {
        public var operations = 0
        public var mostReadyPeers = 0
        public var mostStoredRecords = 0
    }

    /// Runs one program.
    /// - Parameter input: The program.
    /// - Returns: How far it got.
    /// - Throws: `FuzzFailure` when an invariant breaks.
    @discardableResult
    public static func run(_ input: [UInt8]) throws(FuzzFailure) -> Summary {
        var summary = Summary()
        var program = Program(bytes: input)
        var config = NodeConfig(networkID: network, advertisedAddresses: [try! Multiaddr("/ip4/11.0.0.1/tcp/4001")])
        let flags = program.byte()
        config.labMode = flags & 1 != 0
        if flags & 2 != 0 { config.roster = Set(keys.prefix(6).map(\.publicKey)) }
        // Small tables, so that eviction and collision paths are reachable in short programs.
        config.addressBook.newBucketCount = 4
        config.addressBook.triedBucketCount = 2
        config.addressBook.bucketSize = 4
        config.addressBook.maxProtected = 8
        config.maxInbound = 4
        config.maxConnectionsPerIP = 2
        config.maxPendingHandshakes = 3
        config.targetOutbound = 2
        config.bootstrapPeers = [try! Multiaddr("/ip4/11.0.0.2/tcp/4001")]
        var now = start
        var node = Node(config: config, identity: keys[0], crypto: crypto, random: SeededRandom(seed: program.u64()), now: now)
        node.handle(.loaded(PersistedState()), now: now)
        var remotes: [ConnectionID: Remote] = [:]
        var dials: [ConnectionID] = []

        func drain() {
            while let output = node.pollOutput() {
                switch output {
                case let .dial(id, _):
                    dials.append(id)
                case let .send(id, bytes):
                    guard var remote = remotes[id] else { continue }
                    remote.decoder.append(bytes)
                    while let frame = try? remote.decoder.nextFrameBytes() {
                        if remote.nodeHello == nil, case let .hello(hello)? = try? Frame(decoding: frame) {
                            remote.nodeHello = frame
                            remote.nodeNonce = hello.nonce
                        }
                        if case let .peerRequest(request)? = try? Frame(decoding: frame) { remote.lastRequestID = request.requestID }
                    }
                    remotes[id] = remote
                case let .close(id):
                    remotes[id] = nil
                    node.handle(.closed(id, reason: "closed"), now: now)
                default:
                    break
                }
            }
        }

        func record(_ keyIndex: Int, seq: UInt64, _ program: inout Program) -> SignedPeerRecord {
            let shape = program.byte()
            let host = shape & 0x0f
            let addresses = [
                "/ip4/\(11 + Int(host))" + ".\(shape >> 4).0.1/tcp/4001",
                shape & 0x80 != 0 ? "/ip4/10.0.0.\(host)/tcp/1" : "/ip6/2001:db8::\(host)/tcp/2",
            ].compactMap { try? Multiaddr($0) }
            let lifetime = UInt64(program.byte()) * 3600
            let recordValue = PeerRecord(
                publicKey: keys[keyIndex].publicKey.bytes, seq: seq, addresses: addresses.map(\.bytes),
                networkID: program.byte() == 0xff ? "other-net" : network, expiresAt: now.unixSeconds + lifetime)
            let bytes = recordValue.encoded()
            var signature = crypto.sign(payload: bytes, domain: .peerRecord, keyPair: keys[keyIndex])
            if program.byte() == 0xfe { signature[0] ^= 1 }
            return SignedPeerRecord(record: bytes, signature: signature)
        }

        func send(_ id: ConnectionID, _ frame: Frame) {
            node.handle(.received(id, FrameEncoder.delimit(frame.encoded())), now: now)
        }

        var operations = 0
        while !program.atEnd && operations < maxOperations {
            operations += 1
            let op = program.byte() % 11
            let ids = remotes.keys.sorted()
            // Always consumed, so a program's layout does not depend on how many connections exist.
            let pickByte = Int(program.byte())
            let pick: ConnectionID? = ids.isEmpty ? nil : ids[pickByte % ids.count]
            switch op {
            case 0:  // inbound connection from one of a few addresses
                let id = node.newConnectionID()
                let remote = try! Multiaddr("/ip4/12.0.\(program.byte() % 4).1/tcp/\(40000 + Int(program.byte()))")
                remotes[id] = Remote(key: 1 + Int(program.byte()) % 8, outbound: false)
                node.handle(.accepted(id, remote: remote), now: now)
            case 1:  // the node's pending dial connects (or fails)
                guard !dials.isEmpty else { break }
                let id = dials.removeFirst()
                if program.byte() & 1 == 0 {
                    remotes[id] = Remote(key: 1 + Int(program.byte()) % 8, outbound: true)
                    node.handle(.connected(id), now: now)
                } else {
                    node.handle(.dialFailed(id, reason: "refused"), now: now)
                }
            case 2:  // a valid Hello from the remote's key
                guard let id = pick, var remote = remotes[id] else { break }
                remote.ourNonce = program.take(32)
                let hello = Frame.hello(Hello(
                    networkID: program.byte() == 0xff ? "other-net" : network,
                    record: record(remote.key, seq: 1 + UInt64(program.byte()), &program), nonce: remote.ourNonce,
                    capabilities: [.deflate, .deltaSync], maxFrameSize: program.byte() == 0xff ? 1024 : 0))
                remote.ourHello = hello.encoded()
                remotes[id] = remote
                node.handle(.received(id, FrameEncoder.delimit(remote.ourHello!)), now: now)
            case 3:  // a valid Auth over the transcript (or a corrupted one)
                guard let id = pick, let remote = remotes[id], let ours = remote.ourHello, let theirs = remote.nodeHello else { break }
                let role: AuthRole = remote.outbound ? .responder : .initiator
                let (initiator, responder) = remote.outbound ? (theirs, ours) : (ours, theirs)
                let payload = AuthTranscript.payload(
                    role: role, initiatorHello: initiator, responderHello: responder, peerNonce: remote.nodeNonce, crypto: crypto)
                var signature = crypto.sign(payload: payload, domain: .auth, keyPair: keys[remote.key])
                if program.byte() == 0xfe { signature[1] ^= 1 }
                send(id, .auth(Auth(signature: signature)))
            case 4:  // announcement or update with fuzzed records
                guard let id = pick else { break }
                let count = Int(program.byte() % 6)
                var records: [SignedPeerRecord] = []
                for _ in 0..<count {
                    records.append(record(Int(program.byte()) % 9, seq: UInt64(program.byte() % 4), &program))
                }
                send(id, program.byte() & 1 == 0 ? .peerAnnouncement(PeerAnnouncement(records: records))
                                                 : .peerUpdate(PeerUpdate(records: records)))
            case 5:  // a peer request, with or without a cursor
                guard let id = pick else { break }
                let since: SyncCursor? = program.byte() & 1 == 0 ? nil : SyncCursor(epoch: program.u64(), position: UInt64(program.byte()))
                send(id, .peerRequest(PeerRequest(requestID: program.u64(), maxPeers: UInt32(program.byte()), since: since)))
            case 6:  // a response, to the node's last request or not
                guard let id = pick, let remote = remotes[id] else { break }
                let records = (0..<Int(program.byte() % 4)).map { _ in record(Int(program.byte()) % 9, seq: 1 + UInt64(program.byte() % 4), &program) }
                let requestID = program.byte() & 1 == 0 ? remote.lastRequestID : program.u64()
                send(id, .peerResponse(PeerResponse(
                    requestID: requestID, records: records, next: SyncCursor(epoch: 1, position: UInt64(program.byte())),
                    more: program.byte() & 1 == 0, full: true)))
            case 7:  // raw bytes
                guard let id = pick else { break }
                node.handle(.received(id, program.take(Int(program.byte() % 48))), now: now)
            case 8:  // the transport closes
                guard let id = pick else { break }
                remotes[id] = nil
                node.handle(.closed(id, reason: "reset"), now: now)
            case 9:  // time passes
                now = now + .milliseconds(UInt64(program.u16()) * 50)
                node.handle(.tick, now: now)
            default:  // commands
                switch program.byte() % 5 {
                case 0: node.handle(.command(.disconnect(keys[1 + Int(program.byte()) % 8].publicKey)), now: now)
                case 1:
                    var reloaded = node.config
                    reloaded.labMode.toggle()
                    reloaded.roster = program.byte() & 1 == 0 ? nil : Set(keys.prefix(4).map(\.publicKey))
                    node.handle(.command(.reload(reloaded)), now: now)
                case 2: node.handle(.command(.reset), now: now)
                case 3: node.handle(.command(.connect(try! Multiaddr("/ip4/13.0.0.\(program.byte())/tcp/4001"))), now: now)
                default: node.handle(.command(.addBootstrapPeer(try! Multiaddr("/ip4/14.0.0.\(program.byte())/tcp/4001"))), now: now)
                }
            }
            drain()
            let problems = node.checkInvariants()
            if !problems.isEmpty { throw FuzzFailure(.core, "after operation \(operations) (\(op)): \(problems)") }
            for stored in node.knownRecords {
                do {
                    _ = try stored.signed.verify(networkID: network, now: now.unixSeconds, crypto: crypto)
                } catch {
                    throw FuzzFailure(.core, "stored record of \(stored.publicKey) does not verify: \(error)")
                }
            }
            if let deadline = node.nextDeadline(), deadline < now {
                throw FuzzFailure(.core, "deadline \(deadline) is in the past (now \(now))")
            }
            summary.operations = operations
            summary.mostReadyPeers = max(summary.mostReadyPeers, node.readyPeers.count)
            summary.mostStoredRecords = max(summary.mostStoredRecords, node.knownRecords.count)
        }
        return summary
    }
}
