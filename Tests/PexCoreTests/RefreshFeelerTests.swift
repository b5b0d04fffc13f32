import PexWire
import XCTest
@testable import PexCore

/// Refresh feelers (PROTOCOL.md §15.4): with no untried address (always so in roster mode) a
/// node still opens a short connection to the member it was connected to least recently, and
/// syncs on it only when the handshake shows it behind.
final class RefreshFeelerTests: XCTestCase {
    static let t0: UInt64 = 1_800_000_000
    let now = Instant.unix(seconds: RefreshFeelerTests.t0 + 100_000)
    let interval = TimeSpan.minutes(2)

    static let identities: [KeyPair] = (1...6).map { i in try! KeyPair(seed: [UInt8](repeating: UInt8(0x40 + i), count: 32)) }

    func entry(_ i: Int, lastTry: Instant? = nil, lastSuccess: Instant? = nil, attempts: Int = 0) -> BookEntry {
        let crypto = SodiumCrypto()
        let signed = try! SignedPeerRecord.create(
            keyPair: Self.identities[i], seq: 1, addresses: [try! Multiaddr("/ip4/\(20 + i).0.0.1/tcp/4001")],
            networkID: "refresh", expiresAt: Self.t0 + 10 * 86_400, crypto: crypto)
        let record = try! signed.verify(networkID: "refresh", now: Self.t0, crypto: crypto)
        return BookEntry(record: record, sourceGroup: [], addedAt: .unix(seconds: Self.t0), lastSeen: .unix(seconds: Self.t0),
                         lastTry: lastTry, lastSuccess: lastSuccess, attempts: attempts, location: .protected)
    }

    func pick(_ entries: [BookEntry], seed: UInt64 = 1, excluding: Set<Int> = []) -> Int? {
        var rng = SeededRandom(seed: seed)
        let excludedKeys = Set(excluding.map { Self.identities[$0].publicKey })
        guard let chosen = Node.refreshTarget(entries, now: now, feelerInterval: interval, using: &rng,
                                              excluding: { excludedKeys.contains($0) }) else { return nil }
        return Self.identities.firstIndex { $0.publicKey == chosen.publicKey }
    }

    func testLeastRecentlyConnectedMemberIsPicked() {
        let entries = [entry(0, lastSuccess: now - .minutes(5)), entry(1, lastSuccess: now - .hours(3)),
                       entry(2, lastSuccess: now - .hours(1))]
        XCTAssertEqual(pick(entries), 1)
        // Never connected counts as longest ago.
        XCTAssertEqual(pick(entries + [entry(3)]), 3)
        // Excluded keys (own, connected, banned, outsiders) are never picked.
        XCTAssertEqual(pick(entries, excluding: [1]), 2)
        XCTAssertNil(pick(entries, excluding: [0, 1, 2]))
        XCTAssertNil(pick([]))
    }

    func testFailedMemberBacksOffExponentially() {
        // One failure: held back one feeler interval after its last try.
        XCTAssertEqual(pick([entry(0, lastTry: now - .seconds(100), attempts: 1), entry(1, lastSuccess: now - .minutes(1))]), 1)
        XCTAssertEqual(pick([entry(0, lastTry: now - .seconds(121), attempts: 1), entry(1, lastSuccess: now - .minutes(1))]), 0)
        // Three failures: 4 intervals (8 min).
        XCTAssertEqual(pick([entry(0, lastTry: now - .minutes(7), attempts: 3), entry(1, lastSuccess: now - .minutes(1))]), 1)
        XCTAssertEqual(pick([entry(0, lastTry: now - .minutes(9), attempts: 3), entry(1, lastSuccess: now - .minutes(1))]), 0)
        // The back-off stops doubling at 2^5 intervals (64 min), however many failures.
        XCTAssertEqual(pick([entry(0, lastTry: now - .minutes(63), attempts: 40), entry(1, lastSuccess: now - .minutes(1))]), 1)
        XCTAssertEqual(pick([entry(0, lastTry: now - .minutes(65), attempts: 40), entry(1, lastSuccess: now - .minutes(1))]), 0)
    }

