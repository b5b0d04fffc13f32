import XCTest
@testable import PexWire

/// Signed peer records: creation, each stage of the validation pipeline and its order.
final class RecordTests: XCTestCase {
    let network = "pex-test"
    let now: UInt64 = 1_800_000_000
    let alice = try! KeyPair(seed: [UInt8](repeating: 1, count: 32))
    let bob = try! KeyPair(seed: [UInt8](repeating: 2, count: 32))

    func address(_ text: String) -> Multiaddr { try! Multiaddr(text) }

    func makeRecord(
        key: KeyPair? = nil, seq: UInt64 = 5, addresses: [[UInt8]]? = nil, network: String? = nil,
        expiresAt: UInt64? = nil, signer: KeyPair? = nil
    ) -> SignedPeerRecord {
        let key = key ?? alice
        let record = PeerRecord(
            publicKey: key.publicKey.bytes, seq: seq,
            addresses: addresses ?? [address("/ip4/192.0.2.1/tcp/4001").bytes],
            networkID: network ?? self.network, expiresAt: expiresAt ?? now + 3600)
        let bytes = record.encoded()
        return SignedPeerRecord(record: bytes, signature: (signer ?? key).sign(bytes, domain: .peerRecord))
    }

    func assertRejected(_ signed: SignedPeerRecord, reason: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try signed.verify(networkID: network, now: now), file: file, line: line) { error in
            XCTAssertEqual((error as? WireError)?.reason, reason, "\(error)", file: file, line: line)
        }
    }

    func testCreatedRecordVerifiesAndKeepsItsFields() throws {
        let addresses = [address("/ip4/192.0.2.1/tcp/4001"), address("/dns4/node.example.org/udp/9/quic-v1")]
        let signed = try SignedPeerRecord.create(
            keyPair: alice, seq: 42, addresses: addresses, networkID: network, expiresAt: now + 60)
        let verified = try signed.verify(networkID: network, now: now)
        XCTAssertEqual(verified.publicKey, alice.publicKey)
        XCTAssertEqual(verified.seq, 42)
        XCTAssertEqual(verified.expiresAt, now + 60)
        XCTAssertEqual(verified.addresses, addresses)
        XCTAssertEqual(verified.signed, signed)
        XCTAssertEqual(verified.peerID, alice.publicKey.peerID)
        // The signature covers the exact record bytes under the record domain, and no other domain.
        XCTAssertTrue(alice.publicKey.verify(signature: signed.signature, payload: signed.record, domain: .peerRecord))
        XCTAssertFalse(alice.publicKey.verify(signature: signed.signature, payload: signed.record, domain: .auth))
    }

    func testCreateRefusesWhatPeersWouldReject() {
        XCTAssertThrowsError(try SignedPeerRecord.create(
            keyPair: alice, seq: 0, addresses: [address("/ip4/192.0.2.1/tcp/1")], networkID: network, expiresAt: now)
        ) { XCTAssertEqual($0 as? WireError, .zeroSeq) }
        XCTAssertThrowsError(try SignedPeerRecord.create(
            keyPair: alice, seq: 1, addresses: [], networkID: network, expiresAt: now)
        ) { XCTAssertEqual($0 as? WireError, .tooFewAddresses) }
        XCTAssertThrowsError(try SignedPeerRecord.create(
            keyPair: alice, seq: 1, addresses: [address("/ip4/192.0.2.1/tcp/0")], networkID: network, expiresAt: now)
        ) { XCTAssertEqual(($0 as? WireError)?.reason, "undialable-address") }
        XCTAssertThrowsError(try SignedPeerRecord.create(
            keyPair: alice, seq: 1, addresses: [address("/ip4/192.0.2.1/tcp/1")], networkID: "Bad Net", expiresAt: now)
        ) { XCTAssertEqual(($0 as? WireError)?.reason, "bad-network-id") }
    }

    func testEachRejectionHasItsReason() {
        let tampered: SignedPeerRecord = {
            var s = makeRecord()
            s.signature[0] ^= 1
            return s
        }()
        assertRejected(tampered, reason: "bad-signature")
        assertRejected(makeRecord(signer: bob), reason: "bad-signature")
        assertRejected(makeRecord(network: "other-net"), reason: "wrong-network")
        assertRejected(makeRecord(expiresAt: now), reason: "expired")
        assertRejected(makeRecord(expiresAt: now + WireLimits.maxRecordLifetimeSeconds + 1), reason: "expiry-too-far")
        assertRejected(makeRecord(seq: 0), reason: "zero-seq")
        assertRejected(makeRecord(addresses: []), reason: "too-few-addresses")
        let eleven = (1...11).map { address("/ip4/192.0.2.\($0)/tcp/1").bytes }
        assertRejected(makeRecord(addresses: eleven), reason: "too-many-addresses")
        assertRejected(makeRecord(addresses: [[0xff, 0xff, 0xff]]), reason: "bad-address")
        assertRejected(makeRecord(addresses: [address("/ip4/192.0.2.1/udp/5").bytes]), reason: "undialable-address")
        for unspecified in ["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001"] {
            XCTAssertThrowsError(try makeRecord(addresses: [address(unspecified).bytes]).verify(networkID: network, now: now)) {
                XCTAssertEqual($0 as? WireError, .undialableAddress(index: 0, reason: "the unspecified address is not dialable"))
            }
            XCTAssertFalse(address(unspecified).isDialable)
        }
        var shortSignature = makeRecord()
        shortSignature.signature.removeLast()
        assertRejected(shortSignature, reason: "wrong-field-length")
        assertRejected(SignedPeerRecord(record: [0xff, 0xff], signature: shortSignature.signature + [0]), reason: "malformed")
    }

    func testBoundariesOfTheLifetimeAreInclusiveAsSpecified() throws {
        XCTAssertNoThrow(try makeRecord(expiresAt: now + 1).verify(networkID: network, now: now))
        XCTAssertNoThrow(try makeRecord(expiresAt: now + WireLimits.maxRecordLifetimeSeconds).verify(networkID: network, now: now))
        // Near the top of the clock's range the lifetime bound must not overflow into a rejection.
        XCTAssertNoThrow(try makeRecord(expiresAt: .max).verify(networkID: network, now: .max - 1))
    }

    func testP2PComponentMustNameTheRecordsOwnKey() throws {
        let own = address("/ip4/192.0.2.1/tcp/1/p2p/\(alice.publicKey.peerID.base58)")
        XCTAssertNoThrow(try makeRecord(addresses: [own.bytes]).verify(networkID: network, now: now))
        let other = address("/ip4/192.0.2.1/tcp/1/p2p/\(bob.publicKey.peerID.base58)")
        XCTAssertThrowsError(try makeRecord(addresses: [other.bytes]).verify(networkID: network, now: now)) {
            XCTAssertEqual($0 as? WireError, .undialableAddress(index: 0, reason: "/p2p names another key"))
        }
    }

    func testInvalidKeyIsRejectedAtTheSignatureStage() throws {
        // The identity point is of small order: rejected as a key, whatever the signature says.
        let identity = [UInt8]([1] + [UInt8](repeating: 0, count: 31))
        let record = PeerRecord(publicKey: identity, seq: 1, addresses: [address("/ip4/192.0.2.1/tcp/1").bytes],
                                networkID: network, expiresAt: now + 10)
        let signed = SignedPeerRecord(record: record.encoded(), signature: [UInt8](repeating: 0, count: 64))
        assertRejected(signed, reason: "invalid-public-key")
        // Point validation costs a scalar multiplication, so parsing leaves it to `verify`.
        XCTAssertEqual(try signed.parse(networkID: network).publicKeyBytes, identity)
    }

    func testParseStageNeedsNoSignatureOrClock() throws {
        // A record with a wrong signature and long expired still passes the structural stage,
        // so a caller can run its own checks (a roster) before paying for the signature.
        var signed = makeRecord(expiresAt: 1)
        signed.signature[5] ^= 0x40
        let parsed = try signed.parse(networkID: network)
        XCTAssertEqual(parsed.publicKeyBytes, alice.publicKey.bytes)
        XCTAssertThrowsError(try parsed.verify(now: now)) { XCTAssertEqual($0 as? WireError, .badSignature) }
    }

    func testValidationOrderIsCheapestFirst() {
        // Wrong network and bad signature together: the network is reported, since it is checked first.
        assertRejected(makeRecord(network: "other-net", signer: bob), reason: "wrong-network")
        // Bad signature and expired together: the signature comes before the clock.
        assertRejected(makeRecord(expiresAt: 1, signer: bob), reason: "bad-signature")
    }

    func testSupersedeAndEquivocation() throws {
        let v5 = try makeRecord(seq: 5).verify(networkID: network, now: now)
        let v6 = try makeRecord(seq: 6).verify(networkID: network, now: now)
        let v5b = try makeRecord(seq: 5, addresses: [address("/ip4/192.0.2.9/tcp/1").bytes]).verify(networkID: network, now: now)
        let bob5 = try makeRecord(key: bob, seq: 9).verify(networkID: network, now: now)
        XCTAssertTrue(v6.supersedes(v5))
        XCTAssertFalse(v5.supersedes(v6))
        XCTAssertFalse(v5.supersedes(v5))
        XCTAssertFalse(bob5.supersedes(v5), "records of different keys never supersede each other")
        XCTAssertTrue(v5.equivocates(with: v5b))
        XCTAssertFalse(v5.equivocates(with: v5))
        XCTAssertFalse(v5.equivocates(with: v6))
    }

    /// Equality and hashing cover both fields: a record with another's signature, or the same
    /// bytes under another signature, is another value, and equal values hash alike.
    func testSignedRecordsAreEqualOnlyWithBothFieldsEqual() {
        let first = makeRecord(seq: 5)
        let second = makeRecord(seq: 6)
        let copy = SignedPeerRecord(record: Array(first.record), signature: Array(first.signature))
        XCTAssertEqual(first, copy)
        XCTAssertEqual(first.hashValue, copy.hashValue)
        XCTAssertNotEqual(first, second)
        XCTAssertNotEqual(first, SignedPeerRecord(record: first.record, signature: second.signature))
        XCTAssertNotEqual(first, SignedPeerRecord(record: second.record, signature: first.signature))
        let set: Set = [first, second, copy, SignedPeerRecord(record: second.record, signature: first.signature)]
        XCTAssertEqual(set.count, 3)
    }
}
