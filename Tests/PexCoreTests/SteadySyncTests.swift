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
        other.pump()
        XCTAssertEqual(other.frames("peer_announcement").flatMap { frame -> [SignedPeerRecord] in
            if case let .peerAnnouncement(a) = frame { a.records } else { [] }
        }.contains(relayed), true)

        func response(to requester: RawPeer, id: UInt64, maxPeers: UInt32 = 0) -> PeerResponse? {
            requester.send(.peerRequest(PeerRequest(requestID: id, maxPeers: maxPeers)))
            for frame in requester.frames("peer_response") {
                if case let .peerResponse(r) = frame, r.requestID == id { return r }
            }
            return nil
        }
        func records(answering requester: RawPeer, id: UInt64) -> [SignedPeerRecord]? {
            response(to: requester, id: id)?.records
        }
        // The node holds three records: the two peers' own and the relayed one. The peer that
        // announced the relayed record gets only the other peer's; that one got the announcer's
        // record by relay when the announcer connected, and the relayed record: nothing left.
        let toPeer = records(answering: peer, id: 900)
        XCTAssertEqual(toPeer, [other.record])
        XCTAssertEqual(records(answering: other, id: 901), [])
        // One record per page: every page is passed over, and the answer goes on to the end of
        // the log rather than sending `more` with nothing in it.
        let paged = response(to: other, id: 903, maxPeers: 1)
        XCTAssertEqual(paged?.records, [])
        XCTAssertEqual(paged?.more, false)
        XCTAssertEqual(paged?.next?.position, 3)

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

    /// The ends of a quiet link take turns: after our Ping is answered we wait 1.5 intervals,
    /// so the peer's Ping (due one interval after ours) comes first and ours never crosses it.
    /// If the peer does not ping, we still ping in time, and a silent link still times out.
    func testEndsTakeTurnsAndSilenceStillTimesOut() {
        // No periodic sync in the way: only keepalive traffic on the link.
        let h = NodeHarness(config: NodeHarness.config { $0.syncInterval = .hours(1) })
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake(capabilities: [.deltaSync])
        peer.service()
        func pings() -> [UInt64] {
            peer.pump()
            return peer.frames("ping").compactMap { if case let .ping(p) = $0 { p.nonce } else { nil } }
        }
        // Ordinary traffic last: the usual 15 s.
        h.advance(by: .milliseconds(14_999))
        XCTAssertEqual(pings().count, 0)
        h.advance(by: .milliseconds(1))
        XCTAssertEqual(pings().count, 1)
        peer.send(.pong(Pong(nonce: pings()[0])))

        // Our Ping was answered: not at 15 s (the peer's turn), but at 22.5 s.
        var answeredAt = h.now
        h.advance(by: .seconds(15))
        XCTAssertEqual(pings().count, 1, "pinged again although it was the peer's turn")
        h.advance(by: .milliseconds(7_500))
        XCTAssertEqual(pings().count, 2)
        peer.send(.pong(Pong(nonce: pings()[1])))
        answeredAt = h.now

        // The peer takes its turn 15 s later; we answer, and our turn is 15 s after that.
        h.advance(by: .seconds(15))
        peer.send(.ping(Ping(nonce: 77)))
        XCTAssertTrue(peer.frames("pong").contains { if case let .pong(p) = $0 { p.nonce == 77 } else { false } })
        h.advance(by: .milliseconds(14_999))
        XCTAssertEqual(pings().count, 2)
        h.advance(by: .milliseconds(1))
        XCTAssertEqual(pings().count, 3)

        // Unanswered: closed with TIMEOUT 45 s after the last bytes received, not before.
        answeredAt = h.now - .seconds(15)
        h.advance(by: TimeSpan(nanoseconds: 45_000_000_000 - (h.now - answeredAt).nanoseconds - 1_000_000))
        peer.pump()
        XCTAssertFalse(peer.closedByNode)
        h.advance(by: .milliseconds(1))
        peer.pump()
        XCTAssertTrue(peer.closedByNode)
        XCTAssertEqual(peer.errors.last?.code, .timeout)
    }
}
