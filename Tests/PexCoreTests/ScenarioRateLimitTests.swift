import PexCore
import PexWire
import XCTest

/// Distinct, valid records of keys nobody connects with, each with its own routable address.
enum RecordFactory {
    /// `count` records starting at key number `first`, valid for a day from `harness.now`.
    static func records(_ count: Int, from first: Int, harness: NodeHarness, seq: UInt64 = 5) -> [SignedPeerRecord] {
        (first..<first + count).map { n in
            RawPeer.record(RawPeer.key(10_000 + n), seq: seq, addresses: ["/ip4/\(30 + n / 65_536).\(n / 256 % 256).\(n % 256).1/tcp/4001"],
                           expiresAt: harness.now.unixSeconds + 86_400, crypto: harness.crypto)
        }
    }
}

/// Record rate limiting at the node level, in the manner of Bitcoin Core's p2p_addr_relay.py:
/// a peer sends batches of distinct valid records and the test predicts, to the record, how many
/// the node processes, from `RateLimitConfig.records` (burst 1000, 0.1 per second, credits up
/// to 2000) and the credit the node grants when it sends its own PeerRequest on connect
/// (`Node.requestPeers` credits the request's `max_peers`, `NodeConfig.maxPeersPerResponse`).
final class RateLimitScenarioTests: XCTestCase {
    /// A node that never syncs periodically during the test, so the only credit is the one
    /// granted on connect (each periodic PeerRequest would credit another `max_peers`).
    /// (Fake crypto: thousands of records, and the arithmetic does not depend on signatures.)
    func harness(_ configure: (inout NodeConfig) -> Void = { _ in }) -> NodeHarness {
        NodeHarness(config: NodeHarness.config {
            $0.syncInterval = .hours(10)
            $0.syncJitter = .zero
            configure(&$0)
        }, crypto: InsecureFakeCrypto())
    }

    /// Sends `records` in one PeerAnnouncement.
    /// - Returns: How many the node accepted (metrics.recordsAccepted growth).
    func announce(_ peer: RawPeer, _ records: [SignedPeerRecord]) -> Int {
        let before = peer.harness.node.metrics.recordsAccepted
        peer.send(.peerAnnouncement(PeerAnnouncement(records: records)))
        return peer.harness.node.metrics.recordsAccepted - before
    }

    func testBatchesAgainstBurstCreditAndRefill() {
        let h = harness()
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake()
        // On ready the node announced its record and sent one PeerRequest (max_peers 1000).
        XCTAssertEqual(peer.received.map(\.kind), ["hello", "auth", "peer_announcement", "peer_request"])
        guard case let .peerRequest(request)? = peer.received.last else { return XCTFail() }
        XCTAssertEqual(request.maxPeers, 1000)
        peer.service()  // an empty PeerResponse: it costs no record tokens
        var next = 0
        func batch(_ n: Int) -> [SignedPeerRecord] {
            defer { next += n }
            return RecordFactory.records(n, from: next, harness: h)
        }
        // Tokens: burst 1000 (the bucket starts full) + 1000 credited for our request = 2000,
        // exactly the credit limit.
        XCTAssertEqual(announce(peer, batch(600)), 600)  // 2000 → 1400
        XCTAssertEqual(announce(peer, batch(600)), 600)  // 1400 → 800
        XCTAssertEqual(announce(peer, batch(10)), 10)  // 800 → 790
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [], "nothing over the limit yet")
        XCTAssertEqual(announce(peer, batch(600)), 600)  // 790 → 190
        XCTAssertEqual(announce(peer, batch(600)), 190)  // 190 → 0: 410 dropped unprocessed
        XCTAssertEqual(h.node.metrics.rejections["rate-limited"], 410)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [5])
        // Refill is 0.1 token per second: 100 s later exactly 10 tokens.
        h.servicedPeers = [peer]
        h.advance(by: .seconds(100))
        XCTAssertFalse(peer.closedByNode, "pings were answered")
        XCTAssertEqual(announce(peer, batch(20)), 10)
        // 5 s give half a token: nothing yet; the half is kept, so 5 s more make one.
        h.advance(by: .seconds(5))
        XCTAssertEqual(announce(peer, batch(1)), 0)
        h.advance(by: .seconds(5))
        XCTAssertEqual(announce(peer, batch(1)), 1)
        XCTAssertEqual(h.node.metrics.recordsAccepted, 600 + 600 + 10 + 600 + 190 + 10 + 0 + 1)
        XCTAssertEqual(h.node.metrics.rejections["rate-limited"], 410 + 10 + 1)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [5, 10, 15])
        XCTAssertEqual(h.node.metrics.recordsDuplicate, 0)
    }

    func testCreditIsTheMaxPeersOfOurRequest() {
        // With max_peers 100 the credit is 100: 1000 + 100 = 1100 tokens, and the pattern of
        // p2p_addr_relay.py appears (600 processed, then only what is left, then none).
        let h = harness { $0.maxPeersPerResponse = 100 }
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake()
        peer.service()
        XCTAssertEqual(announce(peer, RecordFactory.records(600, from: 0, harness: h)), 600)  // 1100 → 500
        XCTAssertEqual(announce(peer, RecordFactory.records(600, from: 600, harness: h)), 500)  // 500 → 0
        XCTAssertEqual(announce(peer, RecordFactory.records(10, from: 1200, harness: h)), 0)
        XCTAssertEqual(h.node.metrics.rejections["rate-limited"], 100 + 10)
    }

    func testRecordsOfOurOwnRequestAreCreditedNotLimited() {
        // A response to our request (1000 records asked) comes on top of unsolicited records
        // that used up the burst: the credit covers it.
        let h = harness()
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake()
        guard case let .peerRequest(request)? = peer.received.last else { return XCTFail() }
        XCTAssertEqual(announce(peer, RecordFactory.records(1000, from: 0, harness: h)), 1000)  // 2000 → 1000
        let before = h.node.metrics.recordsAccepted
        peer.send(.peerResponse(PeerResponse(requestID: request.requestID, records: RecordFactory.records(1000, from: 1000, harness: h),
                                             next: nil, full: true)))
        XCTAssertEqual(h.node.metrics.recordsAccepted - before, 1000)  // 1000 → 0
        XCTAssertEqual(h.node.metrics.rejections["rate-limited"], nil)
        XCTAssertEqual(announce(peer, RecordFactory.records(1, from: 2000, harness: h)), 0)
    }
}

