import Foundation
import XCTest
import PexWire
@testable import PexCore

/// Wraps a real provider and counts the calls that cost signature-class work.
final class CountingCrypto: CryptoProvider, @unchecked Sendable {
    private let base: any CryptoProvider
    private let lock = NSLock()
    private var verifies = 0
    private var keyChecks = 0

    init(_ base: any CryptoProvider = SodiumCrypto()) { self.base = base }

    var verifyCalls: Int { lock.withLock { verifies } }
    var publicKeyCalls: Int { lock.withLock { keyChecks } }

    func verify(signature: [UInt8], payload: [UInt8], domain: SigningDomain, publicKey: PublicKey) -> Bool {
        lock.withLock { verifies += 1 }
        return base.verify(signature: signature, payload: payload, domain: domain, publicKey: publicKey)
    }
    func sign(payload: [UInt8], domain: SigningDomain, keyPair: KeyPair) -> [UInt8] {
        base.sign(payload: payload, domain: domain, keyPair: keyPair)
    }
    func hash256(_ data: [UInt8]) -> [UInt8] { base.hash256(data) }
    func publicKey(_ bytes: [UInt8]) -> PublicKey? {
        lock.withLock { keyChecks += 1 }
        return base.publicKey(bytes)
    }
}

final class RecordValidatorTests: XCTestCase {
    let network = "pex-test"
    let nowSeconds: UInt64 = 1_800_000_000
    var now: Instant { .unix(seconds: nowSeconds) }
    let alice = try! KeyPair(seed: [UInt8](repeating: 1, count: 32))
    let bob = try! KeyPair(seed: [UInt8](repeating: 2, count: 32))
    let carol = try! KeyPair(seed: [UInt8](repeating: 3, count: 32))

    func address(_ text: String) -> Multiaddr { try! Multiaddr(text) }

    /// A record signed with Ed25519 over arbitrary fields (bypassing `create`'s checks).
    func record(
        key: KeyPair? = nil, keyBytes: [UInt8]? = nil, seq: UInt64 = 5, addresses: [String] = ["/ip4/8.8.8.8/tcp/4001"],
        network: String? = nil, expiresAt: UInt64? = nil, signer: KeyPair? = nil
    ) -> SignedPeerRecord {
        let key = key ?? alice
        let bytes = PeerRecord(
            publicKey: keyBytes ?? key.publicKey.bytes, seq: seq, addresses: addresses.map { address($0).bytes },
            networkID: network ?? self.network, expiresAt: expiresAt ?? nowSeconds + 3600
        ).encoded()
        return SignedPeerRecord(record: bytes, signature: (signer ?? key).sign(bytes, domain: .peerRecord))
    }

    func verified(_ signed: SignedPeerRecord) throws -> VerifiedPeerRecord {
        try signed.verify(networkID: network, now: nowSeconds)
    }

    func validator(
        roster: Set<PublicKey>? = nil, labMode: Bool = false, crypto: any CryptoProvider = SodiumCrypto(), cache: Int = 8192
    ) -> RecordValidator {
        RecordValidator(
            policy: ValidationPolicy(networkID: network, roster: roster, labMode: labMode), crypto: crypto,
            signatureCacheCapacity: cache)
    }

    // MARK: Outcomes

    func testAcceptsFirstRecordAndNewerRecordWithPrevious() throws {
        var v = validator()
        let first = try SignedPeerRecord.create(
            keyPair: alice, seq: 1, addresses: [address("/ip4/8.8.8.8/tcp/4001")], networkID: network,
            expiresAt: nowSeconds + 60)
        let outcome = v.validate(first, known: nil, now: now)
        guard case let .accepted(record, previous) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertNil(previous)
        XCTAssertEqual(record.publicKey, alice.publicKey)
        XCTAssertEqual(record.seq, 1)
        XCTAssertEqual(record.signed, first)
        XCTAssertEqual(outcome.label, "accepted")

        let second = self.record(seq: 2, addresses: ["/dns4/alice.example.org/tcp/4001"])
        XCTAssertEqual(v.validate(second, known: record, now: now), .accepted(try verified(second), previous: record))
        XCTAssertEqual(v.statistics.accepted, 2)
        XCTAssertEqual(v.statistics.signatureChecks, 2)
    }

