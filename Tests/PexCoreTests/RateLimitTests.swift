import PexWire
import XCTest
@testable import PexCore

final class RateLimitTests: XCTestCase {
    let t0 = Instant.unix(seconds: 1_700_000_000)

    /// The address-relay scenario of Bitcoin Core's rate-limiting test, with records.
    func testRecordsBucketFollowsTheAddrRelayScenario() {
        var limits = PeerRateLimits(now: t0)
        XCTAssertEqual(limits.take(.records, upTo: 600, now: t0), 600)
        XCTAssertEqual(limits.take(.records, upTo: 600, now: t0), 400)
        XCTAssertEqual(limits.take(.records, upTo: 10, now: t0), 0)
        let t1 = t0 + .seconds(100)
        XCTAssertEqual(limits.take(.records, upTo: 20, now: t1), 10)
        XCTAssertEqual(limits.take(.records, upTo: 20, now: t1), 0)
        XCTAssertEqual(limits.creditRecords(for: PeerRequest(requestID: 1, maxPeers: 1000)), 1000)
        XCTAssertEqual(limits.take(.records, upTo: 1200, now: t1), 1000)
        XCTAssertEqual(limits.available(.records, now: t1), 0)
    }

    func testFractionalRefillIsCarriedExactly() {
        var bucket = TokenBucket(ratePerSecond: 0.1, burst: 1000, now: t0, full: false)
        XCTAssertEqual(bucket.microtokensPerSecond, 100_000)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(5)), 0)
        XCTAssertEqual(bucket.microtokens, 500_000)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(10)), 1)
        XCTAssertFalse(bucket.tryTake(2, now: t0 + .seconds(10)))
        XCTAssertTrue(bucket.tryTake(now: t0 + .seconds(10)))
        XCTAssertEqual(bucket.microtokens, 0)
    }

    func testManySmallStepsEqualOneBigStep() {
        // 1/3 token per second does not divide a nanosecond evenly: the remainder must be carried.
        var stepped = TokenBucket(ratePerSecond: 1.0 / 3.0, burst: 1000, now: t0, full: false)
        var once = stepped
        XCTAssertEqual(stepped.microtokensPerSecond, 333_333)
        var now = t0
        for _ in 0..<7919 {
            now = now + TimeSpan(nanoseconds: 12_345_679)
            _ = stepped.available(now: now)
        }
        _ = once.available(now: now)
        XCTAssertEqual(stepped.microtokens, once.microtokens)
        // 7919 × 12 345 679 ns = 97 765 432 001 ns; × 333 333 µtok/s / 10⁹ = 32 588 444.745… µtok.
        XCTAssertEqual(once.microtokens, 32_588_444)
    }

    func testRefillStopsAtBurstAndWastesTheRemainder() {
        var bucket = TokenBucket(ratePerSecond: 2, burst: 5, now: t0)
        XCTAssertEqual(bucket.take(upTo: 5, now: t0), 5)
        XCTAssertEqual(bucket.available(now: t0 + .milliseconds(750)), 1)
        XCTAssertEqual(bucket.microtokens, 1_500_000)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(3600)), 5)
        XCTAssertEqual(bucket.microtokens, 5_000_000)
        XCTAssertEqual(bucket.take(upTo: 1, now: t0 + .seconds(3600)), 1)
        // The hour spent full was not banked: 0.25 s later adds exactly half a token.
        _ = bucket.available(now: t0 + .seconds(3600) + .milliseconds(250))
        XCTAssertEqual(bucket.microtokens, 4_500_000)
    }

    func testClockSteppingBackAddsNothing() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 10, now: t0, full: false)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(4)), 4)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(2)), 4)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(4)), 4)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(5)), 5)
    }

    func testCreditExceedsBurstUpToTheLimit() {
        var bucket = TokenBucket(ratePerSecond: 0.1, burst: 1000, now: t0)
        XCTAssertEqual(bucket.creditLimit, 2000)
        bucket.credit(700)
        XCTAssertEqual(bucket.available(now: t0), 1700)
        // Time does not refill above burst.
        XCTAssertEqual(bucket.available(now: t0 + .seconds(10_000)), 1700)
        bucket.credit(700)
        XCTAssertEqual(bucket.available(now: t0), 2000)
        bucket.credit(1)
        bucket.credit(-5)
        bucket.credit(.max)
        XCTAssertEqual(bucket.available(now: t0), 2000)

        var custom = TokenBucket(ratePerSecond: 1, burst: 10, now: t0, full: false, creditLimit: 3)
        XCTAssertEqual(custom.creditLimit, 10, "a limit below burst counts as burst")
        custom.credit(.max)
        XCTAssertEqual(custom.available(now: t0), 10)
    }

    func testCreditBelowBurstKeepsRefilling() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 10, now: t0, full: false)
        bucket.credit(3)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(4)), 7)
        XCTAssertEqual(bucket.available(now: t0 + .seconds(100)), 10)
    }

    func testDegenerateParameters() {
        var zero = TokenBucket(ratePerSecond: .nan, burst: -3, now: t0)
        XCTAssertEqual(zero.microtokensPerSecond, 0)
        XCTAssertEqual(zero.burst, 0)
        XCTAssertEqual(zero.available(now: t0 + .hours(1_000_000)), 0)
        XCTAssertTrue(zero.tryTake(0, now: t0))
        XCTAssertTrue(zero.tryTake(-1, now: t0))
        XCTAssertFalse(zero.tryTake(now: t0))
        XCTAssertEqual(zero.take(upTo: -4, now: t0), 0)
        XCTAssertEqual(TokenBucket(ratePerSecond: -1, burst: 1, now: t0).microtokensPerSecond, 0)

        var huge = TokenBucket(ratePerSecond: .infinity, burst: .max, now: t0, full: false)
        XCTAssertEqual(huge.microtokensPerSecond, .max)
        XCTAssertEqual(huge.creditLimit, .max)
        // Saturates instead of trapping: a full bucket of UInt64.max microtokens.
        XCTAssertEqual(huge.available(now: t0 + .seconds(1)), Int(UInt64.max / TokenBucket.scale))
        XCTAssertFalse(huge.tryTake(.max, now: t0 + .seconds(2)))
        XCTAssertEqual(TokenBucket(ratePerSecond: 1e300, burst: 1, now: t0).microtokensPerSecond, .max)

        var fast = TokenBucket(ratePerSecond: 1e10, burst: 1000, now: t0, full: false)
        XCTAssertEqual(fast.available(now: t0 + TimeSpan(nanoseconds: 50)), 500)
        XCTAssertEqual(fast.available(now: Instant(nanoseconds: .max)), 1000)
    }

    func testDefaultConfig() {
        let c = RateLimitConfig.default
        XCTAssertEqual(c.request, .init(ratePerSecond: 0.1, burst: 3))
        XCTAssertEqual(c.records, .init(ratePerSecond: 0.1, burst: 1000, creditLimit: 2000))
        XCTAssertEqual(c.frames, .init(ratePerSecond: 20, burst: 200))
        XCTAssertEqual(c.ping, .init(ratePerSecond: 0.2, burst: 4))
        var changed = c
        for rateClass in RateClass.allCases {
            changed[rateClass] = .init(ratePerSecond: 1, burst: 1)
            XCTAssertEqual(changed[rateClass], .init(ratePerSecond: 1, burst: 1))
        }
        XCTAssertNotEqual(changed, c)
        XCTAssertEqual(RateClass.allCases.map(\.rawValue), ["request", "records", "frames", "ping"])
    }

    func testRequestPingAndFrameClasses() {
        var limits = PeerRateLimits(now: t0)
        XCTAssertEqual(limits.config, .default)
        // Requests: burst 3, then one per 10 s.
        for _ in 0..<3 { XCTAssertTrue(limits.tryTake(.request, now: t0)) }
        XCTAssertFalse(limits.tryTake(.request, now: t0 + .seconds(9)))
        XCTAssertTrue(limits.tryTake(.request, now: t0 + .seconds(10)))
        XCTAssertFalse(limits.tryTake(.request, now: t0 + .seconds(10)))
        // Pings: burst 4, then one per 5 s.
        XCTAssertEqual(limits.take(.ping, upTo: 10, now: t0), 4)
        XCTAssertFalse(limits.tryTake(.ping, now: t0 + .milliseconds(4999)))
        XCTAssertTrue(limits.tryTake(.ping, now: t0 + .seconds(5)))
        // Frames: burst 200, then 20 per second.
        XCTAssertTrue(limits.tryTake(.frames, 200, now: t0))
        XCTAssertEqual(limits.available(.frames, now: t0 + .milliseconds(500)), 10)
        XCTAssertEqual(limits[.frames].burst, 200)
        // Classes are independent.
        XCTAssertEqual(limits.available(.records, now: t0), 1000)
    }

    func testCreditForRequestUsesTheEffectiveMaxPeers() {
        var limits = PeerRateLimits(now: t0)
        XCTAssertEqual(limits.take(.records, upTo: 1000, now: t0), 1000)
        XCTAssertEqual(limits.creditRecords(for: PeerRequest(requestID: 1, maxPeers: 64)), 64)
        XCTAssertEqual(limits.available(.records, now: t0), 64)
        XCTAssertEqual(limits.creditRecords(for: PeerRequest(requestID: 2, maxPeers: 0)), 1000)
        XCTAssertEqual(limits.available(.records, now: t0), 1064)
        XCTAssertEqual(limits.creditRecords(for: PeerRequest(requestID: 3, maxPeers: .max)), 1000)
        XCTAssertEqual(limits.available(.records, now: t0), 2000, "credits stop at the credit limit")
    }
}
