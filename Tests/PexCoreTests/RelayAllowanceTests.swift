import PexCore
import PexWire
import XCTest

/// A node never sends a peer more records than the peer's `records` bucket takes (§20.1): it
/// keeps a copy of that bucket per connection, so honest relays are never dropped and charged.
final class RelayAllowanceTests: XCTestCase {
    /// Records bucket of 40 in both nodes, so that a small test overruns it.
    static let burst = 40

    func config() -> NodeConfig {
        NodeHarness.config {
            $0.bootstrapPeers = [try! Multiaddr("/ip4/20.0.0.1/tcp/4001")]
            $0.rateLimits.records = RateLimitConfig.Bucket(ratePerSecond: 0.1, burst: Self.burst, creditLimit: 2000)
        }
    }

    /// `count` records of fresh keys, each in its own /16.
    func fresh(_ count: Int, _ h: NodeHarness) -> [SignedPeerRecord] {
        (0..<count).map { i in
            RawPeer.record(RawPeer.key(1000 + i), seq: 1, addresses: ["/ip4/\(30 + i / 200).\(i % 200).0.1/tcp/4001"],
                           expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        }
    }

    func announced(to peer: RawPeer) -> Int {
        peer.pump()
        return peer.frames("peer_announcement").reduce(0) { sum, frame in
            if case let .peerAnnouncement(a) = frame { sum + a.records.count } else { sum }
        }
    }

    func testRelaysStopAtThePeersAllowanceAndResumeAsItRefills() {
        let h = NodeHarness(config: config(), crypto: InsecureFakeCrypto())
        guard let source = RawPeer.answerFirstDial(of: h) else { return }
        let listener = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        listener.handshake()
        let before = announced(to: listener)  // our own record, 1 token
        XCTAssertEqual(before, 1)
        // The source answers our request with 120 new records: all solicited, all stored, each
        // relayed onward; the listener never asked us for anything, so its bucket holds 40.
        source.pump()
        guard case let .peerRequest(request)? = source.frames("peer_request").first else { return XCTFail("no request") }
        source.send(.peerResponse(PeerResponse(requestID: request.requestID, records: fresh(120, h), next: nil, more: false, full: true)))
        XCTAssertGreaterThan(h.node.metrics.recordsAccepted, 100)
        XCTAssertEqual(announced(to: listener), Self.burst, "relays stop when the listener's bucket is empty")
        // The relays caused by one message go out together: our own record, then one frame.
        XCTAssertEqual(listener.frames("peer_announcement").count, 2)
        // The listener's bucket refills at 0.1 per second: one more relay slot per 10 s.
        // (Announced by a third peer: the source's group has used up its share of new keys.)
        let third = RawPeer.connect(to: h, identity: RawPeer.key(4), ip: "15.0.0.1")
        third.handshake()
        h.servicedPeers = [source, listener, third]
        h.advance(by: .seconds(9))
        third.send(.peerAnnouncement(PeerAnnouncement(records: Array(fresh(122, h).suffix(2)))))
        XCTAssertEqual(announced(to: listener), Self.burst, "less than one token after 9 s")
        h.advance(by: .seconds(1))
        third.send(.peerAnnouncement(PeerAnnouncement(records: Array(fresh(124, h).suffix(2)))))
        XCTAssertEqual(announced(to: listener), Self.burst + 1, "one token after 10 s: one of the two new records")
    }

    func testAnswersFitThePeersAllowanceAndItsRequestCreditsIt() {
        let h = NodeHarness(config: config(), crypto: InsecureFakeCrypto())
        let source = RawPeer.connect(to: h, identity: RawPeer.key(3), ip: "14.0.0.1")
        source.handshake()
        source.service()
        source.send(.peerAnnouncement(PeerAnnouncement(records: fresh(30, h))))
        let listener = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        listener.handshake()
        listener.service()
        // Asking for 10 credits 10: the answer holds at most what the bucket then holds, and
        // the listing goes on by continuation pages, each credited by its own request.
        var received = 0
        var since: SyncCursor?
        for requestID: UInt64 in 1...20 {
            listener.send(.peerRequest(PeerRequest(requestID: 900 + requestID, maxPeers: 10, since: since)))
            listener.pump()
            guard case let .peerResponse(response)? = listener.frames("peer_response").last else { return XCTFail("no answer") }
            XCTAssertLessThanOrEqual(response.records.count, 10)
            received += response.records.count
            since = response.next
            if !response.more { break }
        }
        XCTAssertEqual(received, h.node.knownRecordCount - 1, "every record but the listener's own")
    }
}