    func testDuplicateNeedsNoCrypto() throws {
        let counting = CountingCrypto()
        var v = validator(crypto: counting)
        let signed = record()
        let known = try verified(signed)
        XCTAssertEqual(v.validate(signed, known: known, now: now), .duplicate)
        XCTAssertEqual(counting.verifyCalls, 0)
        XCTAssertEqual(counting.publicKeyCalls, 0)
        XCTAssertEqual(v.statistics.duplicate, 1)
        XCTAssertEqual(ValidationOutcome.duplicate.label, "duplicate")
    }

    func testStaleIsDroppedWithoutSignatureWork() throws {
        let counting = CountingCrypto()
        var v = validator(crypto: counting)
        let known = try verified(record(seq: 7))
        // Even a forged older record is merely stale: nothing is stored, so nothing is verified.
        let older = record(seq: 6, signer: bob)
        let outcome = v.validate(older, known: known, now: now)
        XCTAssertEqual(outcome, .stale(seq: 6, known: 7))
        XCTAssertEqual(outcome.label, "stale")
        XCTAssertEqual(counting.verifyCalls, 0)
        XCTAssertEqual(counting.publicKeyCalls, 0)
        XCTAssertEqual(v.statistics.stale, 1)
        XCTAssertEqual(v.statistics.signatureChecks, 0)
    }

    func testEquivocationCarriesBothSignedRecords() throws {
        var v = validator()
        let existing = try verified(record(seq: 9, addresses: ["/ip4/8.8.8.8/tcp/1"]))
        let conflicting = record(seq: 9, addresses: ["/ip4/8.8.4.4/tcp/2"])
        let outcome = v.validate(conflicting, known: existing, now: now)
        guard case let .equivocation(new, old) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(new, try verified(conflicting))
        XCTAssertEqual(old, existing)
        XCTAssertTrue(new.equivocates(with: old))
        XCTAssertEqual(outcome.label, "equivocation")
        XCTAssertEqual(v.statistics.equivocation, 1)

        // A same-seq record with a bad signature is not evidence of anything: it is rejected.
        let forged = record(seq: 9, addresses: ["/ip4/1.1.1.1/tcp/3"], signer: bob)
        XCTAssertEqual(v.validate(forged, known: existing, now: now), .rejected(.invalid(.badSignature)))
    }

    func testKnownRecordOfAnotherKeyIsIgnored() throws {
        var v = validator()
        let bobs = try verified(record(key: bob, seq: 50))
        let signed = record(seq: 1)
        XCTAssertEqual(v.validate(signed, known: bobs, now: now), .accepted(try verified(signed), previous: nil))
        // The closure form gets the same protection against a lookup that returns the wrong key.
        XCTAssertEqual(v.validate(signed, now: now) { _ in bobs }, .accepted(try verified(signed), previous: nil))
    }

    func testClosureIsAskedForTheRecordKeyOnlyAfterTheCheapChecks() throws {
        var v = validator(roster: [alice.publicKey])
        var asked: [PublicKey] = []
        let known = try verified(record(seq: 3))
        let signed = record(seq: 4)
        let outcome = v.validate(signed, now: now) { key in
            asked.append(key)
            return key == self.alice.publicKey ? known : nil
        }
        XCTAssertEqual(outcome, .accepted(try verified(signed), previous: known))
        XCTAssertEqual(asked, [alice.publicKey])

        asked = []
        XCTAssertEqual(v.validate(record(key: bob), now: now) { asked.append($0); return nil }, .rejected(.notAMember))
        XCTAssertEqual(v.validate(record(network: "other"), now: now) { asked.append($0); return nil },
                       .rejected(.invalid(.wrongNetwork(expected: network, actual: "other"))))
        XCTAssertEqual(asked, [])
    }

    // MARK: Rejections

    func testEachWireRejectionReason() throws {
        var v = validator()
        func reason(_ signed: SignedPeerRecord) -> String? {
            guard case let .rejected(rejection) = v.validate(signed, known: nil, now: now) else { return nil }
            return rejection.reason
        }
        XCTAssertEqual(reason(SignedPeerRecord(record: [], signature: [UInt8](repeating: 0, count: 64))), "missing-field")
        XCTAssertEqual(reason(SignedPeerRecord(record: [0xff, 0xff], signature: [UInt8](repeating: 0, count: 64))), "malformed")
        var shortSignature = record()
        shortSignature.signature.removeLast()
        XCTAssertEqual(reason(shortSignature), "wrong-field-length")
        XCTAssertEqual(reason(record(network: "elsewhere")), "wrong-network")
        XCTAssertEqual(reason(record(addresses: ["/ip4/8.8.8.8/tcp/0"])), "undialable-address")
        XCTAssertEqual(reason(record(signer: bob)), "bad-signature")
        XCTAssertEqual(reason(record(seq: 0)), "zero-seq")
        XCTAssertEqual(reason(record(expiresAt: nowSeconds)), "expired")
        XCTAssertEqual(reason(record(expiresAt: nowSeconds + WireLimits.maxRecordLifetimeSeconds + 1)), "expiry-too-far")
        // All-zero bytes: a small-order point, refused as a key before the signature is looked at.
        XCTAssertEqual(reason(record(keyBytes: [UInt8](repeating: 0, count: 32))), "invalid-public-key")

        XCTAssertEqual(v.statistics.rejectedTotal, 10)
        XCTAssertEqual(v.statistics.rejected["bad-signature"], 1)
        XCTAssertEqual(v.statistics.rejected["missing-field"], 1)
        XCTAssertEqual(v.statistics.accepted, 0)
        // Structural failures never reach the crypto: only the last five did.
        XCTAssertEqual(v.statistics.signatureChecks, 5)
    }

