#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PexWire

/// The seed corpus: small valid inputs for each target, from which libFuzzer mutates.
///
/// Seeds are built with the project's own encoders and a fixed key (Ed25519 signatures are
/// deterministic), so regenerating them (`fuzz/gen-corpus.sh`) gives identical files unless
/// the wire format changed. Records are valid for `RecordCheck.networkID` at `RecordCheck.now`,
/// so the seeds reach the code behind signature verification.
public enum FuzzSeeds {
    /// One seed file.
    public struct Seed: Sendable {
        /// File name inside `fuzz/corpus/<target>/`.
        public let name: String
        /// Content.
        public let bytes: [UInt8]
    }

    /// The seeds of a target.
    /// - Parameter target: The fuzz target.
    /// - Returns: Named seeds, in a stable order.
    public static func seeds(for target: FuzzTarget) -> [Seed] {
        switch target {
        case .frame: frameSeeds()
        case .record: recordSeeds()
        case .multiaddr: multiaddrSeeds()
        case .core: coreSeeds()
        }
    }

    /// Programs for `CoreCheck` (its byte layout): an inbound peer that completes the handshake,
    /// then announces records, asks for peers, lets time pass and misbehaves.
    static func coreSeeds() -> [Seed] {
        let header: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8]                 // flags, then the 8-byte seed
        let accept: [UInt8] = [0, 0, 1, 7, 1]                              // op, pick, ip, port, key
        let hello: [UInt8] = [2, 0] + [UInt8](repeating: 9, count: 32) + [0, 4, 0x21, 24, 0, 0, 0]
        let auth: [UInt8] = [3, 0, 0]
        let announce: [UInt8] = [4, 0, 2, 3, 2, 0x13, 24, 0, 0, 4, 5, 0x24, 24, 0, 0, 0]
        let request: [UInt8] = [5, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 9] + [0]
        let tick: [UInt8] = [9, 0, 0x02, 0x58]                             // 600 × 50 ms
        let handshake = header + accept + hello + auth
        return [
            Seed(name: "core-handshake", bytes: handshake),
            Seed(name: "core-announce", bytes: handshake + announce + tick),
            Seed(name: "core-request", bytes: handshake + request + tick + tick),
            Seed(name: "core-roster-lab", bytes: [3] + Array(header.dropFirst()) + accept + hello + auth + announce),
            Seed(name: "core-garbage", bytes: handshake + [7, 0, 12] + [UInt8](repeating: 0xff, count: 12)),
            Seed(name: "core-dial", bytes: header + [9, 0, 0, 40] + [1, 0, 0, 2] + [2, 0] + [UInt8](repeating: 5, count: 32)
                 + [0, 4, 0x22, 24, 0, 0, 0] + [3, 0, 0] + tick),
        ]
    }

    /// Writes the seeds of `target` into `directory`, replacing files of the same name.
    /// - Parameters:
    ///   - target: The fuzz target.
    ///   - directory: An existing folder.
    /// - Returns: The number of files written.
    /// - Throws: `FuzzInputs.ReadError` when a file cannot be written.
    @discardableResult
    public static func write(_ target: FuzzTarget, to directory: String) throws(FuzzInputs.ReadError) -> Int {
        let seeds = seeds(for: target)
        for seed in seeds {
            let path = directory + "/" + seed.name
            guard let file = fopen(path, "wb") else { throw FuzzInputs.ReadError(path: path, code: errno) }
            let written = seed.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            let closed = fclose(file)
            guard written == seed.bytes.count, closed == 0 else { throw FuzzInputs.ReadError(path: path, code: errno) }
        }
        return seeds.count
    }

    // MARK: - Building blocks

    /// The deterministic key of seed number `n`.
    static func keyPair(_ n: UInt8) -> KeyPair {
        do {
            return try KeyPair(seed: [UInt8](repeating: n, count: 32))
        } catch {
            // A 32-byte seed is always accepted.
            preconditionFailure("KeyPair(seed:) rejected a 32-byte seed: \(error)")
        }
    }

    /// Parses a constant multiaddr text of this file.
    static func address(_ text: String) -> Multiaddr {
        do {
            return try Multiaddr(text)
        } catch {
            preconditionFailure("seed multiaddr \(text) does not parse: \(error)")
        }
    }

    /// Canonical addresses covering every protocol a record may use.
    static func addressTexts(peer: KeyPair) -> [String] {
        let id = PeerID(publicKey: peer.publicKey).base58
        return [
            "/ip4/192.0.2.1/tcp/4001",
            "/ip6/2001:db8::1/udp/4001/quic-v1",
            "/dns4/node1.example.org/tcp/4001",
            "/dns6/node2.example.org/udp/443/quic-v1",
            "/dns/seed.example.net/tcp/8333/p2p/\(id)",
            "/ip6/::ffff:198.51.100.7/tcp/4001",
            "/ip4/203.0.113.9/udp/9000/quic-v1/p2p/\(id)",
        ]
    }

    /// A record signed by `key`, valid at `RecordCheck.now` unless told otherwise.
    static func signedRecord(
        _ key: KeyPair, seq: UInt64 = 1, addresses: [String],
        networkID: String = RecordCheck.networkID, expiresAt: UInt64 = RecordCheck.now + 7 * 24 * 3600
    ) -> SignedPeerRecord {
        let record = PeerRecord(
            publicKey: key.publicKey.bytes, seq: seq, addresses: addresses.map { address($0).bytes },
            networkID: networkID, expiresAt: expiresAt)
        let bytes = record.encoded()
        return SignedPeerRecord(record: bytes, signature: key.sign(bytes, domain: .peerRecord))
    }

    /// `count` records of distinct keys, with one to three addresses each.
    static func records(_ count: Int) -> [SignedPeerRecord] {
        (0..<count).map { i in
            let key = keyPair(UInt8(truncatingIfNeeded: 10 + i))
            let texts = addressTexts(peer: key)
            return signedRecord(key, seq: UInt64(i + 1), addresses: Array(texts[i % 5..<(i % 5 + 1 + i % 3)]))
        }
    }

    // MARK: - Targets

    static func recordSeeds() -> [Seed] {
        let key = keyPair(1)
        let texts = addressTexts(peer: key)
        let cases: [(String, SignedPeerRecord)] = [
            ("one-address", signedRecord(key, addresses: [texts[0]])),
            ("three-addresses", signedRecord(key, seq: 7, addresses: Array(texts[1...3]))),
            ("ten-addresses", signedRecord(key, seq: 1 << 40, addresses: texts + [
                "/ip4/192.0.2.2/tcp/4002", "/ip6/2001:db8::2/tcp/4002", "/dns4/node3.example.org/udp/4002/quic-v1",
            ])),
            ("p2p-suffix", signedRecord(key, seq: 2, addresses: [texts[4], texts[6]])),
            ("expired", signedRecord(key, addresses: [texts[5]], expiresAt: RecordCheck.now - 1)),
            ("other-network", signedRecord(keyPair(2), addresses: [texts[0]], networkID: "pex-other")),
        ]
        return cases.map { Seed(name: "record-\($0.0)", bytes: $0.1.encoded()) }
    }

    static func frameSeeds() -> [Seed] {
        let key = keyPair(1)
        let own = signedRecord(key, addresses: Array(addressTexts(peer: key)[0...2]))
        let hello = Frame.hello(Hello(
            networkID: RecordCheck.networkID, record: own, nonce: (0..<32).map { UInt8($0) },
            capabilities: [.deflate, .deltaSync], maxFrameSize: 64 * 1024, agent: "pex/0.1 fuzz-seed"))
        let auth = Frame.auth(Auth(signature: key.sign(Array("transcript".utf8), domain: .auth)))
        let frames: [(String, Frame)] = [
            ("hello", hello),
            ("auth", auth),
            ("peer-request", .peerRequest(PeerRequest(requestID: 1, maxPeers: 100))),
            ("peer-request-since", .peerRequest(PeerRequest(requestID: 2, since: SyncCursor(epoch: 9, position: 300)))),
            ("peer-response", .peerResponse(PeerResponse(
                requestID: 1, records: records(3), next: SyncCursor(epoch: 9, position: 303), more: true, full: true))),
            ("peer-announcement", .peerAnnouncement(PeerAnnouncement(records: records(2)))),
            ("peer-update", .peerUpdate(PeerUpdate(records: [signedRecord(key, seq: 2, addresses: [addressTexts(peer: key)[1]])]))),
            ("ping", .ping(Ping(nonce: 0x0102_0304_0506_0708))),
            ("pong", .pong(Pong(nonce: 0x0102_0304_0506_0708))),
            ("error", .error(ErrorMessage(code: .rateLimited, message: "too many requests", closing: true))),
            ("unknown-body", .unknown(fieldNumber: 42)),
        ]
        var seeds = frames.map { Seed(name: "frame-\($0.0)", bytes: delimit($0.1, compress: false)) }
        // Large enough to be worth compressing: the Compressed path and inflation are reached.
        let big = Frame.peerResponse(PeerResponse(requestID: 3, records: records(24), next: nil, full: true))
        seeds.append(Seed(name: "frame-compressed", bytes: delimit(big, compress: true)))
        // Several frames in one stream, as a connection carries them.
        seeds.append(Seed(name: "stream-handshake", bytes: [hello, auth, .ping(Ping(nonce: 1))].flatMap { delimit($0, compress: false) }))
        return seeds
    }

    static func multiaddrSeeds() -> [Seed] {
        let texts = addressTexts(peer: keyPair(1)) + ["/ipfs/\(PeerID(publicKey: keyPair(3).publicKey).base58)"]
        var seeds: [Seed] = []
        for (i, text) in texts.enumerated() {
            seeds.append(Seed(name: "text-\(i)", bytes: Array(text.utf8)))
            seeds.append(Seed(name: "binary-\(i)", bytes: address(text).bytes))
        }
        seeds.append(Seed(name: "ip-text-0", bytes: Array("2001:db8:0:0:1:0:0:1".utf8)))
        seeds.append(Seed(name: "ip-text-1", bytes: Array("::ffff:192.0.2.128".utf8)))
        return seeds
    }

    /// The stream encoding of a seed frame.
    static func delimit(_ frame: Frame, compress: Bool) -> [UInt8] {
        do {
            return try FrameEncoder.encode(frame, compress: compress)
        } catch {
            preconditionFailure("seed frame \(frame.kind) does not encode: \(error)")
        }
    }
}
