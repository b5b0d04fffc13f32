import XCTest
import PexWire
@testable import PexCore

final class CachesTests: XCTestCase {
    func testInsertReportsNewnessAndEvictsOldestFirst() {
        var set = BoundedSet<Int>(capacity: 3)
        XCTAssertTrue(set.isEmpty)
        XCTAssertTrue(set.insert(1))
        XCTAssertTrue(set.insert(2))
        XCTAssertFalse(set.insert(1))
        XCTAssertTrue(set.insert(3))
        XCTAssertEqual(set.count, 3)
        XCTAssertEqual(set.elements, [1, 2, 3])

        // Full: 4 evicts 1, the oldest, although 1 was re-inserted after 2 (no refresh).
        XCTAssertTrue(set.insert(4))
        XCTAssertEqual(set.count, 3)
        XCTAssertFalse(set.contains(1))
        XCTAssertTrue(set.contains(2))
        XCTAssertEqual(set.elements, [2, 3, 4])

        XCTAssertTrue(set.insert(5))
        XCTAssertTrue(set.insert(6))
        XCTAssertEqual(set.elements, [4, 5, 6])
        XCTAssertEqual([1, 2, 3].filter(set.contains), [])
        // An evicted element is new again.
        XCTAssertTrue(set.insert(1))
        XCTAssertEqual(set.elements, [5, 6, 1])
        XCTAssertEqual(set.capacity, 3)
    }

    func testWrapsManyTimesAndKeepsExactlyTheLastCapacityElements() {
        var set = BoundedSet<Int>(capacity: 7)
        for i in 0..<1000 { XCTAssertTrue(set.insert(i)) }
        XCTAssertEqual(set.count, 7)
        XCTAssertEqual(set.elements, Array(993..<1000))
        XCTAssertFalse(set.contains(992))
        XCTAssertTrue(set.contains(993))
    }

    func testZeroAndNegativeCapacityKeepNothing() {
        var zero = BoundedSet<String>(capacity: 0)
        XCTAssertTrue(zero.insert("a"))
        XCTAssertTrue(zero.insert("a"))
        XCTAssertFalse(zero.contains("a"))
        XCTAssertEqual(zero.count, 0)
        XCTAssertEqual(BoundedSet<Int>(capacity: -5).capacity, 0)
    }

    func testRemoveAllStartsOver() {
        var set = BoundedSet<Int>(capacity: 2)
        set.insert(1); set.insert(2); set.insert(3)
        set.removeAll()
        XCTAssertEqual(set.count, 0)
        XCTAssertFalse(set.contains(3))
        XCTAssertEqual(set.elements, [])
        set.insert(4); set.insert(5); set.insert(6)
        XCTAssertEqual(set.elements, [5, 6])
    }

    func testSeenCacheKeysByKeyAndSeq() throws {
        let alice = try KeyPair(seed: [UInt8](repeating: 1, count: 32)).publicKey
        let bob = try KeyPair(seed: [UInt8](repeating: 2, count: 32)).publicKey
        var seen = SeenCache(capacity: 2)
        XCTAssertEqual(seen.capacity, 2)
        XCTAssertTrue(seen.insert(publicKey: alice, seq: 1))
        XCTAssertFalse(seen.insert(publicKey: alice, seq: 1))
        XCTAssertTrue(seen.contains(publicKey: alice, seq: 1))
        XCTAssertFalse(seen.contains(publicKey: alice, seq: 2))
        XCTAssertFalse(seen.contains(publicKey: bob, seq: 1))
        XCTAssertTrue(seen.insert(publicKey: bob, seq: 1))
        XCTAssertEqual(seen.count, 2)
        // Third pair evicts the first.
        XCTAssertTrue(seen.insert(publicKey: alice, seq: 2))
        XCTAssertFalse(seen.contains(publicKey: alice, seq: 1))
        XCTAssertTrue(seen.contains(publicKey: bob, seq: 1))
        XCTAssertEqual(seen.count, 2)
        seen.removeAll()
        XCTAssertEqual(seen.count, 0)
        XCTAssertFalse(seen.contains(publicKey: bob, seq: 1))
    }

    func testSeenCacheTakesVerifiedRecords() throws {
        let key = try KeyPair(seed: [UInt8](repeating: 3, count: 32))
        let now: UInt64 = 1_800_000_000
        func record(seq: UInt64, port: Int) throws -> VerifiedPeerRecord {
            try SignedPeerRecord.create(
                keyPair: key, seq: seq, addresses: [Multiaddr("/ip4/8.8.8.8/tcp/\(port)")], networkID: "net",
                expiresAt: now + 60
            ).verify(networkID: "net", now: now)
        }
        var seen = SeenCache(capacity: 10)
        XCTAssertTrue(seen.insert(try record(seq: 1, port: 1)))
        XCTAssertTrue(seen.contains(try record(seq: 1, port: 1)))
        // Same key and seq, other bytes: already seen (the validator reports the equivocation).
        XCTAssertTrue(seen.contains(try record(seq: 1, port: 2)))
        XCTAssertFalse(seen.insert(try record(seq: 1, port: 2)))
        XCTAssertFalse(seen.contains(try record(seq: 2, port: 1)))
        XCTAssertTrue(seen.contains(publicKey: key.publicKey, seq: 1))
    }
}
