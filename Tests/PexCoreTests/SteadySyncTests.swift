import PexCore
import PexWire
import XCTest

/// What a node sends on a link that has nothing new to carry: no record the peer already holds,
/// and one end's keepalive, not both.
final class SteadySyncTests: XCTestCase {
    /// Records the peer sent us, or that we sent it, are left out of our answers to it; the
    /// rest still goes.
    func testAnswerLeavesOutRecordsThePeerHolds() {
        let h = NodeHarness(config: NodeHarness.config())
        let other = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        other.handshake(capabilities: [.deltaSync])
        other.service()
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: "12.0.0.1")
        peer.handshake(capabilities: [.deltaSync])
        peer.service()
        let subject = RawPeer.key(500)
        let relayed = RawPeer.record(subject, seq: 10, addresses: ["/ip4/40.0.0.1/tcp/4001"],
                                     expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [relayed])))
        XCTAssertEqual(h.node.metrics.recordsAccepted, 1)
        // Relayed to the only other peer, which now holds it too.
        XCTAssertEqual(other.frames("peer_announcement").flatMap { frame -> [SignedPeerRecord] in
            if case let .peerAnnouncement(a) = frame { a.records } else { [] }
        }.contains(relayed), true)

        func records(answering requester: RawPeer, id: UInt64) -> [SignedPeerRecord]? {
            requester.send(.peerRequest(PeerRequest(requestID: id, maxPeers: 0)))
            for frame in requester.frames("peer_response") {
                if case let .peerResponse(r) = frame, r.requestID == id { return r.records }
            }
            return nil
        }
        // The node holds three records: the two peers' own and the relayed one. The peer that
        // announced the relayed record gets only the other peer's; that one got the announcer's
        // record by relay when the announcer connected, and the relayed record: nothing left.
        let toPeer = records(answering: peer, id: 900)
        XCTAssertEqual(toPeer, [other.record])
        XCTAssertEqual(records(answering: other, id: 901), [])

        // A newer record of a key the peer holds is news again.
        let newer = RawPeer.record(subject, seq: 11, addresses: ["/ip4/40.0.0.2/tcp/4001"],
                                   expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        let third = RawPeer.connect(to: h, identity: RawPeer.key(3), ip: "14.0.0.1")
        third.handshake(capabilities: [.deltaSync])
        third.service()
        third.send(.peerUpdate(PeerUpdate(records: [newer])))
        XCTAssertEqual(h.node.entry(for: subject.publicKey)?.record.signed, newer)
        h.advance(by: .seconds(11))  // request tokens refill
        let again = records(answering: peer, id: 902) ?? []
        XCTAssertTrue(again.contains(newer) || peer.frames("peer_update").contains { frame in
            if case let .peerUpdate(u) = frame { u.records.contains(newer) } else { false }
        }, "the newer record reaches the peer by relay or in the answer")
        XCTAssertFalse(again.contains(relayed))
    }

    /// While the peer pings us, we answer and do not ping back; when it stops, we ping half an
    /// interval later than usual, and the idle timeout still closes a silent link at 45 s.
    func testOnlyOneEndPingsAndSilenceStillTimesOut() {
        // No periodic sync in the way: only keepalive traffic on the link.
        let h = NodeHarness(config: NodeHarness.config { $0.syncInterval = .hours(1) })
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake(capabilities: [.deltaSync])
        peer.service()
        var nonce: UInt64 = 1
        for _ in 0..<6 {
            // 16 s: past our own 15 s keepalive, so without the rule we would ping every time.
            h.advance(by: .seconds(16))
            peer.send(.ping(Ping(nonce: nonce)))
            XCTAssertTrue(peer.frames("pong").contains { if case let .pong(p) = $0 { p.nonce == nonce } else { false } })
            nonce += 1
        }
        XCTAssertEqual(peer.frames("ping").count, 0, "the node pinged although the peer keeps the link alive")

        // The peer falls silent right after its Ping: no Ping from us at 15 s, one at 22.5 s.
        let silentSince = h.now
        h.advance(by: .seconds(15))
        XCTAssertEqual(peer.frames("ping").count, 0)
        h.advance(by: .milliseconds(7_500))
        XCTAssertEqual(peer.frames("ping").count, 1)
        XCTAssertFalse(peer.closedByNode)
        // Unanswered: closed with TIMEOUT at the idle timeout, not before.
        h.advance(by: TimeSpan(nanoseconds: 45_000_000_000 - (h.now - silentSince).nanoseconds - 1_000_000))
        XCTAssertFalse(peer.closedByNode)
        h.advance(by: .milliseconds(1))
        XCTAssertTrue(peer.closedByNode)
        XCTAssertEqual(peer.errors.last?.code, .timeout)
    }

    /// A link where we received other traffic (not a Ping) keeps the usual 15 s keepalive.
    func testOrdinaryTrafficKeepsTheUsualPingInterval() {
        let h = NodeHarness(config: NodeHarness.config { $0.syncInterval = .hours(1) })
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake(capabilities: [.deltaSync])
        peer.service()
        let start = h.now
        h.advance(by: .milliseconds(14_999))
        XCTAssertEqual(peer.frames("ping").count, 0)
        h.advance(by: TimeSpan(nanoseconds: 15_000_000_000 - (h.now - start).nanoseconds))
        XCTAssertEqual(peer.frames("ping").count, 1)
    }
}
