import PexWire
import XCTest
@testable import PexCore

/// A key of 32 equal bytes: a known order, and the tracker and ban list never look inside a key.
private func testKey(_ byte: UInt8) -> PublicKey {
    guard let key = PublicKey(unvalidated: [UInt8](repeating: byte, count: 32)) else {
        preconditionFailure("32 bytes always wrap")
    }
    return key
}

final class MisbehaviourTests: XCTestCase {
    let t0 = Instant.unix(seconds: 1_700_000_000)
    let a = BanSubject.key(testKey(1))
    let b = BanSubject.key(testKey(2))
    let c = BanSubject.key(testKey(3))
    let ip1 = BanSubject.address(IPAddress(ipv4: 192, 0, 2, 1))
    let ip2 = BanSubject.address(IPAddress(ipv4: 192, 0, 2, 2))

    func testDefaultPointsAndNames() {
        let c = MisbehaviourConfig.default
        let expected: [(Offence, String, Int)] = [
            (.malformedFrame, "malformed-frame", 100), (.protocolViolation, "protocol-violation", 100),
            (.handshakeFailure, "handshake-failure", 50), (.invalidRecord, "invalid-record", 10),
            (.badSignature, "bad-signature", 50), (.notAMember, "not-a-member", 20),
            (.staleRecord, "stale-record", 0), (.rateLimited, "rate-limited", 5),
            (.unsolicitedResponse, "unsolicited-response", 20), (.equivocation, "equivocation", 100),
            (.oversized, "oversized", 50),
        ]
        XCTAssertEqual(expected.count, Offence.allCases.count)
        for (offence, name, points) in expected {
            XCTAssertEqual(offence.rawValue, name)
            XCTAssertEqual(Offence(rawValue: name), offence)
            XCTAssertEqual(c.points(for: offence), points, name)
        }
        XCTAssertEqual(c.disconnectThreshold, 50)
        XCTAssertEqual(c.banThreshold, 100)
        XCTAssertEqual(c.banDuration, .hours(24))
        XCTAssertEqual(c.halfLife, .hours(1))
        XCTAssertEqual(c.capacity, 4096)
    }

