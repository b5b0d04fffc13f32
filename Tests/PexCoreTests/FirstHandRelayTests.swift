import PexCore
import PexWire
import XCTest

/// A peer's own record that finds its new-table slot taken is still relayed (§18.2); a record
/// relayed by someone else that finds its slot taken is not.
final class FirstHandRelayTests: XCTestCase {
    /// One new-table slot, first-come: the first key stored takes it and every other collides.
    func config() -> NodeConfig {
        NodeHarness.config {
            $0.bootstrapPeers = [try! Multiaddr("/ip4/20.0.0.1/tcp/4001")]
            $0.addressBook.newBucketCount = 1
            $0.addressBook.triedBucketCount = 1
            $0.addressBook.bucketSize = 1
            $0.addressBook.keyedNewSlots = false
            $0.addressBook.maxGroupShare = 1
            $0.addressBook.maxSourceShare = 1
        }
    }

    func announced(to peer: RawPeer) -> [SignedPeerRecord] {
        peer.pump()
        return peer.frames("peer_announcement").flatMap { frame -> [SignedPeerRecord] in
            if case let .peerAnnouncement(a) = frame { a.records } else { [] }
        }
    }

    func testOwnRecordDroppedForATakenSlotIsRelayedOnce() {
        let h = NodeHarness(config: config(), crypto: InsecureFakeCrypto())
        let listener = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        listener.handshake()
        XCTAssertNotNil(h.node.entry(for: listener.publicKey), "the first key takes the only slot")
        let baseline = announced(to: listener)  // the node's own record

        let joiner = RawPeer.connect(to: h, identity: RawPeer.key(3), ip: "14.0.0.1")
        joiner.handshake()
        XCTAssertNil(h.node.entry(for: joiner.publicKey), "its slot is taken: not stored")
        XCTAssertEqual(h.node.metrics.recordsNotStored, 1)
        XCTAssertEqual(announced(to: listener), baseline + [joiner.record], "but relayed to the other ready peer")

        // The same record again on a new connection: relayed once per (key, seq) only.
        joiner.send(.peerAnnouncement(PeerAnnouncement(records: [joiner.record])))
        XCTAssertEqual(announced(to: listener), baseline + [joiner.record])
    }

    func testSomeoneElsesRecordDroppedForATakenSlotIsNotRelayed() {
        let h = NodeHarness(config: config(), crypto: InsecureFakeCrypto())
        let informant = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        informant.handshake()
        let listener = RawPeer.connect(to: h, identity: RawPeer.key(3), ip: "14.0.0.1")
        listener.handshake()
        let baseline = announced(to: listener)
        let other = RawPeer.record(RawPeer.key(1000), seq: 1, addresses: ["/ip4/30.1.0.1/tcp/4001"],
                                   expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        informant.send(.peerAnnouncement(PeerAnnouncement(records: [other])))
        XCTAssertNil(h.node.entry(for: RawPeer.key(1000).publicKey), "its slot is taken: not stored")
        XCTAssertEqual(announced(to: listener), baseline, "a second-hand record that was dropped goes no further")
        XCTAssertEqual(h.node.metrics.recordsAccepted, 1, "the record passed validation; only the book dropped it")
        XCTAssertEqual(h.node.metrics.recordsNotStored, 2, "counted as not stored, with the listener's Hello record (the informant holds the only slot)")
    }
}

/// A node in maintenance with one ready connection and nothing left to dial goes back to its
/// bootstrap sources, at most once per `feelerInterval` and never to a peer it is connected to
/// (§15.2).
final class TopUpFetchTests: XCTestCase {
    let bootstraps = ["/ip4/20.0.0.1/tcp/4001", "/ip4/20.1.0.1/tcp/4001"]

    func testExhaustedBookWithOnePeerDialsAnotherBootstrapPeer() throws {
        let config = NodeHarness.config { $0.bootstrapPeers = self.bootstraps.map { try! Multiaddr($0) } }
        let h = NodeHarness(config: config, crypto: InsecureFakeCrypto())
        let first = try XCTUnwrap(RawPeer.answerFirstDial(of: h))
        let firstAddress = try XCTUnwrap(h.dials.first?.2)
        // The peer has not answered the node's request: the node is still in its initial sync,
        // where the book is empty because nobody answered yet, not because it ran dry.
        h.advance(by: .seconds(3))
        XCTAssertEqual(h.node.state, .initialSync)
        XCTAssertEqual(h.dials.count, 1)

        h.servicedPeers = [first]
        h.advance(by: .seconds(2))
        XCTAssertEqual(h.node.state, .maintenance)
        let topUps = h.dials.dropFirst()
        XCTAssertEqual(topUps.count, 1, "one more bootstrap dial")
        let other = try XCTUnwrap(topUps.first)
        XCTAssertNotEqual(other.2, firstAddress, "not the bootstrap peer it is connected to")
        XCTAssertTrue(bootstraps.contains(other.2.description))

        // That peer is down: no other dial until a feeler interval has passed.
        h.handle(.dialFailed(other.1, reason: "connection refused"))
        h.advance(by: TimeSpan(nanoseconds: config.feelerInterval.nanoseconds - 5_000_000_000))
        let bootstrapDials = { h.dials.dropFirst(2).filter { self.bootstraps.contains($0.2.description) }.count }
        XCTAssertEqual(bootstrapDials(), 0, "no bootstrap dial within the feeler interval")
        h.advance(by: .seconds(10))
        XCTAssertEqual(bootstrapDials(), 1, "tried again once the interval has passed")
        XCTAssertEqual(h.dials.last?.2, other.2)
    }
}
