import Foundation
import XCTest
@testable import PexWire

/// Vectors written by PexWire (protobuf-c) for the Python client to check with the official
/// protobuf runtime (`clients/python/tests`). The committed files must equal what PexWire
/// produces now; `PEX_UPDATE_VECTORS=1 swift test --filter SwiftVectorTests` rewrites them.
final class SwiftVectorTests: XCTestCase {
    static let network = "pex-test"
    static let now: UInt64 = 1_700_000_000

    static func key(_ byte: UInt8) -> KeyPair { try! KeyPair(seed: [UInt8](repeating: byte, count: 32)) }
    static func addr(_ text: String) -> Multiaddr { try! Multiaddr(text) }

    static func signed(_ byte: UInt8, seq: UInt64, _ addresses: [String]) -> SignedPeerRecord {
        try! SignedPeerRecord.create(
            keyPair: key(byte), seq: seq, addresses: addresses.map(addr), networkID: network, expiresAt: now + 86_400)
    }

    static var frames: [(name: String, description: String, frame: Frame)] {
        let records = [
            signed(0x21, seq: 1, ["/ip4/198.51.100.1/tcp/4001"]),
            signed(0x22, seq: 9, ["/ip6/2001:db8::1/udp/4001/quic-v1", "/dns/node.example.net/tcp/4001"]),
            signed(0x23, seq: UInt64.max, ["/dns4/a.example/tcp/1", "/dns6/b.example/tcp/65535"]),
        ]
        let response = Frame.peerResponse(PeerResponse(
            requestID: 77, records: records + records + records, next: SyncCursor(epoch: 5, position: 6),
            more: true, full: true))
        return [
            ("hello", "Hello with every field set, an unknown capability kept",
             .hello(Hello(minVersion: 1, maxVersion: 2, networkID: network, record: records[0],
                          nonce: (0..<32).map { UInt8($0 * 7 & 0xff) },
                          capabilities: [.deflate, .deltaSync, Capability(rawValue: 42)],
                          maxFrameSize: 65_536, agent: "pexd/0.1.0 (vectors) ✓"))),
            ("auth", "Auth signature", .auth(Auth(signature: [UInt8](repeating: 0xa5, count: 64)))),
            ("peer_request_full", "request without cursor", .peerRequest(PeerRequest(requestID: 1, maxPeers: 1000))),
            ("peer_request_delta", "request with a cursor",
             .peerRequest(PeerRequest(requestID: UInt64.max, maxPeers: 0, since: SyncCursor(epoch: 3, position: 4)))),
            ("peer_request_zero_cursor", "a present cursor of zeros is not an absent one",
             .peerRequest(PeerRequest(requestID: 2, since: SyncCursor(epoch: 0, position: 0)))),
            ("peer_response", "9 records with continuation", response),
            ("peer_announcement", "two new peers", .peerAnnouncement(PeerAnnouncement(records: Array(records[0...1])))),
            ("peer_update", "one superseding record", .peerUpdate(PeerUpdate(records: [records[2]]))),
            ("ping", "keepalive", .ping(Ping(nonce: 0x0102_0304_0506_0708))),
            ("pong", "keepalive answer", .pong(Pong(nonce: UInt64.max))),
            ("error", "closing error", .error(ErrorMessage(code: .wrongNetwork, message: "expected pex-test", closing: true))),
            ("error_unknown_code", "a code from a newer version", .error(ErrorMessage(code: ErrorCode(rawValue: 77), message: "", closing: false))),
            ("compressed", "the peer_response vector deflated by zlib", response.deflated()!),
            ("unknown_body", "body field 200, unknown to v1", .unknown(fieldNumber: 200)),
        ]
    }

    static var records: [(name: String, description: String, signer: UInt8, record: PeerRecord, valid: Bool, reason: String?, tamper: Bool)] {
        let base = PeerRecord(publicKey: key(0x31).publicKey.bytes, seq: 3,
                              addresses: [addr("/ip4/203.0.113.5/tcp/4001").bytes, addr("/ip6/::1/tcp/4001").bytes],
                              networkID: network, expiresAt: now + 3600)
        func with(_ change: (inout PeerRecord) -> Void) -> PeerRecord {
            var r = base
            change(&r)
            return r
        }
        return [
            ("valid", "two addresses", 0x31, base, true, nil, false),
            ("valid_p2p_suffix", "address ending in its own /p2p", 0x31, with {
                $0.addresses = [addr("/ip4/203.0.113.5/tcp/1/p2p/\(key(0x31).publicKey.peerID.base58)").bytes]
            }, true, nil, false),
            ("bad_signature", "signature bit flipped", 0x31, base, false, "bad-signature", true),
            ("other_signer", "signed by another key", 0x32, base, false, "bad-signature", false),
            ("wrong_network", "another network", 0x31, with { $0.networkID = "pex-other" }, false, "wrong-network", false),
            ("expired", "expires_at == now", 0x31, with { $0.expiresAt = now }, false, "expired", false),
            ("expiry_too_far", "30 days + 1 s", 0x31, with { $0.expiresAt = now + 2_592_001 }, false, "expiry-too-far", false),
            ("zero_seq", "seq 0", 0x31, with { $0.seq = 0 }, false, "zero-seq", false),
            ("too_many_addresses", "11 addresses", 0x31, with {
                $0.addresses = (1...11).map { addr("/ip4/203.0.113.\($0)/tcp/1").bytes }
            }, false, "too-many-addresses", false),
            ("undialable", "udp without quic-v1", 0x31, with { $0.addresses = [addr("/ip4/203.0.113.5/udp/1").bytes] },
             false, "undialable-address", false),
        ]
    }

