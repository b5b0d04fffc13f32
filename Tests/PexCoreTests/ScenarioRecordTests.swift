import PexCore
import PexSim
import PexWire
import XCTest

/// Duplicate, invalid, stale, replayed and equivocating records relayed by a raw peer.
final class RecordScenarioTests: XCTestCase {
    let subject = RawPeer.key(500)

    func record(_ h: NodeHarness, seq: UInt64, address: String = "/ip4/40.0.0.1/tcp/4001", network: String = Scenario.network,
                expiresIn: UInt64 = 86_400) -> SignedPeerRecord {
        RawPeer.record(subject, seq: seq, addresses: [address], network: network, expiresAt: h.now.unixSeconds + expiresIn,
                       crypto: h.crypto)
    }

    func ready(_ configure: (inout NodeConfig) -> Void = { _ in }) -> (NodeHarness, RawPeer) {
        let h = NodeHarness(config: NodeHarness.config(configure))
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake()
        peer.service()
        return (h, peer)
    }

    func testDuplicateStaleAndReplayedRecords() {
        let (h, peer) = ready()
        let v10 = record(h, seq: 10)
        let v20 = record(h, seq: 20, address: "/ip4/40.0.0.2/tcp/4001")
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [v10])))
        XCTAssertEqual(h.node.metrics.recordsAccepted, 1)
        XCTAssertEqual(h.node.entry(for: subject.publicKey)?.record.seq, 10)
        // The same bytes again: a duplicate, no event, no points.
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [v10])))
        XCTAssertEqual(h.node.metrics.recordsDuplicate, 1)
        XCTAssertEqual(h.node.metrics.recordsAccepted, 1)
        // A newer seq replaces it and is reported as an update.
        peer.send(.peerUpdate(PeerUpdate(records: [v20])))
        XCTAssertEqual(h.node.entry(for: subject.publicKey)?.record.signed, v20)
        XCTAssertTrue(h.events.contains(.peerUpdated(subject.publicKey, seq: 20, addresses: [try! Multiaddr("/ip4/40.0.0.2/tcp/4001")])))
        // The old seq replayed after the newer one: dropped, never replaces, counted as stale,
        // and free (honest relays race): score 0, the connection stays.
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [v10])))
        peer.send(.peerUpdate(PeerUpdate(records: [v10])))
        XCTAssertEqual(h.node.metrics.recordsStale, 2)
        XCTAssertEqual(h.node.entry(for: subject.publicKey)?.record.signed, v20)
        XCTAssertEqual(h.node.metrics.recordsAccepted, 2)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [0, 0])
        XCTAssertFalse(peer.closedByNode)
        XCTAssertEqual(h.events.filter { if case .peerDiscovered(subject.publicKey, _, _) = $0 { true } else { false } }.count, 1)
    }

    func testInvalidRecordsAreDroppedOneByOneAndScored() {
        let (h, peer) = ready()
        let good = record(h, seq: 10)
        let other = RawPeer.record(RawPeer.key(501), seq: 3, addresses: ["/ip4/41.0.0.1/tcp/4001"],
                                   expiresAt: h.now.unixSeconds + 3600, crypto: h.crypto)
        // Expired one second ago.
        let expired = RawPeer.record(RawPeer.key(502), seq: 3, addresses: ["/ip4/42.0.0.1/tcp/4001"],
                                     expiresAt: h.now.unixSeconds, crypto: h.crypto)
        // An invalid record between two valid ones spoils nothing else (PROTOCOL.md §11.2).
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [good, expired, other])))
        XCTAssertEqual(h.node.metrics.recordsAccepted, 2)
        XCTAssertEqual(h.node.metrics.rejections["expired"], 1)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [10])
        // Another network: invalid-record, 10 more.
        let foreign = RawPeer.record(RawPeer.key(503), seq: 3, addresses: ["/ip4/43.0.0.1/tcp/4001"], network: "other-net",
                                     expiresAt: h.now.unixSeconds + 3600, crypto: h.crypto)
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [foreign])))
        XCTAssertEqual(h.node.metrics.rejections["wrong-network"], 1)
        // A private address outside lab mode: unroutable, 10 more.
        let private10 = RawPeer.record(RawPeer.key(504), seq: 3, addresses: ["/ip4/10.1.2.3/tcp/4001"],
                                       expiresAt: h.now.unixSeconds + 3600, crypto: h.crypto)
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [private10])))
        XCTAssertEqual(h.node.metrics.rejections["unroutable-address"], 1)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [10, 20, 30])
        XCTAssertFalse(peer.closedByNode)
        // A forged signature: 50 points, total 80 ≥ 50 disconnects with INVALID_RECORD; no ban.
        var forged = RawPeer.record(RawPeer.key(505), seq: 3, addresses: ["/ip4/44.0.0.1/tcp/4001"],
                                    expiresAt: h.now.unixSeconds + 3600, crypto: h.crypto)
        forged.signature[0] ^= 1
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [forged])))
        XCTAssertEqual(h.node.metrics.rejections["bad-signature"], 1)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [10, 20, 30, 80])
        XCTAssertEqual(peer.errors.map(\.code), [.invalidRecord])
        XCTAssertTrue(peer.closedByNode)
        XCTAssertFalse(h.node.isBanned(.key(peer.publicKey)))
        XCTAssertEqual(Set(h.node.knownRecords.map(\.publicKey)),
                       [peer.publicKey, subject.publicKey, RawPeer.key(501).publicKey])
    }

    func testEquivocationBansTheSignerAndPersistsTheEvidence() {
        let (h, peer) = ready()
        let a = record(h, seq: 30, address: "/ip4/40.0.0.1/tcp/4001")
        let b = record(h, seq: 30, address: "/ip4/40.0.0.9/tcp/4001")
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [a])))
        XCTAssertEqual(h.node.entry(for: subject.publicKey)?.record.signed, a)
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [b])))
        let key = subject.publicKey
        XCTAssertTrue(h.persisted.contains(.equivocation(key, [a, b])))
        XCTAssertTrue(h.events.contains(.equivocation(key, seq: 30)))
        XCTAssertTrue(h.node.isBanned(.key(key)))
        XCTAssertNil(h.node.entry(for: key), "the equivocator's record is dropped")
        XCTAssertTrue(h.persisted.contains(.removePeer(key)))
        // The relay did nothing wrong: no points, still connected.
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [])
        XCTAssertFalse(peer.closedByNode)
        // The equivocator itself cannot connect while banned.
        let liar = RawPeer.connect(to: h, identity: subject, record: a, port: 50001)
        liar.sendHello()
        XCTAssertEqual(liar.errors.map(\.code), [.banned])
    }

    /// Two hosts share one key (a cloned identity) and start at the same instant, so both sign
    /// seq = that Unix second with different addresses. Every node that sees both records bans
    /// the key and drops its record.
    func testClonedKeyIsBannedWhereverBothRecordsMeet() {
        let sim = Scenario.make(count: 10, seed: 3, crypto: InsecureFakeCrypto())
        let cloneSeed = [UInt8](repeating: 0x42, count: 32)
        let a = sim.addHost(seed: cloneSeed) { $0.bootstrapPeers = [SimNetwork.address(SimNetwork.ip(for: 0), 4001)] }
        let b = sim.addHost(seed: cloneSeed) { $0.bootstrapPeers = [SimNetwork.address(SimNetwork.ip(for: 0), 4001)] }
        let key = sim.hosts[a].identity.publicKey
        for i in 0..<10 { sim.start(i) }
        sim.run(for: .seconds(20))
        sim.start(a)
        sim.start(b)
        XCTAssertEqual(sim.hosts[a].node?.ownSeq, sim.hosts[b].node?.ownSeq)
        sim.run(for: .minutes(2))
        let honest = Array(0..<10)
        let detectors = honest.filter { i in sim.hosts[i].events.contains { if case .equivocation(key, _) = $0.1 { true } else { false } } }
        print("cloned key detected by \(detectors.count) of 10 nodes")
        XCTAssertGreaterThanOrEqual(detectors.count, 1)
        for i in detectors {
            let node = sim.hosts[i].node!
            XCTAssertTrue(node.isBanned(.key(key)), "host \(i)")
            XCTAssertFalse(node.readyPeers.contains(key), "host \(i)")
        }
        // Honest nodes still know each other.
        XCTAssertTrue(Scenario.allKnowAll(sim, among: honest))
        Scenario.assertInvariants(sim)
    }
}
