import Foundation
import XCTest
@testable import PexWire

/// Vectors written by the Python client with the official protobuf runtime, checked byte for byte
/// against PexWire (protobuf-c): both implementations must agree on every encoding.
final class PythonVectorTests: XCTestCase {
    func testValidFramesDecodeAndReencodeByteForByte() throws {
        let vectors = try Vectors.array("python/frames.json")
        XCTAssertGreaterThan(vectors.count, 20)
        var bodies = Set<String>()
        for v in vectors {
            let name = v["name"] as? String ?? "?"
            let frameBytes = try bytes(hex: try XCTUnwrap(v["frame_hex"] as? String))
            let expected: Frame
            if let field = v["unknown_field"] as? NSNumber {
                expected = .unknown(fieldNumber: field.uint32Value)
            } else {
                expected = try ProtoJSON.frame(try XCTUnwrap(v["frame"] as? [String: Any]))
            }
            bodies.insert(expected.kind)
            let decoded = try Frame(decoding: frameBytes)
            XCTAssertEqual(decoded, expected, name)
            XCTAssertEqual(hexString(expected.encoded()), v["frame_hex"] as? String, "\(name): re-encoding")
            XCTAssertEqual(hexString(FrameEncoder.delimit(frameBytes)), v["delimited_hex"] as? String, "\(name): delimiting")
            // The stream decoder yields the same frame from the delimited bytes fed one byte at a time.
            var decoder = FrameDecoder()
            var streamed: [Frame] = []
            for byte in try bytes(hex: try XCTUnwrap(v["delimited_hex"] as? String)) {
                decoder.append([byte])
                while let frame = try decoder.nextFrame(inflating: false) { streamed.append(frame) }
            }
            XCTAssertEqual(streamed, [expected], name)
            if case .compressed = expected {
                XCTAssertNoThrow(try decoded.inflated(), "\(name): Python's raw deflate inflates")
            }
        }
        XCTAssertEqual(bodies, ["hello", "auth", "peer_request", "peer_response", "peer_announcement", "peer_update",
                                "ping", "pong", "error", "compressed", "unknown"], "every body is covered")
    }

    func testInvalidStreamsFailWithTheNamedReason() throws {
        let vectors = try Vectors.array("python/frames_invalid.json")
        XCTAssertGreaterThan(vectors.count, 15)
        for v in vectors {
            let name = v["name"] as? String ?? "?"
            let expected = try XCTUnwrap(v["reason"] as? String)
            var decoder = FrameDecoder()
            decoder.append(try bytes(hex: try XCTUnwrap(v["stream_hex"] as? String)))
            var failure: WireError?
            do {
                while try decoder.nextFrame(inflating: true) != nil {}
                try decoder.finish()
            } catch {
                failure = error
            }
            XCTAssertEqual(failure?.reason, expected, "\(name): \(failure.map(String.init(describing:)) ?? "accepted")")
        }
    }