    func testTiesAreDrawnByTheRandomSourceOnlyWhateverTheInputOrder() {
        let entries = (0..<6).map { entry($0) }
        var picks = Set<Int>()
        for seed in 0..<40 as Range<UInt64> {
            let forward = pick(entries, seed: seed)
            XCTAssertEqual(forward, pick(entries.reversed(), seed: seed), "seed \(seed)")
            if let forward { picks.insert(forward) }
        }
        // Equal candidates are spread, not always the first.
        XCTAssertGreaterThan(picks.count, 3)
    }

    // MARK: The feeler on the wire

    let memberA = RawPeer.key(1), memberB = RawPeer.key(2)

    /// A roster node with no outbound target (so the book's members are dialled only by
    /// feelers), in maintenance through member A, which told it B's record `recordOfB`.
    func harness(recordOfB: (NodeHarness) -> SignedPeerRecord) -> (NodeHarness, RawPeer, SignedPeerRecord) {
        let roster: Set<PublicKey> = [memberA.publicKey, memberB.publicKey,
                                      try! KeyPair(seed: [UInt8](repeating: 0x11, count: 32)).publicKey]
        let h = NodeHarness(config: NodeHarness.config {
            $0.roster = roster
            $0.targetOutbound = 0
        })
        let a = RawPeer.connect(to: h, identity: memberA, ip: "12.0.0.1")
        a.handshake()
        a.service()
        let b = recordOfB(h)
        a.send(.peerAnnouncement(PeerAnnouncement(records: [b])))
        h.servicedPeers = [a]
        XCTAssertEqual(h.node.state, .maintenance)
        XCTAssertNotNil(h.node.entry(for: memberB.publicKey))
        return (h, a, b)
    }

    /// Advances one feeler interval, answering the dial to B with `answer`.
    func runFeeler(_ h: NodeHarness, answer: @escaping (RawPeer) -> Void) -> RawPeer? {
        var feeler: RawPeer?
        h.advance(by: .minutes(2) + .seconds(1)) { outputs in
            for case let .dial(id, address) in outputs where feeler == nil {
                XCTAssertEqual(address, try! Multiaddr("/ip4/13.0.0.1/tcp/4001"))
                let peer = RawPeer.answer(dial: id, of: h, identity: self.memberB, ip: "13.0.0.1")
                feeler = peer
                answer(peer)
            }
        }
        return feeler
    }

