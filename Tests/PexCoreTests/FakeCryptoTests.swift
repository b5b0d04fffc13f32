import XCTest
import PexWire
@testable import PexCore

final class FakeCryptoTests: XCTestCase {
    let fake = InsecureFakeCrypto()
    let alice = try! KeyPair(seed: [UInt8](repeating: 1, count: 32))
    let bob = try! KeyPair(seed: [UInt8](repeating: 2, count: 32))
    let payload: [UInt8] = Array("a record's bytes".utf8)

    func testAcceptsItsOwnSignaturesDeterministically() {
        let signature = fake.sign(payload: payload, domain: .peerRecord, keyPair: alice)
        XCTAssertEqual(signature.count, 64)
        XCTAssertEqual(signature, fake.sign(payload: payload, domain: .peerRecord, keyPair: alice))
        XCTAssertTrue(fake.verify(signature: signature, payload: payload, domain: .peerRecord, publicKey: alice.publicKey))
        // Empty payload and payloads around the 8-byte word boundary work too.
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 2048] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let sig = fake.sign(payload: bytes, domain: .auth, keyPair: bob)
            XCTAssertTrue(fake.verify(signature: sig, payload: bytes, domain: .auth, publicKey: bob.publicKey), "\(length)")
        }
    }

    func testRejectsAlteredPayloadKeyDomainOrSignature() {
        let signature = fake.sign(payload: payload, domain: .peerRecord, keyPair: alice)
        var altered = payload
        altered[3] ^= 0x01
        XCTAssertFalse(fake.verify(signature: signature, payload: altered, domain: .peerRecord, publicKey: alice.publicKey))
        XCTAssertFalse(fake.verify(signature: signature, payload: payload + [0], domain: .peerRecord, publicKey: alice.publicKey))
        XCTAssertFalse(fake.verify(signature: signature, payload: payload, domain: .peerRecord, publicKey: bob.publicKey))
        XCTAssertFalse(fake.verify(signature: signature, payload: payload, domain: .auth, publicKey: alice.publicKey))
        var badSignature = signature
        badSignature[63] ^= 0x80
        XCTAssertFalse(fake.verify(signature: badSignature, payload: payload, domain: .peerRecord, publicKey: alice.publicKey))
        XCTAssertFalse(fake.verify(signature: Array(signature.prefix(63)), payload: payload, domain: .peerRecord, publicKey: alice.publicKey))
        XCTAssertFalse(fake.verify(signature: [], payload: payload, domain: .peerRecord, publicKey: alice.publicKey))
        // Moving bytes between the key and the payload does not produce the same signature.
        let zeros = [UInt8](repeating: 0, count: 32)
        XCTAssertNotEqual(
            InsecureFakeCrypto.tag(domain: .peerRecord, publicKey: zeros, payload: [1]),
            InsecureFakeCrypto.tag(domain: .peerRecord, publicKey: Array(zeros.dropLast()), payload: [0, 1]))
    }

    func testSignaturesAreNotEd25519AndViceVersa() {
        let fakeSignature = fake.sign(payload: payload, domain: .peerRecord, keyPair: alice)
        XCTAssertFalse(SodiumCrypto().verify(signature: fakeSignature, payload: payload, domain: .peerRecord, publicKey: alice.publicKey))
        let realSignature = SodiumCrypto().sign(payload: payload, domain: .peerRecord, keyPair: alice)
        XCTAssertFalse(fake.verify(signature: realSignature, payload: payload, domain: .peerRecord, publicKey: alice.publicKey))
    }

    func testPublicKeyAcceptsAny32Bytes() {
        // 0xff…ff is not a canonical Ed25519 encoding: SodiumCrypto refuses it, the fake does not.
        let junk = [UInt8](repeating: 0xff, count: 32)
        XCTAssertNil(SodiumCrypto().publicKey(junk))
        XCTAssertEqual(fake.publicKey(junk)?.bytes, junk)
        XCTAssertNil(fake.publicKey([UInt8](repeating: 1, count: 31)))
        XCTAssertNil(fake.publicKey([UInt8](repeating: 1, count: 33)))
    }

    func testHash256IsFast32ByteAndInputSensitive() {
        let digest = fake.hash256(payload)
        XCTAssertEqual(digest.count, 32)
        XCTAssertEqual(digest, fake.hash256(payload))
        XCTAssertNotEqual(digest, SodiumCrypto().hash256(payload))
        var inputs: Set<[UInt8]> = []
        for length in 0..<40 { inputs.insert(fake.hash256([UInt8](repeating: 0, count: length))) }
        XCTAssertEqual(inputs.count, 40, "trailing zeros must change the hash")
        XCTAssertNotEqual(fake.hash256([1]), fake.hash256([2]))
        // The hash is not a prefix of a signature over the same bytes.
        XCTAssertNotEqual(Array(fake.sign(payload: payload, domain: .auth, keyPair: alice).prefix(32)), digest)
    }

    func testSignedRecordsWorkEndToEnd() throws {
        let now: UInt64 = 1_800_000_000
        let signed = try SignedPeerRecord.create(
            keyPair: alice, seq: 3, addresses: [Multiaddr("/ip4/8.8.8.8/tcp/4001")], networkID: "net",
            expiresAt: now + 60, crypto: fake)
        let verified = try signed.verify(networkID: "net", now: now, crypto: fake)
        XCTAssertEqual(verified.publicKey, alice.publicKey)
        XCTAssertEqual(verified.seq, 3)
        XCTAssertThrowsError(try signed.verify(networkID: "net", now: now, crypto: SodiumCrypto())) {
            XCTAssertEqual($0 as? WireError, .badSignature)
        }
        // A record claiming Alice's key but "signed" with Bob's fails.
        let record = try signed.parse(networkID: "net").record
        let forged = SignedPeerRecord(record: record.encoded(), signature: fake.sign(payload: record.encoded(), domain: .peerRecord, keyPair: bob))
        XCTAssertThrowsError(try forged.verify(networkID: "net", now: now, crypto: fake)) {
            XCTAssertEqual($0 as? WireError, .badSignature)
        }

        var validator = RecordValidator(policy: ValidationPolicy(networkID: "net"), crypto: fake)
        XCTAssertEqual(validator.validate(signed, known: nil, now: .unix(seconds: now)), .accepted(verified, previous: nil))
        XCTAssertEqual(validator.validate(forged, known: nil, now: .unix(seconds: now)), .rejected(.invalid(.badSignature)))
    }
}
