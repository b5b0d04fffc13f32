import PexCore
import PexWire
import XCTest

/// A record that wins a keyed slot of a full new bucket (§16.3) is stored but not relayed
/// (§18.2); records stored in a free slot still are.
final class KeyedSlotRelayTests: XCTestCase {
    /// One new bucket of 4 slots, no group or source share to get in the way.
    func config() -> NodeConfig {
        NodeHarness.config {
            $0.bootstrapPeers = [try! Multiaddr("/ip4/20.0.0.1/tcp/4001")]
            $0.addressBook.newBucketCount = 1
            $0.addressBook.triedBucketCount = 1
            $0.addressBook.bucketSize = 4
            $0.addressBook.maxGroupShare = 1
            $0.addressBook.maxSourceShare = 1
        }
    }

    func testOutrankingRecordsAreStoredButNotRelayed() {
        let h = NodeHarness(config: config(), crypto: InsecureFakeCrypto())
        let source = RawPeer.connect(to: h, identity: RawPeer.key(3), ip: "14.0.0.1")
        source.handshake()
        let listener = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        listener.handshake()
        h.servicedPeers = [source, listener]
        listener.pump()
        let ownAnnouncements = listener.frames("peer_announcement").count
        let records = (0..<60).map { i in
            RawPeer.record(RawPeer.key(1000 + i), seq: 1, addresses: ["/ip4/\(30 + i).1.0.1/tcp/4001"],
                           expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        }
        for record in records {
            source.send(.peerAnnouncement(PeerAnnouncement(records: [record])))
        }
        // A keyed win shows as an `outranked` eviction followed by the winner's discovery.
        let fresh = Set((0..<records.count).map { RawPeer.key(1000 + $0).publicKey })
        var freeSlot = 0, won = 0
        var previous: Event?
        for event in h.events {
            if case let .peerDiscovered(key, _, _) = event, fresh.contains(key) {
                if case let .peerEvicted(_, reason)? = previous, reason == "outranked" { won += 1 } else { freeSlot += 1 }
            }
            previous = event
        }
        XCTAssertGreaterThan(won, 0, "some of 60 keys outrank those in the four slots")
        XCTAssertGreaterThan(freeSlot, 0)
        listener.pump()
        let relayed = listener.frames("peer_announcement").dropFirst(ownAnnouncements).flatMap { frame -> [SignedPeerRecord] in
            if case let .peerAnnouncement(a) = frame { a.records } else { [] }
        }
        XCTAssertEqual(relayed.count, freeSlot, "only the records stored in free slots are relayed")
    }
}
