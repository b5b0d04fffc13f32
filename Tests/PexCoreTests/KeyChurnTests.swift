import PexCore
import PexWire
import XCTest

/// Offences of authenticated keys are also charged to their address in an open network
/// (PROTOCOL.md §20.2, key churn): a peer switching keys from one address is banned by address,
/// honest peers sharing an address are not, roster mode and lab-mode loopback are exempt.
final class KeyChurnTests: XCTestCase {
    let flooderIP = IPAddress("12.0.0.1")!

    func testAddressPointsAreTheShareRoundedUp() {
        var c = MisbehaviourConfig.default
        XCTAssertEqual(c.addressShare, 50)
        let expected: [Offence: Int] = [
            .malformedFrame: 50, .protocolViolation: 50, .handshakeFailure: 25, .invalidRecord: 5, .badSignature: 25,
            .notAMember: 10, .staleRecord: 0, .rateLimited: 3, .unsolicitedResponse: 10, .equivocation: 0, .oversized: 25,
        ]
        for offence in Offence.allCases { XCTAssertEqual(c.addressPoints(for: offence), expected[offence], offence.rawValue) }
        c.addressShare = 0
        XCTAssertEqual(Offence.allCases.map { c.addressPoints(for: $0) }.reduce(0, +), 0)
        c.addressShare = 100
        XCTAssertEqual(c.addressPoints(for: .rateLimited), 5)
        XCTAssertEqual(c.addressPoints(for: .equivocation), 0, "equivocation never charges the address")
        c.addressShare = 1000
        XCTAssertEqual(c.addressPoints(for: .malformedFrame), 100, "clamped to the whole")
        c.addressShare = -5
        XCTAssertEqual(c.addressPoints(for: .malformedFrame), 0)
        c.addressShare = 1
        c.malformedFrame = .max
        XCTAssertEqual(c.addressPoints(for: .malformedFrame), Int.max / 100 + 1, "no overflow on huge points")
    }

    func testAddressShareDisconnectsAtFiftyAndBansAtOneHundred() {
        var tracker = MisbehaviourTracker()
        let t0 = Instant.unix(seconds: 1_700_000_000)
        let subject = BanSubject.address(flooderIP)
        // 3 points per rate-limited event: 16 → 48, the 17th → 51, the 34th → 102.
        var verdicts: [Verdict] = []
        for _ in 1...34 { verdicts.append(tracker.recordAddressShare(.rateLimited, address: flooderIP, now: t0)) }
        XCTAssertEqual(verdicts.prefix(16), ArraySlice(repeating: .none, count: 16))
        XCTAssertEqual(verdicts[16...32], ArraySlice(repeating: .disconnect, count: 17))
        XCTAssertEqual(verdicts[33], .ban(until: t0 + .hours(24)))
        XCTAssertEqual(tracker.score(of: subject, now: t0), 0, "a ban forgets the score")
        XCTAssertEqual(tracker.recordAddressShare(.equivocation, address: flooderIP, now: t0), .none)
        XCTAssertEqual(tracker.count, 0)
    }

    /// Records of keys 20 000 + n, each in its own address group (so the 10 % group cap of the
    /// book does not interfere), valid for a day.
    func records(_ ns: Range<Int>, _ h: NodeHarness) -> [SignedPeerRecord] {
        ns.map { n in
            RawPeer.record(RawPeer.key(20_000 + n), seq: 5, addresses: ["/ip4/\(50 + n).1.0.1/tcp/4001"],
                           expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        }
    }

    func recordKeys(_ ns: Range<Int>) -> [PublicKey] { ns.map { RawPeer.key(20_000 + $0).publicKey } }

    /// One raw peer from `ip` under a fresh key: handshake, answer our request, announce
    /// `records`, then 20 PeerRequests (3 answered, 5 points for each excess one).
    @discardableResult
    func floodOnce(_ h: NodeHarness, key: Int, ip: String = "12.0.0.1", records: [SignedPeerRecord] = []) -> RawPeer {
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(key), ip: ip, port: 50000 + key)
        peer.handshake()
        peer.service()
        if !records.isEmpty { peer.send(.peerAnnouncement(PeerAnnouncement(records: records))) }
        for n in 1...20 where !peer.closedByNode { peer.send(.peerRequest(PeerRequest(requestID: UInt64(n)))) }
        h.handle(.closed(peer.id, reason: "closed"))
        return peer
    }