    static func framesJSON() -> [[String: Any]] {
        frames.map { v in
            let bytes = v.frame.encoded()
            var d: [String: Any] = [
                "name": v.name, "description": v.description, "frame_hex": hexString(bytes),
                "delimited_hex": hexString(FrameEncoder.delimit(bytes)), "frame": ProtoJSON.json(v.frame),
            ]
            if case let .unknown(field) = v.frame { d["unknown_field"] = field }
            return d
        }
    }

    static func recordsJSON() -> [[String: Any]] {
        records.map { v in
            let signer = key(v.signer)
            let recordBytes = v.record.encoded()
            var signature = signer.sign(recordBytes, domain: .peerRecord)
            if v.tamper { signature[10] ^= 0x01 }
            let signed = SignedPeerRecord(record: recordBytes, signature: signature)
            return [
                "name": v.name, "description": v.description,
                "seed_hex": hexString([UInt8](repeating: v.signer, count: 32)),
                "public_key_b64": signer.publicKey.base64, "secret_key_b64": signer.base64SecretKey,
                "peer_id": signer.publicKey.peerID.base58,
                "record": [
                    "public_key_b64": Data(v.record.publicKey).base64EncodedString(), "seq": v.record.seq,
                    "addresses": v.record.addresses.map { try! Multiaddr(bytes: $0).text },
                    "network_id": v.record.networkID, "expires_at": v.record.expiresAt,
                ] as [String: Any],
                "addresses_hex": v.record.addresses.map(hexString),
                "record_hex": hexString(recordBytes), "signature_hex": hexString(signature),
                "signed_hex": hexString(signed.encoded()), "now": now, "network": network,
                "valid": v.valid, "reason": v.reason ?? NSNull(),
            ]
        }
    }

    /// Streams PexWire rejects, each with the reason it gives.
    static var invalidStreams: [(name: String, description: String, stream: [UInt8])] {
        let ping = Frame.ping(Ping(nonce: 1)).encoded()
        let bigRecord = SignedPeerRecord(record: [UInt8](repeating: 0x0a, count: 2049), signature: [UInt8](repeating: 1, count: 64))
        let inflated = Frame.peerAnnouncement(PeerAnnouncement(records: [signed(0x21, seq: 1, ["/ip4/198.51.100.1/tcp/4001"])]))
            .encoded()
        let nested = Compressed(codec: .deflate, uncompressedSize: 0, data: [])
        return [
            ("prefix_over_limit", "length prefix 256 KiB + 1", Varint.encode(UInt64(WireLimits.maxFrameSize + 1))),
            ("prefix_six_bytes", "length prefix longer than 5 bytes", [0x81, 0x80, 0x80, 0x80, 0x80, 0x00]),
            ("prefix_not_minimal", "length 1 written as 81 00", [0x81, 0x00] + [0x3a]),
            ("empty_frame", "length 0", [0x00]),
            ("truncated_body", "prefix says 5, 4 bytes follow", [0x05] + ping),
            ("garbage", "not a protobuf message", FrameEncoder.delimit([0xff, 0xff, 0xff])),
            ("nonce_short", "Hello nonce of 31 bytes", FrameEncoder.delimit(Frame.hello(Hello(
                networkID: network, record: signed(0x21, seq: 1, ["/ip4/198.51.100.1/tcp/4001"]),
                nonce: [UInt8](repeating: 7, count: 31))).encoded())),
            ("record_too_large", "a SignedPeerRecord.record of 2049 bytes",
             FrameEncoder.delimit(Frame.peerUpdate(PeerUpdate(records: [bigRecord])).encoded())),
            ("unsupported_codec", "Compressed with codec 7",
             FrameEncoder.delimit(Frame.compressed(Compressed(codec: CompressionCodec(rawValue: 7), uncompressedSize: 4, data: [1])).encoded())),
            ("size_mismatch", "announces one byte more than the data inflates to",
             FrameEncoder.delimit(Frame.compressed(Compressed(
                codec: .deflate, uncompressedSize: UInt32(inflated.count + 1), data: Deflate.compress(inflated)!)).encoded())),
            ("nested_compression", "a Compressed frame inside a Compressed frame",
             FrameEncoder.delimit(Frame.compressed(Compressed(
                codec: .deflate, uncompressedSize: UInt32(Frame.compressed(nested).encoded().count),
                data: Deflate.compress(Frame.compressed(nested).encoded())!)).encoded())),
        ]
    }