    func testNotAMember() throws {
        var v = validator(roster: [alice.publicKey, bob.publicKey])
        let outcome = v.validate(record(key: carol), known: nil, now: now)
        XCTAssertEqual(outcome, .rejected(.notAMember))
        XCTAssertEqual(outcome.label, "not-a-member")
        XCTAssertEqual(RecordRejection.notAMember.description, "key is not on the roster")
        let bobs = record(key: bob)
        XCTAssertEqual(v.validate(bobs, known: nil, now: now), .accepted(try verified(bobs), previous: nil))
        XCTAssertEqual(v.statistics.rejected, ["not-a-member": 1])
    }

    func testRecordNeedsOneAcceptableAddressAndNamesTheFirstOffender() throws {
        var v = validator()
        // One public address is enough: a LAN address next to it is kept but never dialled.
        let mixed = record(addresses: ["/ip4/10.1.2.3/tcp/1", "/ip4/8.8.8.8/tcp/1", "/ip4/127.0.0.1/tcp/1"])
        XCTAssertEqual(v.validate(mixed, known: nil, now: now), .accepted(try verified(mixed), previous: nil))
        let named = record(addresses: ["/ip4/10.1.2.3/tcp/2", "/dns4/ok.example.org/tcp/1"])
        XCTAssertEqual(v.validate(named, known: nil, now: now), .accepted(try verified(named), previous: nil))
        let outcome = v.validate(record(addresses: ["/ip4/10.1.2.3/tcp/1", "/ip4/127.0.0.1/tcp/1"]), known: nil, now: now)
        XCTAssertEqual(outcome, .rejected(.unroutableAddress(index: 0, address: "/ip4/10.1.2.3/tcp/1")))
        XCTAssertEqual(outcome.label, "unroutable-address")
        XCTAssertEqual(
            RecordRejection.unroutableAddress(index: 2, address: "/ip4/10.1.2.3/tcp/1").description,
            "address 2 (/ip4/10.1.2.3/tcp/1) is not acceptable under the address policy")
        XCTAssertEqual(RecordRejection.invalid(.badSignature).description, "signature does not verify")
        XCTAssertEqual(v.statistics.signatureChecks, 2, "only the two accepted records were verified")
    }

    // MARK: Ordering

    func testCheapChecksRunBeforeAnyCrypto() throws {
        let counting = CountingCrypto()
        var v = validator(roster: [alice.publicKey], crypto: counting)
        // Non-member with a bad signature: the roster decides, the crypto is never called.
        XCTAssertEqual(v.validate(record(key: carol, signer: bob), known: nil, now: now), .rejected(.notAMember))
        // Member, unroutable address, bad signature: the address policy decides.
        XCTAssertEqual(
            v.validate(record(addresses: ["/ip4/192.168.1.1/tcp/1"], signer: bob), known: nil, now: now),
            .rejected(.unroutableAddress(index: 0, address: "/ip4/192.168.1.1/tcp/1")))
        // Non-member on another network: structure comes first.
        XCTAssertEqual(
            v.validate(record(key: carol, network: "other"), known: nil, now: now),
            .rejected(.invalid(.wrongNetwork(expected: network, actual: "other"))))
        // Non-member with an unroutable address: the roster comes first.
        XCTAssertEqual(v.validate(record(key: carol, addresses: ["/ip4/10.0.0.1/tcp/1"]), known: nil, now: now), .rejected(.notAMember))
        XCTAssertEqual(counting.verifyCalls, 0)
        XCTAssertEqual(counting.publicKeyCalls, 0)

        // Stale beats an expired record: no signature work for what is dropped anyway.
        let known = try verified(record(seq: 5))
        XCTAssertEqual(v.validate(record(seq: 4, expiresAt: 1), known: known, now: now), .stale(seq: 4, known: 5))
        XCTAssertEqual(counting.verifyCalls, 0)
    }