    func testFeelerToAMemberWithANewerRecordSyncsOnceThenCloses() throws {
        let (h, _, old) = harness { RawPeer.record(self.memberB, seq: 5, addresses: ["/ip4/13.0.0.1/tcp/4001"],
                                                   expiresAt: $0.now.unixSeconds + 86_400, crypto: $0.crypto) }
        let newer = RawPeer.record(memberB, seq: 9, addresses: ["/ip4/13.0.0.1/tcp/4001"],
                                   expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        let gossip = RawPeer.record(RawPeer.key(3), seq: 1, addresses: ["/ip4/14.0.0.1/tcp/4001"],
                                    expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        var requestsBeforeAnswer = -1
        var closedBeforeAnswer = true
        let peer = try XCTUnwrap(runFeeler(h) { b in
            b.sendHello(record: newer)
            b.sendAuth()
            // Kept open for exactly one request…
            requestsBeforeAnswer = b.frames("peer_request").count
            closedBeforeAnswer = b.closedByNode
            guard case let .peerRequest(request)? = b.frames("peer_request").first else { return }
            b.send(.peerResponse(PeerResponse(requestID: request.requestID, records: [newer, gossip], next: nil,
                                              more: false, full: request.since == nil)))
        })
        XCTAssertNotEqual(old, newer)
        XCTAssertEqual(requestsBeforeAnswer, 1)
        XCTAssertFalse(closedBeforeAnswer)
        // …then closed silently once the exchange completed.
        XCTAssertTrue(peer.closedByNode)
        XCTAssertEqual(peer.errors, [])
        XCTAssertEqual(peer.frames("peer_request").count, 1)
        XCTAssertEqual(h.node.entry(for: memberB.publicKey)?.record.seq, 9)
        XCTAssertFalse(h.node.readyPeers.contains(memberB.publicKey))
        // A feeler is no regular peer: no `connected` event for it.
        XCTAssertFalse(h.events.contains { if case let .connected(_, key, _, _) = $0 { key == self.memberB.publicKey } else { false } })
    }

    func testFeelerToAnUpToDateMemberClosesAfterTheHandshake() throws {
        let (h, _, current) = harness { RawPeer.record(self.memberB, seq: 5, addresses: ["/ip4/13.0.0.1/tcp/4001"],
                                                       expiresAt: $0.now.unixSeconds + 86_400, crypto: $0.crypto) }
        let peer = try XCTUnwrap(runFeeler(h) { b in
            b.sendHello(record: current)
            b.sendAuth()
        })
        // The handshake is all it costs: no request, closed at once, the member's success noted.
        XCTAssertTrue(peer.closedByNode)
        XCTAssertEqual(peer.frames("peer_request"), [])
        XCTAssertEqual(peer.errors, [])
        XCTAssertNotNil(h.node.entry(for: memberB.publicKey)?.lastSuccess)
    }

    // MARK: The dial-back

    /// B, whose record the node holds at seq 5 on 13.0.0.1, connects from 13.0.0.2 with
    /// `helloSeq` in its Hello; the node answers with its request, and B leaves, after
    /// answering it when `answers`. Returns the node's dials that followed.
    func inboundFeelerFromB(helloSeq: UInt64, answers: Bool) -> (NodeHarness, [Multiaddr], RawPeer) {
        let (h, _, _) = harness { RawPeer.record(self.memberB, seq: 5, addresses: ["/ip4/13.0.0.1/tcp/4001"],
                                                 expiresAt: $0.now.unixSeconds + 86_400, crypto: $0.crypto) }
        // A newer record moves B to 13.0.0.2; seq 5 is the very record the node holds.
        let hello = RawPeer.record(memberB, seq: helloSeq, addresses: [helloSeq == 5 ? "/ip4/13.0.0.1/tcp/4001" : "/ip4/13.0.0.2/tcp/4001"],
                                   expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        let b = RawPeer.connect(to: h, identity: memberB, ip: "13.0.0.2", record: hello)
        b.handshake()
        // Like every ready connection, the node asks the newcomer for its records.
        XCTAssertEqual(b.frames("peer_request").count, 1)
        if answers { b.service() }
        let dialsBefore = h.dials.count
        h.handle(.closed(b.id, reason: "closed by peer"))
        return (h, h.dials.dropFirst(dialsBefore).map(\.2), b)
    }

    func testInboundPeerThatShowedUsBehindAndLeftUnansweredIsDialledBackForASync() throws {
        let (h, dials, _) = inboundFeelerFromB(helloSeq: 9, answers: false)
        // At once, at the address of the record its Hello brought.
        XCTAssertEqual(dials, [try Multiaddr("/ip4/13.0.0.2/tcp/4001")])
        XCTAssertEqual(h.node.metrics.refreshDialBacks, 1)
        let id = try XCTUnwrap(h.dials.last?.1)
        let b = RawPeer.answer(dial: id, of: h, identity: memberB, ip: "13.0.0.2")
        b.sendHello(record: h.node.entry(for: memberB.publicKey)!.record.signed)
        b.sendAuth()
        // The dial-back syncs although the Hello's record is the one the node now holds: the
        // node was behind when B's own feeler came.
        guard case let .peerRequest(request)? = b.frames("peer_request").first else {
            return XCTFail("the dial-back sent no request: \(b.received.map(\.kind))")
        }
        XCTAssertFalse(b.closedByNode)
        // B asks too, and is answered before the node's exchange completes.
        b.send(.peerRequest(PeerRequest(requestID: 77, maxPeers: 100)))
        XCTAssertEqual(b.frames("peer_response").count, 1)
        b.send(.peerResponse(PeerResponse(requestID: request.requestID, records: [], next: nil, more: false,
                                          full: request.since == nil)))
        XCTAssertTrue(b.closedByNode)
        XCTAssertEqual(b.errors, [])
        XCTAssertEqual(h.node.metrics.refreshSyncs, 1)
    }

    func testNoDialBackWhenTheHelloShowedNothingNew() {
        let (h, dials, _) = inboundFeelerFromB(helloSeq: 5, answers: false)
        XCTAssertEqual(dials, [])
        XCTAssertEqual(h.node.metrics.refreshDialBacks, 0)
    }

    func testNoDialBackWhenThePeerAnsweredBeforeLeaving() {
        let (h, dials, _) = inboundFeelerFromB(helloSeq: 9, answers: true)
        XCTAssertEqual(dials, [])
        XCTAssertEqual(h.node.metrics.refreshDialBacks, 0)
    }
}