    static func invalidJSON() -> [[String: Any]] {
        invalidStreams.map { v in
            var decoder = FrameDecoder()
            decoder.append(v.stream)
            var reason: Any = NSNull()
            do throws(WireError) {
                while try decoder.nextFrame(inflating: true) != nil {}
                try decoder.finish()
            } catch {
                reason = error.reason
            }
            return ["name": v.name, "description": v.description, "stream_hex": hexString(v.stream), "reason": reason]
        }
    }

    /// A complete handshake between two fixed keys, as `python/auth.json`.
    static func authJSON() -> [String: Any] {
        let crypto = SodiumCrypto()
        let sides: [(seed: UInt8, role: AuthRole, port: Int, nonce: [UInt8])] = [
            (0x41, .initiator, 4101, (0..<32).map { UInt8(0x80 + $0) }),
            (0x42, .responder, 4102, (0..<32).map { UInt8(0xc0 - $0) }),
        ]
        let hellos = sides.map { side in
            Frame.hello(Hello(
                networkID: network, record: signed(side.seed, seq: 7, ["/ip4/198.51.100.7/tcp/\(side.port)"]),
                nonce: side.nonce, capabilities: [.deflate, .deltaSync], agent: "pexd/vectors")).encoded()
        }
        var out: [String: Any] = [
            "description": "Complete v1 handshake between two fixed keys, written by PexWire",
            "network_id": network, "now": now, "negotiated_version": 1,
        ]
        for (i, side) in sides.enumerated() {
            let key = key(side.seed)
            let payload = AuthTranscript.payload(
                role: side.role, initiatorHello: hellos[0], responderHello: hellos[1], peerNonce: sides[1 - i].nonce,
                crypto: crypto)
            let signature = key.sign(payload, domain: .auth)
            let auth = Frame.auth(Auth(signature: signature)).encoded()
            out[side.role == .initiator ? "initiator" : "responder"] = [
                "seed_hex": hexString([UInt8](repeating: side.seed, count: 32)),
                "public_key_b64": key.publicKey.base64, "secret_key_b64": key.base64SecretKey,
                "peer_id": key.publicKey.peerID.base58, "role": Int(side.role.rawValue),
                "nonce_hex": hexString(side.nonce),
                "hello_frame_hex": hexString(hellos[i]), "hello_delimited_hex": hexString(FrameEncoder.delimit(hellos[i])),
                "hello_hash_hex": hexString(crypto.hash256(hellos[i])),
                "auth_payload_hex": hexString(payload),
                "signed_message_hex": hexString(Array(SigningDomain.auth.rawValue.utf8) + [0] + payload),
                "signature_hex": hexString(signature),
                "auth_frame_hex": hexString(auth), "auth_delimited_hex": hexString(FrameEncoder.delimit(auth)),
            ] as [String: Any]
        }
        return out
    }

    static func render(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func checkOrUpdate(_ name: String, _ value: Any) throws {
        let url = Vectors.directory.appendingPathComponent("swift/\(name)")
        let rendered = try Self.render(value)
        if ProcessInfo.processInfo.environment["PEX_UPDATE_VECTORS"] == "1" {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try rendered.write(to: url, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(committed, rendered, "\(name) differs from what PexWire produces; PEX_UPDATE_VECTORS=1 rewrites it")
    }

    func testSwiftFrameVectorsAreCurrent() throws {
        try checkOrUpdate("frames.json", Self.framesJSON())
    }

    func testSwiftRecordVectorsAreCurrent() throws {
        try checkOrUpdate("records.json", Self.recordsJSON())
    }

    func testSwiftInvalidStreamVectorsAreCurrent() throws {
        let vectors = Self.invalidJSON()
        // Every stream is rejected: a stream PexWire accepts would be a bug in the list itself.
        XCTAssertFalse(vectors.contains { $0["reason"] is NSNull })
        try checkOrUpdate("frames_invalid.json", vectors)
    }

    func testSwiftAuthVectorIsCurrent() throws {
        try checkOrUpdate("auth.json", Self.authJSON())
    }

    func testSwiftVectorsAreSelfConsistent() throws {
        for v in Self.frames {
            XCTAssertEqual(try Frame(decoding: v.frame.encoded()), v.frame, v.name)
            if v.name != "unknown_body" {
                XCTAssertEqual(try ProtoJSON.frame(ProtoJSON.json(v.frame)), v.frame, "\(v.name): JSON round trip")
            }
        }
        for v in Self.recordsJSON() {
            let signed = try SignedPeerRecord(decoding: try bytes(hex: v["signed_hex"] as! String))
            do {
                _ = try signed.verify(networkID: Self.network, now: Self.now)
                XCTAssertEqual(v["valid"] as? Bool, true, v["name"] as! String)
            } catch {
                XCTAssertEqual(error.reason, v["reason"] as? String, v["name"] as! String)
            }
        }
    }
}