    // MARK: Signature cache

    func testSignatureCacheSkipsCryptoButStillEnforcesExpiry() throws {
        let counting = CountingCrypto()
        var v = validator(crypto: counting)
        let signed = record(seq: 1, expiresAt: nowSeconds + 100)
        let expected = ValidationOutcome.accepted(try verified(signed), previous: nil)
        XCTAssertEqual(v.validate(signed, known: nil, now: now), expected)
        XCTAssertEqual(counting.verifyCalls, 1)
        XCTAssertEqual(counting.publicKeyCalls, 1)
        XCTAssertEqual(v.signatureCacheCount, 1)

        // Same bytes again (e.g. from another peer, before the caller stored it): no crypto.
        XCTAssertEqual(v.validate(signed, known: nil, now: now + .seconds(99)), expected)
        XCTAssertEqual(counting.verifyCalls, 1)
        XCTAssertEqual(counting.publicKeyCalls, 1)
        XCTAssertEqual(v.statistics.signatureCacheHits, 1)
        XCTAssertEqual(v.statistics.signatureChecks, 1)

        // A hit still checks expiry against now.
        XCTAssertEqual(
            v.validate(signed, known: nil, now: now + .seconds(100)),
            .rejected(.invalid(.expired(expiresAt: nowSeconds + 100, now: nowSeconds + 100))))
        XCTAssertEqual(counting.verifyCalls, 1)
        XCTAssertEqual(v.statistics.signatureCacheHits, 2)
        // And the too-far check, for a clock that went backwards.
        XCTAssertEqual(
            v.validate(signed, known: nil, now: .unix(seconds: 50)),
            .rejected(.invalid(.expiryTooFar(expiresAt: nowSeconds + 100, now: 50))))
        XCTAssertEqual(counting.verifyCalls, 1)
    }

    func testFailedSignaturesAreNotCached() {
        let counting = CountingCrypto()
        var v = validator(crypto: counting)
        let forged = record(signer: bob)
        XCTAssertEqual(v.validate(forged, known: nil, now: now), .rejected(.invalid(.badSignature)))
        XCTAssertEqual(v.validate(forged, known: nil, now: now), .rejected(.invalid(.badSignature)))
        XCTAssertEqual(counting.verifyCalls, 2)
        XCTAssertEqual(v.signatureCacheCount, 0)
    }

    func testSignatureCacheIsBoundedFIFO() {
        let counting = CountingCrypto()
        var v = validator(crypto: counting, cache: 2)
        let a = record(seq: 1), b = record(seq: 2), c = record(seq: 3)
        for signed in [a, b, a, c, a, b] { _ = v.validate(signed, known: nil, now: now) }
        // a, b verified; a hit; c verified and evicts a; a verified and evicts b; b verified.
        XCTAssertEqual(counting.verifyCalls, 5)
        XCTAssertEqual(v.statistics.signatureCacheHits, 1)
        XCTAssertEqual(v.signatureCacheCount, 2)
        XCTAssertEqual(v.statistics.accepted, 6)
    }

    // MARK: Address policy