    func testRecordsVerifyOrFailWithTheNamedReason() throws {
        let vectors = try Vectors.array("python/records.json")
        XCTAssertGreaterThan(vectors.count, 20)
        for v in vectors {
            let name = v["name"] as? String ?? "?"
            let network = try XCTUnwrap(v["network"] as? String)
            let now = try XCTUnwrap((v["now"] as? NSNumber)?.uint64Value)
            // The signer's identity in both text forms.
            let seed = try bytes(hex: try XCTUnwrap(v["seed_hex"] as? String))
            let signer = try KeyPair(seed: seed)
            XCTAssertEqual(signer.publicKey.base64, v["public_key_b64"] as? String, name)
            XCTAssertEqual(signer.base64SecretKey, v["secret_key_b64"] as? String, name)
            XCTAssertEqual(signer.publicKey.peerID.base58, v["peer_id"] as? String, name)

            let signedBytes = try bytes(hex: try XCTUnwrap(v["signed_hex"] as? String))
            var outcome: Result<VerifiedPeerRecord, WireError>
            do {
                let signed = try SignedPeerRecord(decoding: signedBytes)
                XCTAssertEqual(hexString(signed.record), v["record_hex"] as? String, name)
                XCTAssertEqual(hexString(signed.signature), v["signature_hex"] as? String, name)
                outcome = .success(try signed.verify(networkID: network, now: now))
            } catch {
                outcome = .failure(error)
            }
            if v["valid"] as? Bool == true {
                guard case let .success(verified) = outcome else {
                    XCTFail("\(name): rejected: \(outcome)")
                    continue
                }
                let record = try XCTUnwrap(v["record"] as? [String: Any])
                XCTAssertEqual(verified.publicKey.base64, record["public_key_b64"] as? String, name)
                XCTAssertEqual(verified.seq, (record["seq"] as? NSNumber)?.uint64Value, name)
                XCTAssertEqual(verified.expiresAt, (record["expires_at"] as? NSNumber)?.uint64Value, name)
                XCTAssertEqual(verified.addresses.map(\.text), record["addresses"] as? [String], name)
                XCTAssertEqual(verified.addresses.map { hexString($0.bytes) }, v["addresses_hex"] as? [String], name)
                // Signing the same record in Swift gives the same bytes: deterministic Ed25519 and
                // identical protobuf encodings.
                let again = try SignedPeerRecord.create(
                    keyPair: signer, seq: verified.seq, addresses: verified.addresses, networkID: network,
                    expiresAt: verified.expiresAt)
                XCTAssertEqual(hexString(again.record), v["record_hex"] as? String, "\(name): Swift encoding")
                XCTAssertEqual(hexString(again.signature), v["signature_hex"] as? String, "\(name): Swift signature")
            } else {
                guard case let .failure(error) = outcome else {
                    XCTFail("\(name): accepted, expected \(v["reason"] ?? "?")")
                    continue
                }
                XCTAssertEqual(error.reason, v["reason"] as? String, "\(name): \(error)")
            }
        }
    }

    func testHandshakeTranscriptMatches() throws {
        let v = try XCTUnwrap(try Vectors.load("python/auth.json") as? [String: Any])
        let network = try XCTUnwrap(v["network_id"] as? String)
        let now = try XCTUnwrap((v["now"] as? NSNumber)?.uint64Value)
        let initiator = try XCTUnwrap(v["initiator"] as? [String: Any])
        let responder = try XCTUnwrap(v["responder"] as? [String: Any])
        let initiatorHello = try bytes(hex: try XCTUnwrap(initiator["hello_frame_hex"] as? String))
        let responderHello = try bytes(hex: try XCTUnwrap(responder["hello_frame_hex"] as? String))
        let crypto = SodiumCrypto()
        for (side, other, role) in [(initiator, responder, AuthRole.initiator), (responder, initiator, AuthRole.responder)] {
            let key = try KeyPair(seed: try bytes(hex: try XCTUnwrap(side["seed_hex"] as? String)))
            // Its Hello decodes and carries a record the other side accepts.
            guard case let .hello(hello) = try Frame(decoding: try bytes(hex: try XCTUnwrap(side["hello_frame_hex"] as? String))) else {
                return XCTFail("not a Hello")
            }
            let record = try XCTUnwrap(hello.record).verify(networkID: network, now: now)
            XCTAssertEqual(record.publicKey, key.publicKey)
            XCTAssertEqual(hexString(hello.nonce), side["nonce_hex"] as? String)
            let otherNonce = try bytes(hex: try XCTUnwrap(other["nonce_hex"] as? String))
            let helloBytes = role == .initiator ? initiatorHello : responderHello
            XCTAssertEqual(hexString(crypto.hash256(helloBytes)), side["hello_hash_hex"] as? String)
            let payload = AuthTranscript.payload(
                role: role, initiatorHello: initiatorHello, responderHello: responderHello, peerNonce: otherNonce, crypto: crypto)
            XCTAssertEqual(hexString(payload), side["auth_payload_hex"] as? String, "\(role)")
            let signature = key.sign(payload, domain: .auth)
            XCTAssertEqual(hexString(signature), side["signature_hex"] as? String, "\(role): deterministic signature")
            XCTAssertTrue(key.publicKey.verify(signature: signature, payload: payload, domain: .auth))
            XCTAssertEqual(hexString(Frame.auth(Auth(signature: signature)).encoded()), side["auth_frame_hex"] as? String)
        }
    }
}
