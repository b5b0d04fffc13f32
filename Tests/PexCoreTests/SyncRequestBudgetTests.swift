import PexCore
import PexWire
import XCTest

/// The `request` bucket follows the sync schedule: a node that syncs every T ± J accepts, from
/// one peer, the requests of a peer on the same schedule (`RateLimitConfig.requestRate`,
/// applied as a floor by `NodeConfig.rateLimits`, docs/PROTOCOL.md §20.1).
final class SyncRequestBudgetTests: XCTestCase {
    func testRequestRateIsTwiceTheFastestSyncPace() {
        // 30 s ± 5 s: a peer asks at most once per 25 s; twice that is 0.08 per second.
        XCTAssertEqual(RateLimitConfig.requestRate(syncInterval: .seconds(30), syncJitter: .seconds(5)), 0.08, accuracy: 1e-12)
        // 1 s ± 200 ms: once per 800 ms, so 2.5 per second.
        XCTAssertEqual(RateLimitConfig.requestRate(syncInterval: .seconds(1), syncJitter: .milliseconds(200)), 2.5, accuracy: 1e-12)
        XCTAssertEqual(RateLimitConfig.requestRate(syncInterval: .seconds(10), syncJitter: .zero), 0.2, accuracy: 1e-12)
        // A jitter as long as the interval leaves no guaranteed gap: 1 ms is assumed, not a division by zero.
        XCTAssertEqual(RateLimitConfig.requestRate(syncInterval: .seconds(1), syncJitter: .seconds(1)), 2000, accuracy: 1e-9)
        XCTAssertEqual(RateLimitConfig.requestRate(syncInterval: .zero, syncJitter: .seconds(3)), 2000, accuracy: 1e-9)
    }

    func testNodeConfigRaisesTheRequestRateToTheSyncScheduleOnly() throws {
        var config = NodeConfig(networkID: "n", advertisedAddresses: [try Multiaddr("/ip4/11.0.0.1/tcp/4001")])
        // Defaults: 0.08 needed, the documented 0.1 (one per 10 s) stays.
        XCTAssertEqual(config.rateLimits, .default)
        XCTAssertEqual(config.rateLimits.request.ratePerSecond, 0.1)
        config.syncInterval = .seconds(1)
        config.syncJitter = .milliseconds(200)
        XCTAssertEqual(config.rateLimits.request.ratePerSecond, 2.5, accuracy: 1e-12)
        XCTAssertEqual(config.rateLimits.request.burst, 3, "only the rate follows the schedule")
        XCTAssertEqual(config.configuredRateLimits, .default, "what was configured is kept")
        XCTAssertEqual(config.rateLimits.records, RateLimitConfig.default.records, "other buckets are untouched")
        // A configured rate above the floor wins.
        config.rateLimits[.request] = .init(ratePerSecond: 50, burst: 7)
        XCTAssertEqual(config.rateLimits.request, .init(ratePerSecond: 50, burst: 7))
        // Back to a slow schedule: the configured value applies again.
        config.rateLimits[.request] = .init(ratePerSecond: 0.05, burst: 3)
        XCTAssertEqual(config.rateLimits.request.ratePerSecond, 2.5, accuracy: 1e-12)
        config.syncInterval = .minutes(10)
        XCTAssertEqual(config.rateLimits.request.ratePerSecond, 0.05)
    }

    /// A peer asking every 800 ms (a 1 s ± 200 ms schedule at its fastest) for two minutes.
    /// - Returns: The peer, after it sent its requests.
    private func askEvery800ms(_ configure: (inout NodeConfig) -> Void) -> RawPeer {
        let h = NodeHarness(config: NodeHarness.config(configure))
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1))
        peer.handshake()
        h.servicedPeers = [peer]
        peer.service()
        for n in 1...150 where !peer.closedByNode {
            h.advance(by: .milliseconds(800))
            peer.send(.peerRequest(PeerRequest(requestID: UInt64(1000 + n))))
        }
        return peer
    }

    func testPeersOnAShortScheduleAreServedWithoutRateLimiting() {
        let peer = askEvery800ms {
            $0.syncInterval = .seconds(1)
            $0.syncJitter = .milliseconds(200)
        }
        XCTAssertFalse(peer.closedByNode)
        XCTAssertEqual(peer.errors.map(\.code), [])
        XCTAssertEqual(peer.frames("peer_response").count, 150)
        XCTAssertEqual(peer.harness.scores(of: .key(peer.publicKey)), [])
    }

    func testTheSameRequestsOverTheFixedDefaultLimitAreRefused() {
        // The limit before it followed the schedule: one per 10 s. The same peer is refused,
        // scored and disconnected with RATE_LIMITED.
        let peer = askEvery800ms {
            $0.syncInterval = .seconds(1)
            $0.syncJitter = .milliseconds(200)
            $0.rateLimits[.request] = .init(ratePerSecond: 0.1, burst: 3)
            // The floor is computed from the schedule; a long one restores the fixed limit.
            $0.syncInterval = .hours(10)
        }
        XCTAssertTrue(peer.closedByNode)
        XCTAssertEqual(peer.errors.last?.code, .rateLimited)
        XCTAssertEqual(peer.errors.last?.closing, true)
        XCTAssertEqual(peer.harness.scores(of: .key(peer.publicKey)).last, 50)
    }
}