    func testKeyChurningFlooderIsBannedByAddressOnItsFourthKey() {
        let h = NodeHarness(config: NodeHarness.config { $0.syncInterval = .hours(10) })
        let address = BanSubject.address(flooderIP)
        // An honest peer elsewhere tells us about three records first: they must survive.
        let honest = RawPeer.connect(to: h, identity: RawPeer.key(900), ip: "13.0.0.1", port: 40000)
        honest.handshake()
        honest.service()
        honest.send(.peerAnnouncement(PeerAnnouncement(records: records(0..<3, h))))
        var relayed: [PublicKey] = []
        // Keys 1–3: each is cut off at 50 points with RATE_LIMITED (10 excess requests, 3 points
        // each to the address: 30, 60, 90), never banned.
        for k in 1...3 {
            relayed += recordKeys(k * 5..<k * 5 + 5)
            let peer = floodOnce(h, key: k, records: records(k * 5..<k * 5 + 5, h))
            XCTAssertEqual(peer.frames("peer_response").count, 3, "key \(k)")
            XCTAssertEqual(peer.errors.filter(\.closing).map(\.code), [.rateLimited], "key \(k)")
            XCTAssertEqual(h.node.misbehaviourScore(of: address), 30 * k)
            XCTAssertFalse(h.node.isBanned(address))
        }
        // Announced unsolicited, the flooders' new keys stop once source group 12.0 is the
        // source of 8 entries (PROTOCOL.md §16.3, `minEntriesPerSource`): key 1's own record
        // and its 5, then 2 of key 2's (whose own record is not in the book).
        XCTAssertEqual(relayed.filter { h.node.entry(for: $0) != nil }.count, 7, "the flooders' records were stored up to the source share")
        XCTAssertEqual(h.node.metrics.rejections["source-share"], 8)
        // Key 4: the 4th excess request takes the address to 102: banned, and this connection
        // is closed with BANNED although its key has only 20 points.
        relayed += recordKeys(20..<25)
        let fourth = floodOnce(h, key: 4, records: records(20..<25, h))
        XCTAssertEqual(fourth.errors.filter { !$0.closing }.map(\.code), [ErrorCode](repeating: .rateLimited, count: 4))
        XCTAssertEqual(fourth.errors.filter(\.closing).map(\.code), [.banned])
        XCTAssertEqual(h.scores(of: .key(fourth.publicKey)), [5, 10, 15, 20])
        XCTAssertTrue(h.node.isBanned(address))
        XCTAssertFalse(h.node.isBanned(.key(fourth.publicKey)))
        XCTAssertEqual(h.persisted.compactMap { if case let .ban(e) = $0 { e } else { nil } },
                       [BanEntry(subject: address, until: h.now + .hours(24), reason: "rate-limited")])
        // The records the flooders relayed (source group 12.0) are gone, with their keys'
        // own records; the honest peer's are kept, and it stays connected.
        XCTAssertEqual(relayed.count, 20)
        for key in relayed { XCTAssertNil(h.node.entry(for: key), "relayed record kept") }
        for k in 1...4 { XCTAssertNil(h.node.entry(for: RawPeer.key(k).publicKey)) }
        for key in recordKeys(0..<3) { XCTAssertNotNil(h.node.entry(for: key), "honest relay dropped") }
        XCTAssertNotNil(h.node.entry(for: honest.publicKey))
        XCTAssertFalse(honest.closedByNode)
        XCTAssertTrue(h.persisted.contains(.removePeer(relayed[0])))
        // Key 5 is refused at accept, before any handshake.
        let fifth = RawPeer.connect(to: h, identity: RawPeer.key(5), port: 50005)
        XCTAssertEqual(fifth.received.map(\.kind), ["error"])
        XCTAssertEqual(fifth.errors.first?.code, .banned)
        XCTAssertTrue(fifth.closedByNode)
    }

