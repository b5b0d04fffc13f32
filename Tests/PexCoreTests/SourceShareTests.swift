import PexCore
import PexWire
import XCTest

/// The source-share rule (PROTOCOL.md §16.3): a new key announced unsolicited is stored and
/// relayed only while the announcing peer's network group (the source group) holds less than
/// `maxSourceShare` of the book, or fewer than `minEntriesPerSource` entries. Responses to our
/// own requests are exempt, and nothing is punished.
final class SourceShareTests: XCTestCase {
    /// A node that never syncs on its own during the test, with fake crypto (hundreds of records).
    func harness() -> NodeHarness {
        NodeHarness(config: NodeHarness.config {
            $0.syncInterval = .hours(10)
            $0.syncJitter = .zero
        }, crypto: InsecureFakeCrypto())
    }

    /// Keys of every record the node holds.
    func held(_ h: NodeHarness) -> Set<PublicKey> { Set(h.node.knownRecords.map(\.publicKey)) }

    /// `count` valid records from key number `first`, each in its own /16 (so that the address
    /// group limit, `maxGroupShare`, never decides what is stored here).
    func records(_ count: Int, from first: Int, harness h: NodeHarness, seq: UInt64 = 5) -> [SignedPeerRecord] {
        (first..<first + count).map { n in
            RawPeer.record(RawPeer.key(20_000 + n), seq: seq, addresses: ["/ip4/\(30 + n / 200).\(n % 200).0.1/tcp/4001"],
                           expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        }
    }

    /// Keys of the records `records(count, from: first, …)` makes.
    func keys(_ count: Int, from first: Int) -> Set<PublicKey> {
        Set((first..<first + count).map { RawPeer.key(20_000 + $0).publicKey })
    }

    /// Which of `candidates` the announcements `peer` received since frame `from` carried.
    func announced(to peer: RawPeer, from: Int, of candidates: [SignedPeerRecord]) -> [SignedPeerRecord] {
        var carried: [SignedPeerRecord] = []
        for frame in peer.received.dropFirst(from) {
            if case let .peerAnnouncement(a) = frame { carried += a.records }
        }
        return candidates.filter { carried.contains($0) }
    }

    func testUnsolicitedNewKeysStopAtTheSourceShareAndAreNotRelayed() {
        let h = harness()
        // A witness from another network group, to see what the node relays.
        let witness = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1", port: 50001)
        witness.handshake()
        witness.service()
        let flooder = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: "12.0.0.1")
        flooder.handshake()
        flooder.service()
        // The book: the witness and the flooder, each learned from its own Hello (one entry
        // from each source group).
        XCTAssertEqual(held(h), [witness.publicKey, flooder.publicKey])
        let mark = witness.received.count
        let fakes = records(200, from: 0, harness: h)
        flooder.send(.peerAnnouncement(PeerAnnouncement(records: fakes)))
        // Source 12.0 may hold 8 entries (minEntriesPerSource) while its share of 9 entries or
        // so is far above 10 %: its Hello record plus 7 announced keys, the first 7 in order.
        let stored = held(h).subtracting([witness.publicKey, flooder.publicKey])
        XCTAssertEqual(stored, keys(7, from: 0))
        XCTAssertEqual(h.node.metrics.recordsAccepted, 200, "every record was valid")
        XCTAssertEqual(h.node.metrics.rejections["source-share"], 193)
        // Only what was stored is relayed; the witness never hears of the rest.
        witness.pump()
        XCTAssertEqual(announced(to: witness, from: mark, of: fakes), Array(fakes.prefix(7)))
        // Dropping is not an offence: an honest relay of many joins looks the same.
        XCTAssertEqual(h.scores(of: .key(flooder.publicKey)), [])
        XCTAssertFalse(flooder.closedByNode)
        // Another source group is not held back by the flooder's share.
        let more = records(3, from: 1000, harness: h)
        witness.send(.peerAnnouncement(PeerAnnouncement(records: more)))
        XCTAssertTrue(keys(3, from: 1000).isSubset(of: held(h)))
    }

    func testResponsesToOurRequestAreExemptAndWidenOtherSourcesRoom() {
        let h = harness()
        let server = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: "12.0.0.1")
        server.handshake()
        guard case let .peerRequest(request)? = server.received.last else { return XCTFail("no request on connect") }
        // 200 records in the answer to our request, all from one source group (a joining node
        // learns its book from one bootstrap peer this way): none is held to the source share.
        // (Some are lost to new-table slot collisions: one source group reaches 16 buckets.)
        let listed = records(200, from: 0, harness: h)
        server.send(.peerResponse(PeerResponse(requestID: request.requestID, records: listed, next: nil, full: true)))
        XCTAssertEqual(h.node.metrics.rejections["source-share"], nil)
        let fromServer = keys(200, from: 0).intersection(held(h))
        XCTAssertGreaterThan(fromServer.count, 150, "far more than the source share or the floor of 8 would allow")
        let book = h.node.knownRecords.count
        XCTAssertEqual(book, fromServer.count + 1, "the listed records and the server's own")
        // Source 12.0 is the source of every entry: one more new key announced is over its share.
        server.send(.peerAnnouncement(PeerAnnouncement(records: records(1, from: 500, harness: h))))
        XCTAssertEqual(h.node.metrics.rejections["source-share"], 1)
        XCTAssertEqual(h.node.knownRecords.count, book)
        // A peer of 13.0 may be the source of up to 10 % of the book (its Hello record and the
        // keys it announces): it fills exactly that, and the rest of its 40 keys are dropped.
        let other = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1", port: 50001)
        other.handshake()
        other.service()
        other.send(.peerAnnouncement(PeerAnnouncement(records: records(40, from: 1000, harness: h))))
        let fromOther = keys(40, from: 1000).intersection(held(h)).count + 1
        let total = h.node.knownRecords.count
        XCTAssertEqual(total, book + fromOther)
        XCTAssertLessThanOrEqual(Double(fromOther), 0.1 * Double(total))
        XCTAssertGreaterThan(Double(fromOther + 1), 0.1 * Double(total + 1), "room was left for another key")
        XCTAssertGreaterThan(fromOther, 8, "the share of a large book, not the floor")
        let dropped = h.node.metrics.rejections["source-share"] ?? 0
        XCTAssertGreaterThanOrEqual(dropped, 1 + 40 - (fromOther - 1) - 2, "at most a couple lost to slot collisions instead")
        // An update of a key already held is not a new key: it is applied whatever the share.
        guard let n = (0..<200).first(where: { fromServer.contains(RawPeer.key(20_000 + $0).publicKey) }) else { return XCTFail() }
        server.send(.peerUpdate(PeerUpdate(records: records(1, from: n, harness: h, seq: 6))))
        XCTAssertEqual(h.node.knownRecords.first { $0.publicKey == RawPeer.key(20_000 + n).publicKey }?.seq, 6)
        XCTAssertEqual(h.node.metrics.rejections["source-share"], dropped)
        XCTAssertEqual(h.scores(of: .key(server.publicKey)), [])
        XCTAssertEqual(h.scores(of: .key(other.publicKey)), [])
    }
}