    func testLabModeAcceptsLoopbackAndPrivateButNotUnspecifiedOrMulticast() throws {
        var strict = validator()
        var lab = validator(labMode: true)
        for text in ["/ip4/127.0.0.1/tcp/1", "/ip4/192.168.1.10/tcp/1", "/ip4/10.0.0.1/tcp/1", "/ip6/::1/tcp/1",
                     "/ip6/fd00::1/udp/1/quic-v1", "/ip4/169.254.1.1/tcp/1"] {
            let signed = record(addresses: [text])
            XCTAssertEqual(strict.validate(signed, known: nil, now: now), .rejected(.unroutableAddress(index: 0, address: text)))
            XCTAssertEqual(lab.validate(signed, known: nil, now: now), .accepted(try verified(signed), previous: nil), text)
        }
        for text in ["/ip4/0.0.0.0/tcp/1", "/ip6/::/tcp/1"] {
            // PexWire already refuses to call these dialable, before any policy.
            let expected = ValidationOutcome.rejected(.invalid(.undialableAddress(index: 0, reason: "the unspecified address is not dialable")))
            XCTAssertEqual(lab.validate(record(addresses: [text]), known: nil, now: now), expected, text)
            XCTAssertEqual(strict.validate(record(addresses: [text]), known: nil, now: now), expected, text)
        }
        for text in ["/ip4/255.255.255.255/tcp/1", "/ip4/224.0.0.1/tcp/1",
                     "/ip4/239.255.255.250/udp/1900/quic-v1", "/ip6/ff02::1/tcp/1", "/ip6/::ffff:0.0.0.0/tcp/1"] {
            let signed = record(addresses: [text])
            XCTAssertEqual(lab.validate(signed, known: nil, now: now), .rejected(.unroutableAddress(index: 0, address: text)), text)
            XCTAssertEqual(strict.validate(signed, known: nil, now: now), .rejected(.unroutableAddress(index: 0, address: text)), text)
        }
        for text in ["/dns/localhost/tcp/1", "/ip4/8.8.8.8/tcp/1", "/ip6/2606:4700::1111/tcp/443"] {
            let signed = record(addresses: [text])
            XCTAssertEqual(lab.validate(signed, known: nil, now: now), .accepted(try verified(signed), previous: nil), text)
            XCTAssertEqual(strict.validate(signed, known: nil, now: now), .accepted(try verified(signed), previous: nil), text)
        }
    }

    func testPolicyAcceptsIPAddresses() throws {
        let strict = ValidationPolicy(networkID: network)
        let lab = ValidationPolicy(networkID: network, labMode: true)
        let cases: [(String, Bool, Bool)] = [
            ("8.8.8.8", true, true), ("2001:4860:4860::8888", true, true),
            ("127.0.0.1", false, true), ("10.0.0.1", false, true), ("fe80::1", false, true),
            ("0.0.0.0", false, false), ("::", false, false), ("255.255.255.255", false, false),
            ("224.0.0.251", false, false), ("ff05::2", false, false),
        ]
        for (text, strictOK, labOK) in cases {
            let ip = try XCTUnwrap(IPAddress(text), text)
            XCTAssertEqual(strict.accepts(ip), strictOK, text)
            XCTAssertEqual(lab.accepts(ip), labOK, text)
        }
        XCTAssertNil(strict.addressRejection([address("/dns4/x.example/tcp/1"), address("/ip4/8.8.8.8/tcp/1")]))
        XCTAssertEqual(strict.addressRejection([address("/ip6/::1/tcp/1")]), .unroutableAddress(index: 0, address: "/ip6/::1/tcp/1"))
    }

    // MARK: Reload and statistics

    func testPolicyReloadTakesEffectAndKeepsTheSignatureCache() throws {
        let counting = CountingCrypto()
        var v = validator(crypto: counting)
        let signed = record(key: bob)
        XCTAssertEqual(v.validate(signed, known: nil, now: now), .accepted(try verified(signed), previous: nil))
        v.policy.roster = [alice.publicKey]
        XCTAssertEqual(v.validate(signed, known: nil, now: now), .rejected(.notAMember))
        v.policy.roster = [bob.publicKey]
        XCTAssertEqual(v.validate(signed, known: nil, now: now), .accepted(try verified(signed), previous: nil))
        XCTAssertEqual(counting.verifyCalls, 1)
        v.policy.networkID = "other"
        XCTAssertEqual(v.validate(signed, known: nil, now: now), .rejected(.invalid(.wrongNetwork(expected: "other", actual: network))))
    }

    func testStatisticsByLabelAreSortedAndComplete() throws {
        var v = validator(roster: [alice.publicKey])
        let known = try verified(record(seq: 5))
        _ = v.validate(record(seq: 6), known: known, now: now)                 // accepted
        _ = v.validate(record(seq: 5), known: known, now: now)                 // duplicate
        _ = v.validate(record(seq: 4), known: known, now: now)                 // stale
        _ = v.validate(record(key: bob), known: nil, now: now)                 // not-a-member
        _ = v.validate(record(key: carol), known: nil, now: now)               // not-a-member
        _ = v.validate(record(signer: bob), known: nil, now: now)              // bad-signature
        let labels = v.statistics.byLabel
        XCTAssertEqual(labels.map(\.label), ["accepted", "bad-signature", "duplicate", "not-a-member", "stale"])
        XCTAssertEqual(labels.map(\.count), [1, 1, 1, 2, 1])
        XCTAssertEqual(v.statistics.rejectedTotal, 3)
        XCTAssertEqual(v.statistics.equivocation, 0)
        XCTAssertEqual(ValidationStatistics().byLabel.count, 0)
    }
}