    func testHonestPeersBehindOneAddressAreNotBannedByGlitches() {
        let h = NodeHarness(config: NodeHarness.config {
            $0.syncInterval = .hours(10)
            $0.maxConnectionsPerIP = 16
        })
        let address = BanSubject.address(flooderIP)
        // Eight honest peers behind one NAT, each relaying one expired record (invalid-record:
        // 10 points to its key, 5 to the address).
        var peers: [RawPeer] = []
        for k in 1...8 {
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(k), port: 50000 + k)
            peer.handshake()
            peer.service()
            let expired = RawPeer.record(RawPeer.key(600 + k), seq: 3, addresses: ["/ip4/42.0.0.\(k)/tcp/4001"],
                                         expiresAt: h.now.unixSeconds, crypto: h.crypto)
            peer.send(.peerAnnouncement(PeerAnnouncement(records: [expired])))
            XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [10])
            peers.append(peer)
        }
        XCTAssertEqual(h.node.misbehaviourScore(of: address), 40)
        XCTAssertFalse(h.node.isBanned(address))
        XCTAssertTrue(peers.allSatisfy { !$0.closedByNode })
        // An hour later the address's score has halved: glitches do not add up over a day.
        h.servicedPeers = peers
        h.advance(by: .hours(1))
        XCTAssertEqual(h.node.misbehaviourScore(of: address), 20)
        // A ninth peer behind the same NAT is welcome.
        let ninth = RawPeer.connect(to: h, identity: RawPeer.key(9), port: 50009)
        ninth.handshake()
        XCTAssertTrue(ninth.errors.isEmpty)
        XCTAssertEqual(h.node.connectionCount(.inbound), 9)
    }

    func testADishonestPeerBehindANatDoesNotDisconnectTheHonestOnes() {
        let h = NodeHarness(config: NodeHarness.config { $0.syncInterval = .hours(10) })
        let address = BanSubject.address(flooderIP)
        let honest = RawPeer.connect(to: h, identity: RawPeer.key(1), port: 50001)
        honest.handshake()
        honest.service()
        // Two dishonest keys behind the same address send garbage: 100 points each (key banned),
        // 50 each to the address: banned with the second.
        for k in 2...3 {
            let bad = RawPeer.connect(to: h, identity: RawPeer.key(k), port: 50000 + k)
            bad.handshake()
            bad.sendBytes([0x05, 0xff, 0xff, 0xff, 0xff, 0xff])
            XCTAssertTrue(bad.closedByNode)
            XCTAssertTrue(h.node.isBanned(.key(bad.publicKey)))
            XCTAssertEqual(h.node.isBanned(address), k == 3)
        }
        // The honest peer keeps its connection and its record (it answers for itself).
        XCTAssertFalse(honest.closedByNode)
        XCTAssertNotNil(h.node.entry(for: honest.publicKey))
        XCTAssertTrue(h.node.readyPeers.contains(honest.publicKey))
    }

    func testRosterModeChargesOnlyTheMember() {
        let member = RawPeer.key(1)
        let h = NodeHarness(config: NodeHarness.config {
            $0.syncInterval = .hours(10)
            $0.roster = [member.publicKey, try! KeyPair(seed: [UInt8](repeating: 0x11, count: 32)).publicKey]
        })
        let peer = floodOnce(h, key: 1)
        XCTAssertEqual(peer.errors.filter(\.closing).map(\.code), [.rateLimited])
        XCTAssertEqual(h.node.misbehaviourScore(of: .key(member.publicKey)), 50)
        XCTAssertEqual(h.node.misbehaviourScore(of: .address(flooderIP)), 0, "roster mode: the address is not charged")
    }

    func testLabModeNeverBansLoopbackForKeyChurn() {
        let h = NodeHarness(config: NodeHarness.config {
            $0.syncInterval = .hours(10)
            $0.labMode = true
        })
        let loopback = BanSubject.address(IPAddress("127.0.0.1")!)
        for k in 1...6 {
            let peer = floodOnce(h, key: k, ip: "127.0.0.1")
            XCTAssertEqual(peer.frames("peer_response").count, 3, "key \(k)")
            XCTAssertEqual(peer.errors.filter(\.closing).map(\.code), [.rateLimited], "key \(k)")
        }
        XCTAssertFalse(h.node.isBanned(loopback))
        let next = RawPeer.connect(to: h, identity: RawPeer.key(7), ip: "127.0.0.1", port: 50007)
        next.handshake()
        XCTAssertTrue(next.errors.isEmpty)
    }
}
