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

final class BanListTests: XCTestCase {
    let t0 = Instant.unix(seconds: 1_700_000_000)
    let k1 = BanSubject.key(testKey(1))
    let k2 = BanSubject.key(testKey(2))
    let k3 = BanSubject.key(testKey(3))
    let ip1 = BanSubject.address(IPAddress(ipv4: 198, 51, 100, 1))
    let ip2 = BanSubject.address(IPAddress(ipv4: 198, 51, 100, 2))

    func testBanEndsExactlyAtItsInstant() {
        var list = BanList()
        XCTAssertEqual(list.capacity, 10_000)
        let until = t0 + .seconds(10)
        XCTAssertEqual(list.ban(k1, until: until, reason: "equivocation"),
                       BanEntry(subject: k1, until: until, reason: "equivocation"))
        XCTAssertTrue(list.isBanned(k1, now: t0))
        XCTAssertTrue(list.isBanned(k1, now: until - TimeSpan(nanoseconds: 1)))
        XCTAssertFalse(list.isBanned(k1, now: until))
        XCTAssertFalse(list.isBanned(k2, now: t0))
        XCTAssertFalse(list.isBanned(ip1, now: t0))
        XCTAssertEqual(list.expire(now: until - TimeSpan(nanoseconds: 1)), [])
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.expire(now: until), [BanEntry(subject: k1, until: until, reason: "equivocation")])
        XCTAssertEqual(list.count, 0)
        XCTAssertNil(list.nextExpiry)
    }

    func testKeyAndAddressBansAreSeparate() {
        var list = BanList()
        list.ban(ip1, until: t0 + .hours(1), reason: "malformed-frame")
        XCTAssertTrue(list.isBanned(ip1, now: t0))
        XCTAssertFalse(list.isBanned(ip2, now: t0))
        XCTAssertFalse(list.isBanned(k1, now: t0))
        XCTAssertEqual(list.entry(for: ip1)?.reason, "malformed-frame")
        XCTAssertNil(list.entry(for: k1))
    }

    func testExtendingKeepsTheLaterEnd() {
        var list = BanList()
        list.ban(k1, until: t0 + .seconds(100), reason: "first")
        XCTAssertEqual(list.ban(k1, until: t0 + .seconds(50), reason: "shorter"),
                       BanEntry(subject: k1, until: t0 + .seconds(100), reason: "first"))
        XCTAssertEqual(list.ban(k1, until: t0 + .seconds(100), reason: "same"),
                       BanEntry(subject: k1, until: t0 + .seconds(100), reason: "first"))
        XCTAssertEqual(list.ban(k1, until: t0 + .seconds(200), reason: "longer"),
                       BanEntry(subject: k1, until: t0 + .seconds(200), reason: "longer"))
        XCTAssertEqual(list.count, 1)
        XCTAssertTrue(list.isBanned(k1, now: t0 + .seconds(150)))
    }

    func testLift() {
        var list = BanList()
        list.ban(k1, until: t0 + .hours(24), reason: "r")
        XCTAssertEqual(list.lift(k1)?.until, t0 + .hours(24))
        XCTAssertFalse(list.isBanned(k1, now: t0))
        XCTAssertNil(list.lift(k1))
    }

    func testFullListKeepsTheBansThatEndLatest() {
        var list = BanList(capacity: 3)
        list.ban(k1, until: t0 + .seconds(30), reason: "a")
        list.ban(k2, until: t0 + .seconds(10), reason: "b")
        list.ban(k3, until: t0 + .seconds(20), reason: "c")
        XCTAssertEqual(list.nextExpiry, t0 + .seconds(10))
        // Evicts k2, which ends soonest.
        XCTAssertNotNil(list.ban(ip1, until: t0 + .seconds(25), reason: "d"))
        XCTAssertNil(list.entry(for: k2))
        XCTAssertEqual(list.nextExpiry, t0 + .seconds(20))
        // Ends sooner than everything held: refused, nothing changes.
        XCTAssertNil(list.ban(ip2, until: t0 + .seconds(5), reason: "e"))
        XCTAssertEqual(list.entries.map(\.subject), [k1, k3, ip1])
        // Equal end: the lower subject is the sooner one. k3 (a key) goes before ip2 (an address).
        XCTAssertNotNil(list.ban(ip2, until: t0 + .seconds(20), reason: "f"))
        XCTAssertEqual(list.entries.map(\.subject), [k1, ip1, ip2])
        // …and a new key tying with ip2 ranks lower, so it is refused.
        XCTAssertNil(list.ban(k2, until: t0 + .seconds(20), reason: "g"))
        // Extending a held ban needs no room.
        XCTAssertEqual(list.ban(ip2, until: t0 + .seconds(90), reason: "h")?.until, t0 + .seconds(90))
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(BanList(capacity: 0).capacity, 1)
    }

    func testBoundedUnderManyBans() {
        var list = BanList(capacity: 100)
        // 1000 addresses with ends in a scrambled order; the 100 latest-ending survive.
        for i in 0..<1000 {
            let end = (i * 7919) % 1000
            let ip = IPAddress(ipv4: 10, 0, UInt8(i / 256), UInt8(i % 256))
            list.ban(.address(ip), until: t0 + .seconds(UInt64(end)), reason: "r")
        }
        XCTAssertEqual(list.count, 100)
        XCTAssertEqual(list.entries.map(\.until.unixSeconds).sorted(), (900..<1000).map { t0.unixSeconds + UInt64($0) })
    }

    func testExpireReturnsEndedBansInOrder() {
        var list = BanList()
        list.ban(ip2, until: t0 + .seconds(5), reason: "a")
        list.ban(k2, until: t0 + .seconds(5), reason: "b")
        list.ban(k1, until: t0 + .seconds(3), reason: "c")
        list.ban(k3, until: t0 + .seconds(9), reason: "d")
        XCTAssertEqual(list.expire(now: t0 + .seconds(5)).map(\.subject), [k1, k2, ip2])
        XCTAssertEqual(list.entries.map(\.subject), [k3])
        XCTAssertEqual(list.nextExpiry, t0 + .seconds(9))
    }

    func testPersistAndRestore() {
        var list = BanList()
        list.ban(ip1, until: t0 + .seconds(40), reason: "a")
        list.ban(k2, until: t0 + .seconds(10), reason: "b")
        list.ban(k1, until: t0 + .seconds(30), reason: "c")
        let saved = list.entries
        XCTAssertEqual(saved.map(\.subject), [k1, k2, ip1])

        var fresh = BanList()
        fresh.restore(saved, now: t0 + .seconds(10))
        XCTAssertEqual(fresh.entries, saved.filter { $0.subject != k2 }, "ended bans are skipped")

        // A smaller list keeps the same two bans whatever the input order.
        for input in [saved, saved.reversed(), [saved[1], saved[2], saved[0]]] {
            var small = BanList(capacity: 2)
            small.restore(input, now: t0)
            XCTAssertEqual(small.entries.map(\.subject), [k1, ip1])
        }

        // Restoring merges: a later persisted end extends a held ban, an earlier one does not.
        var merged = BanList()
        merged.ban(k1, until: t0 + .seconds(100), reason: "held")
        merged.ban(ip1, until: t0 + .seconds(5), reason: "held")
        merged.restore(saved, now: t0)
        XCTAssertEqual(merged.entry(for: k1), BanEntry(subject: k1, until: t0 + .seconds(100), reason: "held"))
        XCTAssertEqual(merged.entry(for: ip1), BanEntry(subject: ip1, until: t0 + .seconds(40), reason: "a"))
        XCTAssertEqual(merged.count, 3)
    }
}