    func testScoresCrossThresholds() {
        var tracker = MisbehaviourTracker()
        for i in 1...4 {
            XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0), Verdict.none)
            XCTAssertEqual(tracker.score(of: a, now: t0), 10 * i)
        }
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0), .disconnect)
        XCTAssertEqual(tracker.record(.notAMember, subject: a, now: t0), .disconnect)
        XCTAssertEqual(tracker.score(of: a, now: t0), 70)
        XCTAssertEqual(tracker.record(.unsolicitedResponse, subject: a, now: t0), .disconnect)
        let later = t0 + .seconds(7)
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: later), .ban(until: later + .hours(24)))
        // The ban list takes over: the score is dropped.
        XCTAssertEqual(tracker.score(of: a, now: later), 0)
        XCTAssertEqual(tracker.count, 0)
        // One malformed frame bans at once; a handshake failure disconnects.
        XCTAssertEqual(tracker.record(.malformedFrame, subject: ip1, now: t0), .ban(until: t0 + .hours(24)))
        XCTAssertEqual(tracker.record(.handshakeFailure, subject: ip2, now: t0), .disconnect)
        XCTAssertEqual(tracker.score(of: ip1, now: t0), 0)
        XCTAssertEqual(tracker.score(of: ip2, now: t0), 50)
    }

    func testEquivocationBansTheSignerAtOnce() {
        var tracker = MisbehaviourTracker()
        XCTAssertEqual(tracker.record(.invalidRecord, subject: b, now: t0), Verdict.none)
        XCTAssertEqual(tracker.record(.equivocation, subject: b, now: t0 + .seconds(1)),
                       .ban(until: t0 + .seconds(1) + .hours(24)))
        XCTAssertEqual(tracker.count, 0)
        XCTAssertEqual(tracker.record(.equivocation, subject: c, now: t0), .ban(until: t0 + .hours(24)))
    }

    func testZeroPointOffenceChangesNothing() {
        var tracker = MisbehaviourTracker()
        XCTAssertEqual(tracker.record(.staleRecord, subject: a, now: t0), Verdict.none)
        XCTAssertEqual(tracker.count, 0)
        XCTAssertEqual(tracker.record(.handshakeFailure, subject: a, now: t0), .disconnect)
        XCTAssertEqual(tracker.record(.staleRecord, subject: a, now: t0), Verdict.none)
        XCTAssertEqual(tracker.score(of: a, now: t0), 50)
    }

    func testDecayHalvesPerWholeHalfLifeFromTheAnchor() {
        var tracker = MisbehaviourTracker()
        for _ in 0..<3 { _ = tracker.record(.invalidRecord, subject: a, now: t0) }
        XCTAssertEqual(tracker.score(of: a, now: t0 + .seconds(3599)), 30)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(1)), 15)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(2)), 7)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(3) - .seconds(1)), 7)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(3)), 3)
        // An offence at 3 h 30 min adds to the decayed 3; the anchor stays on the hour.
        let t = t0 + .hours(3) + .minutes(30)
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t), Verdict.none)
        XCTAssertEqual(tracker.score(of: a, now: t), 13)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(4) - .seconds(1)), 13)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(4)), 6)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(100)), 0)
        // A clock stepping back does not decay or un-decay.
        XCTAssertEqual(tracker.score(of: a, now: t0), 13)
    }

    func testDecayedScoreDecidesTheVerdict() {
        var tracker = MisbehaviourTracker()
        XCTAssertEqual(tracker.record(.badSignature, subject: a, now: t0), .disconnect)
        // 50 + 50 would ban; decayed to 25 first, the total is 75.
        XCTAssertEqual(tracker.record(.handshakeFailure, subject: a, now: t0 + .hours(1)), .disconnect)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(1)), 75)
    }

    func testLongLivedHonestPeerIsNeverBanned() {
        // A rate-limit hit every hour and a 20-point glitch every ten hours, for six weeks.
        var tracker = MisbehaviourTracker()
        var highest = 0
        for hour in 0..<1008 {
            let now = t0 + .hours(UInt64(hour)) + .minutes(17)
            XCTAssertEqual(tracker.record(.rateLimited, subject: a, now: now), Verdict.none)
            if hour % 10 == 9 {
                XCTAssertEqual(tracker.record(.unsolicitedResponse, subject: a, now: now), Verdict.none)
            }
            highest = max(highest, tracker.score(of: a, now: now))
        }
        // Steady state: 10 before a glitch, 5 + 5 + 20 = 30 right after one.
        XCTAssertEqual(highest, 30)
    }

    func testWithoutDecayScoresAccumulate() {
        var config = MisbehaviourConfig()
        config.halfLife = .zero
        var tracker = MisbehaviourTracker(config: config)
        for _ in 0..<4 { _ = tracker.record(.invalidRecord, subject: a, now: t0) }
        XCTAssertEqual(tracker.score(of: a, now: t0 + .hours(1000)), 40)
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0 + .hours(1000)), .disconnect)
    }

    func testConfiguredPointsAndThresholds() {
        var config = MisbehaviourConfig()
        config.invalidRecord = 1
        config.rateLimited = -7
        config.disconnectThreshold = 2
        config.banThreshold = 3
        config.banDuration = .minutes(10)
        var tracker = MisbehaviourTracker(config: config)
        XCTAssertEqual(tracker.record(.rateLimited, subject: a, now: t0), Verdict.none)
        XCTAssertEqual(tracker.count, 0, "negative points count as zero")
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0), Verdict.none)
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0), .disconnect)
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0), .ban(until: t0 + .minutes(10)))
        XCTAssertEqual(config.points(for: .equivocation), 3)
    }

    func testResetForgetsASubject() {
        var tracker = MisbehaviourTracker()
        _ = tracker.record(.handshakeFailure, subject: a, now: t0)
        _ = tracker.record(.invalidRecord, subject: b, now: t0)
        tracker.reset(a)
        XCTAssertEqual(tracker.score(of: a, now: t0), 0)
        XCTAssertEqual(tracker.score(of: b, now: t0), 10)
        XCTAssertEqual(tracker.record(.invalidRecord, subject: a, now: t0), Verdict.none)
        tracker.reset(ip1)
        XCTAssertEqual(tracker.count, 2)
    }

    func testEvictionTakesLowestDecayedScoreThenOldestThenLowestSubject() {
        var config = MisbehaviourConfig()
        config.capacity = 3
        var tracker = MisbehaviourTracker(config: config)
        _ = tracker.record(.invalidRecord, subject: a, now: t0)                   // 10, last t0
        _ = tracker.record(.notAMember, subject: b, now: t0)                      // 20
        _ = tracker.record(.invalidRecord, subject: ip1, now: t0 + .seconds(1))   // 10, last t0+1
        _ = tracker.record(.invalidRecord, subject: c, now: t0 + .seconds(2))
        XCTAssertEqual(tracker.count, 3)
        XCTAssertEqual(tracker.score(of: a, now: t0 + .seconds(2)), 0, "lowest score, oldest: evicted")
        XCTAssertEqual(tracker.score(of: ip1, now: t0 + .seconds(2)), 10)
        _ = tracker.record(.invalidRecord, subject: ip2, now: t0 + .seconds(3))
        XCTAssertEqual(tracker.score(of: ip1, now: t0 + .seconds(3)), 0)
        XCTAssertEqual(tracker.score(of: b, now: t0 + .seconds(3)), 20)
        XCTAssertEqual(tracker.score(of: c, now: t0 + .seconds(3)), 10)
        XCTAssertEqual(tracker.score(of: ip2, now: t0 + .seconds(3)), 10)

        // Decay counts: a higher score that has decayed below another goes first.
        config.capacity = 2
        var decaying = MisbehaviourTracker(config: config)
        _ = decaying.record(.badSignature, subject: a, now: t0)
        _ = decaying.record(.notAMember, subject: b, now: t0 + .hours(2))
        _ = decaying.record(.invalidRecord, subject: c, now: t0 + .hours(2))
        XCTAssertEqual(decaying.score(of: a, now: t0 + .hours(2)), 0)
        XCTAssertEqual(decaying.score(of: b, now: t0 + .hours(2)), 20)
    }

    func testEvictionTieBreakIsIndependentOfInsertionOrder() {
        var config = MisbehaviourConfig()
        config.capacity = 3
        let subjects = [ip2, b, ip1]
        for order in [subjects, subjects.reversed(), [b, ip2, ip1]] {
            var tracker = MisbehaviourTracker(config: config)
            for s in order { _ = tracker.record(.invalidRecord, subject: s, now: t0) }
            _ = tracker.record(.invalidRecord, subject: a, now: t0)
            // Equal scores and times: the lowest subject (keys before addresses) goes.
            XCTAssertEqual(tracker.score(of: b, now: t0), 0)
            XCTAssertEqual(tracker.score(of: ip1, now: t0), 10)
            _ = tracker.record(.invalidRecord, subject: c, now: t0)
            XCTAssertEqual(tracker.score(of: a, now: t0), 0)
            XCTAssertEqual(tracker.score(of: ip1, now: t0), 10)
            XCTAssertEqual(tracker.score(of: ip2, now: t0), 10)
            XCTAssertEqual(tracker.score(of: c, now: t0), 10)
        }
    }

    func testSubjectOrderAndDescription() {
        XCTAssertLessThan(a, b)
        XCTAssertLessThan(b, ip1)
        XCTAssertLessThan(ip1, ip2)
        XCTAssertFalse(ip1 < a)
        XCTAssertEqual([ip2, b, ip1, a].sorted(), [a, b, ip1, ip2])
        XCTAssertEqual(ip1.description, "address 192.0.2.1")
        XCTAssertEqual(a.description, "key \(testKey(1).base64)")
    }
}
