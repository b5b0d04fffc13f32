import PexCore
import PexSim
import PexWire
import XCTest

/// Federation roster mode: outsiders are refused at the handshake, only members' records are
/// stored and relayed, and an outsider's record relayed by a member is dropped before any
/// signature work.
final class RosterScenarioTests: XCTestCase {
    let memberA = RawPeer.key(1), memberB = RawPeer.key(2), memberC = RawPeer.key(3), outsider = RawPeer.key(9)

    func harness() -> NodeHarness {
        let roster: Set<PublicKey> = [memberA.publicKey, memberB.publicKey, memberC.publicKey,
                                      try! KeyPair(seed: [UInt8](repeating: 0x11, count: 32)).publicKey]
        return NodeHarness(config: NodeHarness.config { $0.roster = roster })
    }

    func testOutsiderIsRefusedAtHandshakeWithNotAMember() {
        let h = harness()
        let peer = RawPeer.connect(to: h, identity: outsider)
        peer.sendHello()
        // The node's Hello, then NOT_A_MEMBER: no Auth, never ready, nothing stored, no points
        // (an outsider is not misbehaving, it is just not invited).
        XCTAssertEqual(peer.received.map(\.kind), ["hello", "error"])
        XCTAssertEqual(peer.errors.first?.code, .notAMember)
        XCTAssertEqual(peer.errors.first?.closing, true)
        XCTAssertTrue(peer.closedByNode)
        XCTAssertTrue(h.node.knownRecords.isEmpty)
        XCTAssertEqual(h.scores(of: .key(outsider.publicKey)), [])
        XCTAssertEqual(h.scores(of: .address(IPAddress("12.0.0.1")!)), [])
        XCTAssertEqual(h.node.metrics.rejections["not-a-member"], 1)
    }

    func testOnlyMembersRecordsAreStoredAndRelayed() {
        let h = harness()
        let a = RawPeer.connect(to: h, identity: memberA, ip: "12.0.0.1")
        a.handshake()
        a.service()
        let b = RawPeer.connect(to: h, identity: memberB, ip: "13.0.0.1")
        b.handshake()
        b.service()
        let framesAtB = b.received.count
        let members = RawPeer.record(memberC, seq: 4, addresses: ["/ip4/14.0.0.1/tcp/4001"],
                                     expiresAt: h.now.unixSeconds + 3600, crypto: h.crypto)
        a.send(.peerAnnouncement(PeerAnnouncement(records: [members])))
        // Stored, and relayed to the other member (never back to A).
        b.pump()
        XCTAssertEqual(h.node.entry(for: memberC.publicKey)?.record.signed, members)
        XCTAssertEqual(Array(b.received[framesAtB...]), [.peerAnnouncement(PeerAnnouncement(records: [members]))])
        XCTAssertFalse(a.received.contains(.peerAnnouncement(PeerAnnouncement(records: [members]))))

        // An outsider's record, with a signature that would not even verify: the roster check
        // comes first, so the rejection is not-a-member (not bad-signature) and no signature
        // was checked for it.
        var outsiders = RawPeer.record(outsider, seq: 4, addresses: ["/ip4/15.0.0.1/tcp/4001"],
                                       expiresAt: h.now.unixSeconds + 3600, crypto: h.crypto)
        outsiders.signature = [UInt8](repeating: 0, count: 64)
        a.send(.peerAnnouncement(PeerAnnouncement(records: [outsiders])))
        XCTAssertNil(h.node.entry(for: outsider.publicKey))
        XCTAssertEqual(h.node.metrics.rejections["not-a-member"], 1)
        XCTAssertNil(h.node.metrics.rejections["bad-signature"])
        XCTAssertTrue(h.events.contains(.recordRejected(reason: "not-a-member", from: memberA.publicKey)))
        // Nothing more reached B; the relaying member is scored for it (20 points).
        b.pump()
        XCTAssertEqual(b.received.count, framesAtB + 1)
        XCTAssertEqual(h.scores(of: .key(memberA.publicKey)), [20])
        XCTAssertEqual(Set(h.node.knownRecords.map(\.publicKey)), [memberA.publicKey, memberB.publicKey, memberC.publicKey])
    }

    /// Six members and two outsiders that bootstrap from member 0 and from each other.
    func testMembersFormTheirOwnNetwork() {
        let sim = Scenario.make(count: 8, seed: 5, bootstrap: [0, 6], crypto: InsecureFakeCrypto())
        let members = Set((0..<6).map { sim.hosts[$0].identity.publicKey })
        for i in 0..<8 {
            sim.start(i)
            if i < 6 {
                var config = sim.hosts[i].config
                config.roster = members
                sim.command(i, .reload(config))
            }
        }
        sim.run(for: .minutes(3))
        XCTAssertTrue(Scenario.allKnowAll(sim, among: Array(0..<6)))
        for i in 0..<6 {
            let node = sim.hosts[i].node!
            XCTAssertEqual(Set(node.knownRecords.map(\.publicKey)), members.subtracting([sim.hosts[i].identity.publicKey]), "host \(i)")
            XCTAssertTrue(Set(node.readyPeers).isSubset(of: members), "host \(i)")
        }
        // The outsiders found each other but no member.
        for i in 6..<8 {
            let node = sim.hosts[i].node!
            XCTAssertTrue(Set(node.readyPeers).isDisjoint(with: members), "host \(i)")
            XCTAssertEqual(Set(node.readyPeers), [sim.hosts[i == 6 ? 7 : 6].identity.publicKey])
        }
        XCTAssertGreaterThan(sim.hosts[0].node!.metrics.rejections["not-a-member", default: 0], 0)
        Scenario.assertInvariants(sim)
    }
}
