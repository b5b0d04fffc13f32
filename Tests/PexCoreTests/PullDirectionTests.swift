import PexCore
import PexWire
import XCTest

/// A node pulls lists from the peers it dialled (§17.3); peers that dialled in are asked only
/// while no outbound connection is ready.
final class PullDirectionTests: XCTestCase {
    let bootstrap = try! Multiaddr("/ip4/20.0.0.1/tcp/4001")

    /// A node whose only bootstrap peer answered its dial: one ready outbound connection.
    func withOutbound() -> (NodeHarness, RawPeer) {
        let h = NodeHarness(config: NodeHarness.config { $0.bootstrapPeers = [self.bootstrap] }, crypto: InsecureFakeCrypto())
        h.advance(by: .seconds(1))
        guard let dial = h.dials.first else {
            XCTFail("the node did not dial its bootstrap peer")
            return (h, RawPeer.connect(to: h, identity: RawPeer.key(50)))
        }
        let boot = RawPeer.answer(dial: dial.1, of: h, identity: RawPeer.key(50), ip: "20.0.0.1")
        boot.handshake()
        boot.service()
        return (h, boot)
    }

    func requests(_ peer: RawPeer) -> Int {
        peer.pump()
        return peer.frames("peer_request").count
    }

    func testInboundPeerIsNotAskedWhileAnOutboundOneIsReady() {
        let (h, boot) = withOutbound()
        XCTAssertEqual(requests(boot), 1, "the dialled peer is asked on ready")
        let inbound = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: "12.0.0.1")
        inbound.handshake()
        inbound.pump()
        XCTAssertEqual(inbound.frames("peer_request").count, 0)
        // It still gets our own record at once, and its record is learned from its Hello.
        XCTAssertFalse(inbound.frames("peer_announcement").isEmpty)
        XCTAssertNotNil(h.node.entry(for: RawPeer.key(1).publicKey))
        // It can ask us, and is answered.
        inbound.send(.peerRequest(PeerRequest(requestID: 7, maxPeers: 0)))
        XCTAssertEqual(inbound.frames("peer_response").count, 1)
    }

    func testPeriodicSyncAsksOnlyOutboundPeers() {
        let (h, boot) = withOutbound()
        let inbound = (1...3).map { n -> RawPeer in
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(n), ip: "\(12 + n).0.0.1")
            peer.handshake()
            return peer
        }
        h.servicedPeers = [boot] + inbound
        // Several sync intervals: never-asked inbound peers would be first in line by age.
        h.advance(by: .minutes(3))
        XCTAssertGreaterThan(requests(boot), 3, "the outbound peer is asked every interval")
        for peer in inbound { XCTAssertEqual(requests(peer), 0) }
    }

    func testNodeWithOnlyInboundPeersAsksThem() {
        let h = NodeHarness(config: NodeHarness.config(), crypto: InsecureFakeCrypto())
        let first = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: "12.0.0.1")
        first.handshake()
        XCTAssertEqual(requests(first), 1, "no outbound connection: the inbound peer is asked on ready")
        let second = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        second.handshake()
        h.servicedPeers = [first, second]
        h.advance(by: .minutes(2))
        XCTAssertGreaterThan(requests(second), 0, "periodic sync falls back to inbound peers")
        XCTAssertGreaterThan(requests(first), 1)
    }
}

extension PullDirectionTests {
    /// An inbound peer whose Hello carries a newer record than the one held is asked once: the
    /// node is behind on its part of the network (§15.4).
    func testInboundPeerShowingUsBehindIsAskedOnce() {
        let (h, _) = withOutbound()
        let identity = RawPeer.key(1)
        let old = RawPeer.record(identity, seq: 5, addresses: ["/ip4/12.0.0.1/tcp/4001"],
                                 expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        let first = RawPeer.connect(to: h, identity: identity, ip: "12.0.0.1", record: old)
        first.handshake()
        XCTAssertEqual(requests(first), 0, "a new key: not asked")
        h.handle(.closed(first.id, reason: "test"))
        let newer = RawPeer.record(identity, seq: 6, addresses: ["/ip4/12.0.0.1/tcp/4001"],
                                   expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        let second = RawPeer.connect(to: h, identity: identity, ip: "12.0.0.1", record: newer)
        second.handshake()
        XCTAssertEqual(requests(second), 1)
    }
}
