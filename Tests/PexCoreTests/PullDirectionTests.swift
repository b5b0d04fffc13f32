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
        guard let boot = RawPeer.answerFirstDial(of: h) else { return (h, RawPeer.connect(to: h, identity: RawPeer.key(50))) }
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

extension PullDirectionTests {
    /// An inbound peer the node holds a delta cursor for is asked once, from that cursor: the
    /// answer costs only what changed since, and it is what lets the halves of a healed
    /// partition catch up on the side that gets no new outbound connection.
    func testInboundPeerWithACursorIsAskedOnceForTheDelta() {
        let h = NodeHarness(config: NodeHarness.config { $0.bootstrapPeers = [self.bootstrap] }, crypto: InsecureFakeCrypto())
        let identity = RawPeer.key(1)
        let first = RawPeer.connect(to: h, identity: identity, ip: "12.0.0.1")
        first.handshake()
        guard case let .peerRequest(request)? = { first.pump(); return first.frames("peer_request").first }() else {
            return XCTFail("no outbound connection yet: the inbound peer is asked")
        }
        let cursor = SyncCursor(epoch: 5, position: 3)
        first.send(.peerResponse(PeerResponse(requestID: request.requestID, records: [], next: cursor, more: false, full: true)))
        h.handle(.closed(first.id, reason: "test"))
        // Now an outbound connection is ready: inbound peers are no longer pulled from...
        guard RawPeer.answerFirstDial(of: h) != nil else { return }
        let stranger = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        stranger.handshake()
        XCTAssertEqual(requests(stranger), 0)
        // ...except the one we hold a cursor for.
        let again = RawPeer.connect(to: h, identity: identity, ip: "12.0.0.1", port: 50001)
        again.handshake()
        again.pump()
        let asked = again.frames("peer_request").compactMap { frame -> PeerRequest? in
            if case let .peerRequest(r) = frame { r } else { nil }
        }
        XCTAssertEqual(asked.map(\.since), [cursor])
    }
}
