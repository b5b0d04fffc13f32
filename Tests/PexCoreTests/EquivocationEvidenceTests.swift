import PexCore
import PexWire
import XCTest

/// A node that finds a key equivocating sends both records to every ready peer, once (§19.2):
/// nodes holding one version learn of the other, although (key, seq) is relayed only once.
final class EquivocationEvidenceTests: XCTestCase {
    func evidence(at peer: RawPeer) -> [[SignedPeerRecord]] {
        peer.pump()
        return peer.frames("peer_update").compactMap { frame in
            if case let .peerUpdate(u) = frame, u.records.count == 2 { u.records } else { nil }
        }
    }

    func testBothVersionsGoToEveryPeerOnce() {
        let h = NodeHarness(config: NodeHarness.config(), crypto: InsecureFakeCrypto())
        let peers = (1...3).map { n -> RawPeer in
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(n), ip: "\(12 + n).0.0.1")
            peer.handshake()
            return peer
        }
        let signer = RawPeer.key(77)
        let expiry = h.now.unixSeconds + 86_400
        let first = RawPeer.record(signer, seq: 9, addresses: ["/ip4/40.0.0.1/tcp/4001"], expiresAt: expiry, crypto: h.crypto)
        let second = RawPeer.record(signer, seq: 9, addresses: ["/ip4/41.0.0.1/tcp/4001"], expiresAt: expiry, crypto: h.crypto)
        let third = RawPeer.record(signer, seq: 9, addresses: ["/ip4/42.0.0.1/tcp/4001"], expiresAt: expiry, crypto: h.crypto)
        peers[0].send(.peerAnnouncement(PeerAnnouncement(records: [first])))
        XCTAssertNotNil(h.node.entry(for: signer.publicKey))
        for peer in peers { XCTAssertEqual(evidence(at: peer), []) }

        peers[1].send(.peerAnnouncement(PeerAnnouncement(records: [second])))
        XCTAssertNil(h.node.entry(for: signer.publicKey), "the signer is removed and banned")
        for peer in peers {
            XCTAssertEqual(evidence(at: peer), [[first, second]], "every peer, the two senders included, gets both versions")
        }
        // A third version is more evidence for the store, but the peers already know.
        peers[2].send(.peerUpdate(PeerUpdate(records: [third])))
        for peer in peers { XCTAssertEqual(evidence(at: peer).count, 1) }
    }

    func testBothVersionsInOneMessageAreDetectedAndNotRelayed() {
        let h = NodeHarness(config: NodeHarness.config(), crypto: InsecureFakeCrypto())
        let sender = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: "13.0.0.1")
        sender.handshake()
        let other = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "14.0.0.1")
        other.handshake()
        let signer = RawPeer.key(77)
        let expiry = h.now.unixSeconds + 86_400
        let first = RawPeer.record(signer, seq: 9, addresses: ["/ip4/40.0.0.1/tcp/4001"], expiresAt: expiry, crypto: h.crypto)
        let second = RawPeer.record(signer, seq: 9, addresses: ["/ip4/41.0.0.1/tcp/4001"], expiresAt: expiry, crypto: h.crypto)
        other.pump()
        let before = other.frames("peer_announcement").count
        sender.send(.peerUpdate(PeerUpdate(records: [first, second])))
        XCTAssertNil(h.node.entry(for: signer.publicKey))
        XCTAssertEqual(evidence(at: other), [[first, second]])
        XCTAssertEqual(other.frames("peer_announcement").count, before, "the first version, stored for a moment, is not relayed")
    }
}