/// A peer flooding PeerRequests: answered up to the request bucket, scored 5 points per excess
/// request, disconnected at 50 (RATE_LIMITED), banned at 100 (BANNED, persisted), refused while
/// banned and welcome again after the ban expires.
final class SpamScenarioTests: XCTestCase {
    func testRequestFloodIsLimitedDisconnectedThenBanned() {
        let h = NodeHarness(config: NodeHarness.config { $0.syncInterval = .hours(10) })
        let spammer = RawPeer.key(1)
        let subject = BanSubject.key(spammer.publicKey)
        // Connection 1: the request bucket holds 3 (burst), refilling 0.1/s (nothing at one
        // instant): 3 answered, then each extra request is 5 points; the 10th extra one reaches
        // the disconnect threshold of 50.
        let first = RawPeer.connect(to: h, identity: spammer, port: 50000)
        first.handshake()
        first.service()
        for n in 1...20 { first.send(.peerRequest(PeerRequest(requestID: UInt64(n)))) }
        XCTAssertEqual(first.frames("peer_response").count, 3)
        // Every refused request is answered with a non-closing RATE_LIMITED; the 10th closes.
        XCTAssertEqual(first.errors.filter { !$0.closing }.map(\.code), [ErrorCode](repeating: .rateLimited, count: 10))
        XCTAssertEqual(first.errors.filter(\.closing).map(\.code), [.rateLimited])
        XCTAssertTrue(first.closedByNode)
        XCTAssertEqual(h.scores(of: subject), Array(stride(from: 5, through: 50, by: 5)))
        XCTAssertFalse(h.node.isBanned(subject))
        h.handle(.closed(first.id, reason: "closed"))
        // Connections 2…11: fresh buckets, but the score stays (no time passes, no decay): each
        // connection gets 3 answers, then one excess request takes it to 55, 60, … and closes.
        // The 11th reaches 100: banned, with BANNED instead of RATE_LIMITED.
        for attempt in 2...11 {
            let peer = RawPeer.connect(to: h, identity: spammer, port: 50000 + attempt)
            peer.handshake()
            peer.service()
            for n in 1...6 { peer.send(.peerRequest(PeerRequest(requestID: UInt64(n)))) }
            XCTAssertEqual(peer.frames("peer_response").count, 3, "attempt \(attempt)")
            XCTAssertEqual(peer.errors.filter { !$0.closing }.map(\.code), [.rateLimited], "attempt \(attempt)")
            XCTAssertEqual(peer.errors.filter(\.closing).map(\.code), [attempt == 11 ? .banned : .rateLimited], "attempt \(attempt)")
            h.handle(.closed(peer.id, reason: "closed"))
        }
        XCTAssertEqual(h.scores(of: subject).suffix(10), Array(stride(from: 55, through: 100, by: 5)))
        XCTAssertTrue(h.node.isBanned(subject))
        let until = h.now + .hours(24)
        XCTAssertEqual(h.persisted.compactMap { if case let .ban(e) = $0 { e } else { nil } },
                       [BanEntry(subject: subject, until: until, reason: "rate-limited")])
        XCTAssertEqual(h.events.filter { if case .banned(subject, until, "rate-limited") = $0 { true } else { false } }.count, 1)

        // While banned: the same key from the same address is refused at its Hello, with
        // BANNED and without our Auth. (Bans of authenticated peers are by key, so the
        // address itself is not banned.)
        let refused = RawPeer.connect(to: h, identity: spammer, port: 50100)
        refused.sendHello()
        XCTAssertEqual(refused.received.map(\.kind), ["hello", "error"])
        XCTAssertEqual(refused.errors.first?.code, .banned)
        XCTAssertFalse(h.node.isBanned(.address(IPAddress("12.0.0.1")!)))
        h.handle(.closed(refused.id, reason: "closed"))

        // One second before expiry still banned; at expiry the ban is lifted and unpersisted.
        h.jump(by: .seconds(86_399))
        XCTAssertTrue(h.node.isBanned(subject))
        h.jump(by: .seconds(1))
        XCTAssertFalse(h.node.isBanned(subject))
        XCTAssertTrue(h.persisted.contains(.unban(subject)))
        let welcome = RawPeer.connect(to: h, identity: spammer, record: RawPeer.defaultRecord(spammer, ip: "12.0.0.1", harness: h),
                                      port: 50101)
        welcome.handshake()
        XCTAssertTrue(welcome.errors.isEmpty)
    }

    func testPingFloodIsLimited() {
        // Pings: burst 4, then 5 points each; the 10th unanswered ping disconnects (50 points).
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake()
        for n in 1...20 { peer.send(.ping(Ping(nonce: UInt64(n)))) }
        XCTAssertEqual(peer.frames("pong"), (1...4).map { .pong(Pong(nonce: UInt64($0))) })
        XCTAssertEqual(peer.errors.map(\.code), [.rateLimited])
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)).last, 50)
    }
}
