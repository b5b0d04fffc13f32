import XCTest
import PexWire
@testable import PexCore

/// Keys and real signed records shared by the address-book tests (key derivation is the slow part).
private enum Fixture {
    static let network = "pex-test"
    static let t0: UInt64 = 1_800_000_000
    static let start = Instant.unix(seconds: t0)
    static let crypto = SodiumCrypto()
    static let secret = [UInt8](repeating: 7, count: 32)

    /// 10 000 deterministic identities.
    static let keyPairs: [KeyPair] = (0..<10_000).map { i in
        var seed = [UInt8](repeating: 0, count: 32)
        seed[0] = UInt8(truncatingIfNeeded: i)
        seed[1] = UInt8(truncatingIfNeeded: i >> 8)
        seed[31] = 0x5a
        return try! KeyPair(seed: seed)
    }

    static func key(_ i: Int) -> PublicKey { keyPairs[i].publicKey }

    /// A routable IPv4 address whose /16 (network group) is distinct for every `group` below 10 000.
    static func ip(group: Int, host: Int = 1) -> String {
        "\(11 + group / 256).\(group % 256).\(host / 256 % 256).\(host % 256)"
    }

    /// A real signed and verified record.
    static func record(
        _ i: Int, address: String? = nil, seq: UInt64 = 1, expiresAt: UInt64 = t0 + 20 * 24 * 3600
    ) -> VerifiedPeerRecord {
        let text = address ?? "/ip4/\(ip(group: i))/tcp/4000"
        let signed = try! SignedPeerRecord.create(
            keyPair: keyPairs[i], seq: seq, addresses: [try! Multiaddr(text)], networkID: network,
            expiresAt: expiresAt, crypto: crypto)
        return try! signed.verify(networkID: network, now: t0, crypto: crypto)
    }

    static func book(_ config: AddressBookConfig = AddressBookConfig(), secret: [UInt8] = secret) -> AddressBook {
        AddressBook(config: config, secret: secret, hash: { SodiumCrypto().hash256($0) })
    }
}

final class AddressBookTests: XCTestCase {
    let t0 = Fixture.start
    let sourceA: [UInt8] = [1, 200, 1]

    func at(_ seconds: UInt64) -> Instant { t0 + .seconds(seconds) }

    func assertConsistent(_ book: AddressBook, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(book.checkInvariants(), [], file: file, line: line)
    }

    func bucket(of entry: BookEntry) -> Int? {
        switch entry.location {
        case let .new(bucket, _), let .tried(bucket, _): bucket
        case .protected: nil
        }
    }

    // MARK: - Groups and placement

    func testAddressGroupUsesFirstIPThenDNSName() throws {
        let ipRecord = Fixture.record(0, address: "/ip4/11.22.33.44/tcp/1")
        XCTAssertEqual(AddressBook.addressGroup(of: ipRecord), [1, 11, 22])
        let dnsRecord = Fixture.record(1, address: "/dns4/Node.Example.ORG/tcp/1")
        XCTAssertEqual(AddressBook.addressGroup(of: dnsRecord), [0xfe] + Array("node.example.org".utf8))
        let signed = try SignedPeerRecord.create(
            keyPair: Fixture.keyPairs[2], seq: 1,
            addresses: [try Multiaddr("/dns6/a.example/tcp/1"), try Multiaddr("/ip6/2001:db9:1::1/tcp/2")],
            networkID: Fixture.network, expiresAt: Fixture.t0 + 60)
        let mixed = try signed.verify(networkID: Fixture.network, now: Fixture.t0)
        XCTAssertEqual(AddressBook.addressGroup(of: mixed), [2, 0x20, 0x01, 0x0d, 0xb9])
    }

    func testFloodFromOneSourceGroupIsBoundedToItsBuckets() {
        var book = Fixture.book()
        var added = 0, replacing = 0, dropped = 0
        // 10 000 distinct keys, each in its own /16, all from a single informant. With keyed
        // slots some replace earlier ones, but never beyond the informant's buckets.
        for i in 0..<10_000 {
            switch book.insert(Fixture.record(i), sourceGroup: sourceA, protected: false, now: t0) {
            case .added: added += 1
            case .addedOutranking: replacing += 1
            case .dropped: dropped += 1
            default: XCTFail("unexpected outcome for \(i)")
            }
        }
        let buckets = Set(book.entries.compactMap(bucket(of:)))
        XCTAssertLessThanOrEqual(buckets.count, 16)
        XCTAssertLessThanOrEqual(book.newCount, 16 * 32)
        // Under this secret two of the 16 bucket indices of the source land in one bucket.
        XCTAssertEqual(buckets.count, 15)
        XCTAssertEqual(book.newCount, 480)
        XCTAssertEqual(book.newCount, buckets.count * 32, "the reachable buckets are full")
        XCTAssertEqual(added, book.newCount)
        XCTAssertEqual(dropped, 10_000 - book.newCount - replacing)
        // A slot changes hands each time a key outranks all before it: for the ≈ 21 keys each
        // of the 480 slots drew, H(21) − 1 ≈ 2.6 times on average.
        XCTAssertGreaterThan(replacing, 480)
        XCTAssertLessThan(replacing, 480 * 4)
        XCTAssertEqual(book.triedCount, 0)
        assertConsistent(book)
    }

    /// A config without the group share, for tests of the bucket mechanics that need many
    /// entries of one group.
    static var unlimitedGroups: AddressBookConfig {
        var config = AddressBookConfig()
        config.maxGroupShare = 1
        return config
    }

    func testOneAddressGroupFromOneSourceReachesOneBucket() {
        var book = Fixture.book(Self.unlimitedGroups)
        // 300 keys in one /16 from one informant: the new bucket depends only on the two groups.
        for i in 0..<300 {
            book.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 5, host: i))/tcp/1"),
                        sourceGroup: sourceA, protected: false, now: t0)
        }
        XCTAssertEqual(Set(book.entries.compactMap(bucket(of:))).count, 1)
        XCTAssertEqual(book.newCount, 32)
        XCTAssertLessThanOrEqual(book.newCount, 32)
        // Another informant still gets its records in: the flood did not fill the table.
        XCTAssertEqual(book.insert(Fixture.record(400), sourceGroup: [1, 50, 50], protected: false, now: t0), .added)
        assertConsistent(book)
    }

    func testTriedPlacementIsBoundedPerAddressGroup() {
        var config = Self.unlimitedGroups
        config.maxPendingCollisions = 10
        var book = Fixture.book(config)
        // 1 500 keys of one /16, each heard from its own informant so that they spread over new.
        for i in 0..<1_500 {
            book.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 9, host: i))/tcp/1"),
                        sourceGroup: [1, UInt8(i / 256), UInt8(i % 256)], protected: false, now: t0)
        }
        let inNew = book.newCount
        var moved = 0, queued = 0, unqueued = 0
        for entry in book.entries {
            switch book.markSuccess(entry.publicKey, now: t0) {
            case .movedToTried: moved += 1
            case .collision(_, true): queued += 1
            case .collision(_, false): unqueued += 1
            default: XCTFail("unexpected outcome")
            }
        }
        let triedBuckets = Set(book.entries.filter { if case .tried = $0.location { true } else { false } }.compactMap(bucket(of:)))
        XCTAssertLessThanOrEqual(triedBuckets.count, 8)
        XCTAssertLessThanOrEqual(book.triedCount, 8 * 32)
        // Two of the group's 8 tried indices share a bucket under this secret.
        XCTAssertEqual(triedBuckets.count, 7)
        XCTAssertEqual(book.triedCount, 224)
        XCTAssertEqual(moved, book.triedCount)
        XCTAssertEqual(queued, 10)
        XCTAssertEqual(book.pendingCollisions.count, 10)
        XCTAssertEqual(moved + queued + unqueued, inNew)
        XCTAssertEqual(book.newCount, inNew - moved)
        assertConsistent(book)
    }

    // MARK: - Records and seq

    func testSeqUpdateUnchangedAndStale() {
        var book = Fixture.book()
        let r2 = Fixture.record(0, seq: 2), r3 = Fixture.record(0, address: "/ip4/99.1.2.3/tcp/9", seq: 3)
        XCTAssertEqual(book.insert(r2, sourceGroup: sourceA, protected: false, now: t0), .added)
        let placed = book.entry(for: Fixture.key(0))!.location
        XCTAssertEqual(book.insert(r3, sourceGroup: [9], protected: false, now: at(10)), .updated(previous: r2))
        var entry = book.entry(for: Fixture.key(0))!
        XCTAssertEqual(entry.record, r3)
        XCTAssertEqual(entry.location, placed, "an update keeps the placement")
        XCTAssertEqual(entry.sourceGroup, sourceA)
        XCTAssertEqual(entry.lastSeen, at(10))
        XCTAssertEqual(entry.addedAt, t0)

        XCTAssertEqual(book.insert(r3, sourceGroup: sourceA, protected: false, now: at(20)), .unchanged)
        entry = book.entry(for: Fixture.key(0))!
        XCTAssertEqual(entry.record, r3)
        XCTAssertEqual(entry.lastSeen, at(20))

        XCTAssertEqual(book.insert(r2, sourceGroup: sourceA, protected: true, now: at(30)), .stale)
        entry = book.entry(for: Fixture.key(0))!
        XCTAssertEqual(entry.record, r3)
        XCTAssertEqual(entry.lastSeen, at(20))
        XCTAssertEqual(entry.location, placed, "a stale insert changes nothing, not even protection")
        XCTAssertEqual(book.count, 1)
        assertConsistent(book)
    }

    /// Keys (from `range`) whose new slot, with `group` and `source`, is the same as key `first`'s.
    func newSlotMates(of first: Int, group: [UInt8], source: [UInt8], in range: Range<Int>, book: AddressBook) -> [Int] {
        let target = book.newPosition(key: Fixture.key(first), group: group, sourceGroup: source)
        return range.filter { $0 != first && book.newPosition(key: Fixture.key($0), group: group, sourceGroup: source) == target }
    }

    /// With first-come slots (`keyedNewSlots` off, Bitcoin Core's rule), only a terrible
    /// occupant yields its new-table slot.
    func testNewSlotCollisionReplacesOnlyATerribleOccupant() {
        var config = AddressBookConfig()
        config.keyedNewSlots = false
        var book = Fixture.book(config)
        let ipA = "/ip4/\(Fixture.ip(group: 3, host: 1))/tcp/1"
        let mates = newSlotMates(of: 0, group: [1, 11, 3], source: sourceA, in: 1..<400, book: book)
        XCTAssertGreaterThanOrEqual(mates.count, 2)
        XCTAssertEqual(book.insert(Fixture.record(0, address: ipA), sourceGroup: sourceA, protected: false, now: t0), .added)
        let newcomer = Fixture.record(mates[0], address: "/ip4/\(Fixture.ip(group: 3, host: 2))/tcp/1")
        XCTAssertEqual(book.insert(newcomer, sourceGroup: sourceA, protected: false, now: t0), .dropped)
        XCTAssertFalse(book.contains(Fixture.key(mates[0])))
        // Three failures without a success make the occupant terrible once the last try is a minute old.
        for s: UInt64 in [1, 2, 3] { book.markFailure(Fixture.key(0), now: at(s)) }
        XCTAssertEqual(book.insert(newcomer, sourceGroup: sourceA, protected: false, now: at(63)), .dropped)
        XCTAssertEqual(book.insert(newcomer, sourceGroup: sourceA, protected: false, now: at(64)), .addedReplacing(Fixture.key(0)))
        XCTAssertFalse(book.contains(Fixture.key(0)))
        XCTAssertEqual(book.count, 1)
        // A protected newcomer never competes for a slot.
        XCTAssertEqual(book.insert(Fixture.record(0, address: ipA), sourceGroup: sourceA, protected: true, now: at(64)), .added)
        XCTAssertEqual(book.entry(for: Fixture.key(0))?.location, .protected)
        assertConsistent(book)
    }

    /// A book (group share off) whose new bucket for address group 11.3/16 from `sourceA` has
    /// every slot taken but key 0's, by keys from 2 000 on that map elsewhere in the bucket.
    func bookWithBucketFullButKeyZerosSlot() -> (book: AddressBook, record: (Int) -> VerifiedPeerRecord) {
        var config = AddressBookConfig()
        config.maxGroupShare = 1
        var book = Fixture.book(config)
        let group: [UInt8] = [1, 11, 3]
        let target = book.newPosition(key: Fixture.key(0), group: group, sourceGroup: sourceA)
        func record(_ i: Int) -> VerifiedPeerRecord { Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 3, host: i + 1))/tcp/1") }
        for i in 2000..<4000 where book.newPosition(key: Fixture.key(i), group: group, sourceGroup: sourceA).slot != target.slot {
            _ = book.insert(record(i), sourceGroup: sourceA, protected: false, now: t0)
        }
        XCTAssertEqual(book.newCount, config.bucketSize - 1)
        XCTAssertFalse(book.isFull(newBucket: target.bucket))
        return (book, record)
    }

    /// Keyed slots (the default): in a full bucket, of the keys that map to one slot the book
    /// keeps the one its secret ranks highest, whatever order they come in, so a newcomer ranked
    /// lower than the occupant is dropped, one ranked higher replaces it, and the replaced key
    /// cannot come back. An occupant being dialled keeps its slot. In a bucket with room, the
    /// first comer keeps it.
    func testNewSlotInAFullBucketGoesToTheKeyRankedHighest() {
        var (book, record) = bookWithBucketFullButKeyZerosSlot()
        let mates = newSlotMates(of: 0, group: [1, 11, 3], source: sourceA, in: 1..<2000, book: book)
        let rank0 = book.slotPriority(Fixture.key(0))
        let lower = mates.filter { book.slotPriority(Fixture.key($0)) < rank0 }
        let higher = mates.filter { book.slotPriority(Fixture.key($0)) > rank0 }.sorted {
            book.slotPriority(Fixture.key($0)) < book.slotPriority(Fixture.key($1))
        }
        XCTAssertFalse(lower.isEmpty)
        XCTAssertGreaterThanOrEqual(higher.count, 2)
        // With a free slot elsewhere in the bucket, first come keeps the slot.
        var roomy = Fixture.book()
        XCTAssertEqual(roomy.insert(record(0), sourceGroup: sourceA, protected: false, now: t0), .added)
        XCTAssertEqual(roomy.insert(record(higher[0]), sourceGroup: sourceA, protected: false, now: at(120)), .dropped)

        XCTAssertEqual(book.insert(record(0), sourceGroup: sourceA, protected: false, now: t0), .added)
        XCTAssertEqual(book.insert(record(lower[0]), sourceGroup: sourceA, protected: false, now: t0), .dropped)
        // Being dialled protects the occupant for a minute.
        XCTAssertTrue(book.markAttempt(Fixture.key(0), now: at(1)))
        XCTAssertEqual(book.insert(record(higher[0]), sourceGroup: sourceA, protected: false, now: at(60)), .dropped)
        XCTAssertEqual(book.insert(record(higher[0]), sourceGroup: sourceA, protected: false, now: at(62)),
                       .addedOutranking(Fixture.key(0)))
        XCTAssertEqual(book.insert(record(0), sourceGroup: sourceA, protected: false, now: at(63)), .dropped)
        XCTAssertFalse(book.contains(Fixture.key(0)))
        // The highest-ranked key wins the slot and keeps it.
        XCTAssertEqual(book.insert(record(higher[1]), sourceGroup: sourceA, protected: false, now: at(64)),
                       .addedOutranking(Fixture.key(higher[0])))
        XCTAssertEqual(book.insert(record(higher[0]), sourceGroup: sourceA, protected: false, now: at(65)), .dropped)
        XCTAssertEqual(book.count, 32)
        assertConsistent(book)
    }

    /// An occupant the node reached (waiting in the new table for its tried slot, after a tried
    /// collision) is not replaced by a higher-ranked newcomer, even in a full bucket.
    func testReachedOccupantKeepsItsNewSlot() {
        var (book, record) = bookWithBucketFullButKeyZerosSlot()
        XCTAssertEqual(book.insert(record(0), sourceGroup: sourceA, protected: false, now: t0), .added)
        guard let occupant = book.entry(for: Fixture.key(0)) else { return XCTFail("key 0 not stored") }
        let mates = newSlotMates(of: 0, group: [1, 11, 3], source: sourceA, in: 1..<2000, book: book)
        let higher = mates.filter { book.slotPriority(Fixture.key($0)) > book.slotPriority(Fixture.key(0)) }
        XCTAssertFalse(higher.isEmpty)
        XCTAssertTrue(book.outranks(Fixture.key(higher[0]), occupant: occupant, now: at(3600)))
        var reached = occupant
        reached.lastSuccess = t0
        XCTAssertFalse(book.outranks(Fixture.key(higher[0]), occupant: reached, now: at(3600)))
        var tried = occupant
        tried.location = .tried(bucket: 0, slot: 0)
        XCTAssertFalse(book.outranks(Fixture.key(higher[0]), occupant: tried, now: at(3600)))
    }

    // MARK: - Protection

    func testProtectedEntriesLiveOutsideTheBuckets() {
        var config = AddressBookConfig()
        config.maxProtected = 2
        var book = Fixture.book(config)
        XCTAssertEqual(book.insert(Fixture.record(0), sourceGroup: [], protected: true, now: t0), .added)
        XCTAssertEqual(book.insert(Fixture.record(1), sourceGroup: sourceA, protected: false, now: t0), .added)
        XCTAssertEqual(book.insert(Fixture.record(2), sourceGroup: sourceA, protected: false, now: t0), .added)
        XCTAssertEqual([book.protectedCount, book.newCount, book.count], [1, 2, 3])
        // An unprotected entry inserted again as protected leaves its bucket.
        XCTAssertEqual(book.insert(Fixture.record(1), sourceGroup: sourceA, protected: true, now: t0), .unchanged)
        XCTAssertEqual(book.entry(for: Fixture.key(1))?.location, .protected)
        XCTAssertEqual([book.protectedCount, book.newCount], [2, 1])
        // The set is full now.
        XCTAssertEqual(book.insert(Fixture.record(3), sourceGroup: [], protected: true, now: t0), .dropped)
        XCTAssertEqual(book.setProtected(Fixture.key(2), true, now: t0), .protectedSetFull)
        XCTAssertEqual(book.insert(Fixture.record(2, seq: 2), sourceGroup: sourceA, protected: true, now: t0),
                       .updated(previous: Fixture.record(2)))
        guard case .new = book.entry(for: Fixture.key(2))!.location else { return XCTFail("should stay in new") }
        XCTAssertEqual(book.setProtected(Fixture.key(0), true, now: t0), .unchanged)
        XCTAssertEqual(book.setProtected(Fixture.key(2), false, now: t0), .unchanged)
        XCTAssertEqual(book.setProtected(Fixture.key(9), true, now: t0), .unknown)
        // Unprotecting places the entry at its new-table slot.
        XCTAssertEqual(book.setProtected(Fixture.key(1), false, now: t0), .movedToNew(replacing: nil))
        let expected = book.newPosition(key: Fixture.key(1), group: AddressBook.addressGroup(of: Fixture.record(1)), sourceGroup: sourceA)
        XCTAssertEqual(book.entry(for: Fixture.key(1))?.location, .new(bucket: expected.bucket, slot: expected.slot))
        XCTAssertEqual(book.setProtected(Fixture.key(2), true, now: t0), .protected)
        XCTAssertEqual([book.protectedCount, book.newCount], [2, 1])
        assertConsistent(book)
    }

    func testUnprotectingIntoATakenSlot() {
        var book = Fixture.book()
        let group = AddressBook.addressGroup(of: Fixture.record(0, address: "/ip4/\(Fixture.ip(group: 4, host: 0))/tcp/1"))
        let mates = newSlotMates(of: 0, group: group, source: sourceA, in: 1..<400, book: book)
        func rec(_ i: Int) -> VerifiedPeerRecord { Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 4, host: i))/tcp/1") }
        book.insert(rec(0), sourceGroup: sourceA, protected: true, now: t0)
        book.insert(rec(mates[0]), sourceGroup: sourceA, protected: false, now: t0)
        XCTAssertEqual(book.setProtected(Fixture.key(0), false, now: t0), .removed)
        XCTAssertFalse(book.contains(Fixture.key(0)))
        book.insert(rec(0), sourceGroup: sourceA, protected: true, now: t0)
        for s: UInt64 in [1, 2, 3] { book.markFailure(Fixture.key(mates[0]), now: at(s)) }
        XCTAssertEqual(book.setProtected(Fixture.key(0), false, now: at(100)), .movedToNew(replacing: Fixture.key(mates[0])))
        XCTAssertEqual(book.count, 1)
        assertConsistent(book)
    }

    // MARK: - Tried table and test-before-evict

    /// Two keys of one address group with the same tried slot, heard from different informants.
    func triedPair(book: AddressBook) -> (occupant: Int, newcomer: Int) {
        let group: [UInt8] = [1, 11, 7]
        var seen: [[Int]: Int] = [:]
        for i in 0..<2_000 {
            let p = book.triedPosition(key: Fixture.key(i), group: group)
            if let j = seen[[p.bucket, p.slot]] { return (j, i) }
            seen[[p.bucket, p.slot]] = i
        }
        fatalError("no tried collision among 2 000 keys")
    }

    func triedRecord(_ i: Int) -> VerifiedPeerRecord {
        Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 7, host: i))/tcp/1")
    }

    func collidingBook() -> (AddressBook, PublicKey, PublicKey) {
        var book = Fixture.book(Self.unlimitedGroups)
        let (a, b) = triedPair(book: book)
        book.insert(triedRecord(a), sourceGroup: [1, 1, 1], protected: false, now: t0)
        book.insert(triedRecord(b), sourceGroup: [1, 2, 2], protected: false, now: t0)
        guard case .movedToTried = book.markSuccess(Fixture.key(a), now: at(1)) else { fatalError("first success must move") }
        return (book, Fixture.key(a), Fixture.key(b))
    }

    func testCollisionWithReachableOccupantKeepsIt() {
        var (book, occupant, newcomer) = collidingBook()
        let occupantSlot = book.entry(for: occupant)!.location
        let newcomerSlot = book.entry(for: newcomer)!.location
        XCTAssertEqual(book.markSuccess(newcomer, now: at(10)), .collision(with: occupant, queued: true))
        XCTAssertEqual(book.markSuccess(newcomer, now: at(11)), .collision(with: occupant, queued: true))
        XCTAssertEqual(book.pendingCollisions, [PendingCollision(occupant: occupant, newcomer: newcomer, since: at(10))])
        XCTAssertEqual(book.entry(for: newcomer)?.location, newcomerSlot, "the newcomer waits in new")
        XCTAssertEqual(book.entry(for: newcomer)?.lastSuccess, at(11))
        XCTAssertEqual(book.resolveCollision(occupant: occupant, reachable: true, now: at(20)), .occupantKept)
        XCTAssertEqual(book.entry(for: occupant)?.location, occupantSlot)
        XCTAssertEqual(book.entry(for: occupant)?.lastSuccess, at(20))
        XCTAssertEqual(book.entry(for: newcomer)?.location, newcomerSlot)
        XCTAssertEqual(book.pendingCollisions, [])
        XCTAssertEqual(book.resolveCollision(occupant: occupant, reachable: false, now: at(21)), .notPending)
        assertConsistent(book)
    }

    func testCollisionWithUnreachableOccupantPromotesTheNewcomer() {
        var (book, occupant, newcomer) = collidingBook()
        let occupantSlot = book.entry(for: occupant)!.location
        XCTAssertEqual(book.markSuccess(newcomer, now: at(10)), .collision(with: occupant, queued: true))
        XCTAssertEqual(book.resolveCollision(occupant: occupant, reachable: false, now: at(20)),
                       .newcomerPromoted(newcomer: newcomer, removed: []))
        XCTAssertEqual(book.entry(for: newcomer)?.location, occupantSlot)
        let back = book.newPosition(key: occupant, group: [1, 11, 7], sourceGroup: [1, 1, 1])
        XCTAssertEqual(book.entry(for: occupant)?.location, .new(bucket: back.bucket, slot: back.slot))
        XCTAssertEqual(book.entry(for: occupant)?.attempts, 1)
        XCTAssertEqual(book.entry(for: occupant)?.lastTry, at(20))
        XCTAssertEqual([book.newCount, book.triedCount], [1, 1])
        XCTAssertEqual(book.pendingCollisions, [])
        assertConsistent(book)
    }

    func testUntestedCollisionResolvesAfterTheGrace() {
        var (book, occupant, newcomer) = collidingBook()
        XCTAssertEqual(book.markSuccess(newcomer, now: at(10)), .collision(with: occupant, queued: true))
        let deadline = at(10) + AddressBookConfig().replacementGrace
        XCTAssertEqual(book.nextExpiry, deadline)
        XCTAssertEqual(book.expire(now: deadline - .seconds(1)), [])
        XCTAssertEqual(book.pendingCollisions.count, 1)
        XCTAssertEqual(book.expire(now: deadline), [])
        XCTAssertEqual(book.pendingCollisions, [])
        guard case .tried = book.entry(for: newcomer)!.location else { return XCTFail("newcomer should be tried") }
        guard case .new = book.entry(for: occupant)!.location else { return XCTFail("occupant should be new") }
        XCTAssertEqual(book.entry(for: occupant)?.attempts, 0, "an untested occupant is not charged a failure")
        XCTAssertEqual(book.nextExpiry, Instant.unix(seconds: Fixture.t0 + 20 * 24 * 3600))
        assertConsistent(book)
    }

    func testDemotedOccupantIsDroppedWhenItsNewSlotIsHeld() {
        var (book, occupant, newcomer) = collidingBook()
        // Fill the occupant's new slot with a healthy entry from the same informant and group.
        let a = Fixture.keyPairs.firstIndex { $0.publicKey == occupant }!
        let mates = newSlotMates(of: a, group: [1, 11, 7], source: [1, 1, 1], in: 2_000..<3_000, book: book)
        book.insert(triedRecord(mates[0]), sourceGroup: [1, 1, 1], protected: false, now: t0)
        book.markSuccess(newcomer, now: at(10))
        XCTAssertEqual(book.resolveCollision(occupant: occupant, reachable: false, now: at(20)),
                       .newcomerPromoted(newcomer: newcomer, removed: [occupant]))
        XCTAssertFalse(book.contains(occupant))
        XCTAssertEqual([book.count, book.newCount, book.triedCount], [2, 1, 1])
        assertConsistent(book)

        // Same again, but the holder is terrible: it gives way to the demoted occupant.
        var (book2, occupant2, newcomer2) = collidingBook()
        book2.insert(triedRecord(mates[0]), sourceGroup: [1, 1, 1], protected: false, now: t0)
        for s: UInt64 in [1, 2, 3] { book2.markFailure(Fixture.key(mates[0]), now: at(s)) }
        book2.markSuccess(newcomer2, now: at(100))
        XCTAssertEqual(book2.resolveCollision(occupant: occupant2, reachable: false, now: at(200)),
                       .newcomerPromoted(newcomer: newcomer2, removed: [Fixture.key(mates[0])]))
        guard case .new = book2.entry(for: occupant2)!.location else { return XCTFail("occupant should be in new") }
        assertConsistent(book2)
    }

    func testCollisionQueueIsBoundedAndObsoleteCollisionsAreDropped() {
        var config = Self.unlimitedGroups
        config.maxPendingCollisions = 1
        var book = Fixture.book(config)
        let (a, b) = triedPair(book: book)
        for (i, source) in [(a, UInt8(1)), (b, 2)] {
            book.insert(triedRecord(i), sourceGroup: [1, source, source], protected: false, now: t0)
        }
        book.markSuccess(Fixture.key(a), now: t0)
        XCTAssertEqual(book.markSuccess(Fixture.key(b), now: t0), .collision(with: Fixture.key(a), queued: true))
        // A third key that collides with the same occupant is not queued twice.
        let c = (2_000..<4_000).first {
            book.triedPosition(key: Fixture.key($0), group: [1, 11, 7]) == book.triedPosition(key: Fixture.key(a), group: [1, 11, 7])
        }!
        book.insert(triedRecord(c), sourceGroup: [1, 3, 3], protected: false, now: t0)
        XCTAssertEqual(book.markSuccess(Fixture.key(c), now: t0), .collision(with: Fixture.key(a), queued: false))
        XCTAssertEqual(book.pendingCollisions.count, 1)

        // The newcomer's record moves it to another network: its collision no longer applies.
        book.insert(Fixture.record(b, address: "/ip4/77.77.1.1/tcp/1", seq: 2), sourceGroup: [1, 2, 2], protected: false, now: at(1))
        XCTAssertEqual(book.resolveCollision(occupant: Fixture.key(a), reachable: false, now: at(2)), .obsolete)
        XCTAssertEqual(book.pendingCollisions, [])
        // Removing a party of a collision forgets it.
        book.markSuccess(Fixture.key(c), now: at(3))
        XCTAssertEqual(book.pendingCollisions.count, 1)
        XCTAssertNotNil(book.remove(Fixture.key(c)))
        XCTAssertEqual(book.pendingCollisions, [])
        XCTAssertNil(book.remove(Fixture.key(c)))
        assertConsistent(book)
    }

    func testMarkSuccessOutcomesAndStatistics() {
        var book = Fixture.book()
        XCTAssertEqual(book.markSuccess(Fixture.key(0), now: t0), .unknown)
        XCTAssertFalse(book.markAttempt(Fixture.key(0), now: t0))
        XCTAssertFalse(book.markFailure(Fixture.key(0), now: t0))
        book.insert(Fixture.record(0), sourceGroup: [], protected: true, now: t0)
        book.insert(Fixture.record(1), sourceGroup: sourceA, protected: false, now: t0)
        XCTAssertTrue(book.markFailure(Fixture.key(1), now: at(5)))
        XCTAssertTrue(book.markAttempt(Fixture.key(1), now: at(6)))
        XCTAssertEqual(book.entry(for: Fixture.key(1))?.attempts, 1)
        XCTAssertEqual(book.entry(for: Fixture.key(1))?.lastTry, at(6))
        XCTAssertEqual(book.markSuccess(Fixture.key(0), now: at(7)), .protected)
        let expected = book.triedPosition(key: Fixture.key(1), group: AddressBook.addressGroup(of: Fixture.record(1)))
        XCTAssertEqual(book.markSuccess(Fixture.key(1), now: at(8)), .movedToTried(bucket: expected.bucket, slot: expected.slot))
        XCTAssertEqual(book.markSuccess(Fixture.key(1), now: at(9)), .alreadyTried)
        let entry = book.entry(for: Fixture.key(1))!
        XCTAssertEqual(entry.attempts, 0)
        XCTAssertEqual(entry.lastSuccess, at(9))
        XCTAssertEqual(entry.lastSeen, at(9))
        XCTAssertEqual(entry.location, .tried(bucket: expected.bucket, slot: expected.slot))
        XCTAssertEqual([book.newCount, book.triedCount, book.protectedCount], [0, 1, 1])
        assertConsistent(book)
    }

    // MARK: - Quality rules

    func testTerribleRulesAtExactTimes() {
        var short = AddressBookConfig()
        short.horizon = .hours(24)
        var shortBook = Fixture.book(short)
        shortBook.insert(Fixture.record(0), sourceGroup: sourceA, protected: false, now: t0)
        let fresh = shortBook.entry(for: Fixture.key(0))!
        XCTAssertFalse(shortBook.isTerrible(fresh, now: t0))
        XCTAssertFalse(shortBook.isTerrible(fresh, now: t0 + short.horizon))
        XCTAssertTrue(shortBook.isTerrible(fresh, now: t0 + short.horizon + TimeSpan(nanoseconds: 1)), "not seen for longer than the horizon")

        var book = Fixture.book()
        book.insert(Fixture.record(1, expiresAt: Fixture.t0 + 1000), sourceGroup: sourceA, protected: false, now: t0)
        let expiring = book.entry(for: Fixture.key(1))!
        XCTAssertFalse(book.isTerrible(expiring, now: at(999)))
        XCTAssertTrue(book.isTerrible(expiring, now: at(1000)))

        // Never succeeded: terrible from the third failure, once the last try is over a minute old.
        book.insert(Fixture.record(2), sourceGroup: sourceA, protected: false, now: t0)
        book.markFailure(Fixture.key(2), now: at(1))
        book.markFailure(Fixture.key(2), now: at(2))
        XCTAssertFalse(book.isTerrible(book.entry(for: Fixture.key(2))!, now: at(3600)))
        book.markFailure(Fixture.key(2), now: at(100))
        let thrice = book.entry(for: Fixture.key(2))!
        XCTAssertFalse(book.isTerrible(thrice, now: at(160)), "tried within the last minute")
        XCTAssertTrue(book.isTerrible(thrice, now: at(160) + TimeSpan(nanoseconds: 1)))

        // Succeeded once: terrible at ten failures when the success is older than the window.
        book.insert(Fixture.record(3), sourceGroup: sourceA, protected: false, now: t0)
        book.markSuccess(Fixture.key(3), now: t0)
        for s in 1...9 { book.markFailure(Fixture.key(3), now: at(UInt64(s))) }
        let window = AddressBookConfig().minFailWindow
        XCTAssertFalse(book.isTerrible(book.entry(for: Fixture.key(3))!, now: t0 + window + .seconds(1)))
        book.markFailure(Fixture.key(3), now: at(10))
        var tenFailures = book.entry(for: Fixture.key(3))!
        XCTAssertFalse(book.isTerrible(tenFailures, now: t0 + window))
        XCTAssertTrue(book.isTerrible(tenFailures, now: t0 + window + TimeSpan(nanoseconds: 1)))
        tenFailures.lastSuccess = nil
        tenFailures.attempts = 10
        XCTAssertTrue(book.isTerrible(tenFailures, now: at(3600)))
    }

    func testChance() {
        var book = Fixture.book()
        book.insert(Fixture.record(0), sourceGroup: sourceA, protected: false, now: t0)
        XCTAssertEqual(book.chance(book.entry(for: Fixture.key(0))!, now: t0), 1.0)
        book.markAttempt(Fixture.key(0), now: t0)
        XCTAssertEqual(book.chance(book.entry(for: Fixture.key(0))!, now: at(599)), 0.01, accuracy: 1e-12)
        XCTAssertEqual(book.chance(book.entry(for: Fixture.key(0))!, now: at(600)), 1.0)
        book.markFailure(Fixture.key(0), now: t0)
        book.markFailure(Fixture.key(0), now: t0)
        XCTAssertEqual(book.chance(book.entry(for: Fixture.key(0))!, now: at(3600)), 0.66 * 0.66, accuracy: 1e-12)
        for _ in 0..<10 { book.markFailure(Fixture.key(0), now: t0) }
        XCTAssertEqual(book.chance(book.entry(for: Fixture.key(0))!, now: at(3600)), pow(0.66, 8), accuracy: 1e-12)
    }

    func testExpireRemovesExpiredRecordsEverywhere() {
        var book = Fixture.book()
        let soon = Fixture.t0 + 100
        book.insert(Fixture.record(0, expiresAt: soon), sourceGroup: [], protected: true, now: t0)
        book.insert(Fixture.record(1, expiresAt: soon), sourceGroup: sourceA, protected: false, now: t0)
        book.insert(Fixture.record(2, expiresAt: soon), sourceGroup: sourceA, protected: false, now: t0)
        book.markSuccess(Fixture.key(2), now: t0)
        book.insert(Fixture.record(3, expiresAt: soon + 1), sourceGroup: sourceA, protected: false, now: t0)
        XCTAssertEqual(book.nextExpiry, Instant.unix(seconds: soon))
        XCTAssertEqual(book.expire(now: at(99)), [])
        XCTAssertEqual(book.count, 4)
        let removed = book.expire(now: at(100))
        XCTAssertEqual(removed, [Fixture.key(0), Fixture.key(1), Fixture.key(2)].sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) })
        XCTAssertEqual([book.count, book.protectedCount, book.newCount, book.triedCount], [1, 0, 1, 0])
        XCTAssertEqual(book.nextExpiry, Instant.unix(seconds: soon + 1))
        XCTAssertEqual(book.expire(now: at(101)), [Fixture.key(3)])
        XCTAssertNil(book.nextExpiry)
        assertConsistent(book)
    }

    // MARK: - Selection

    /// 40 new entries from distinct informants, 20 of them tried.
    func mixedBook() -> AddressBook {
        var book = Fixture.book()
        for i in 0..<40 {
            book.insert(Fixture.record(i), sourceGroup: [1, 100, UInt8(i)], protected: false, now: t0)
        }
        for i in 0..<20 { book.markSuccess(Fixture.key(i), now: t0) }
        return book
    }

    func testSelectionNeverReturnsExcludedKeys() {
        let book = mixedBook()
        // One success collided in tried (queued, untested), so that entry waits in new.
        XCTAssertEqual([book.newCount, book.triedCount], [21, 19])
        XCTAssertEqual(book.pendingCollisions.count, 1)
        let excluded = Set((0..<40).filter { $0 % 3 != 0 }.map(Fixture.key))
        var rng = SeededRandom(seed: 1)
        var picked = Set<PublicKey>()
        for _ in 0..<2_000 {
            let entry = book.select(now: at(3600), using: &rng, excluding: { excluded.contains($0) })
            XCTAssertNotNil(entry)
            if let entry { XCTAssertFalse(excluded.contains(entry.publicKey)); picked.insert(entry.publicKey) }
        }
        XCTAssertEqual(picked.count, 14, "every allowed key is reachable")
        // Only one key allowed: found even when probing misses it.
        let only = Fixture.key(39)
        for _ in 0..<50 {
            XCTAssertEqual(book.select(now: at(3600), using: &rng, excluding: { $0 != only })?.publicKey, only)
        }
    }

    func testSelectionTerminatesWhenEverythingIsExcludedOrEmpty() {
        let book = mixedBook()
        var rng = SeededRandom(seed: 2)
        for newOnly in [false, true] {
            XCTAssertNil(book.select(now: t0, using: &rng, newOnly: newOnly, excluding: { _ in true }))
        }
        let empty = Fixture.book()
        XCTAssertNil(empty.select(now: t0, using: &rng))
        XCTAssertNil(empty.select(now: t0, using: &rng, newOnly: true))
        var onlyTried = Fixture.book()
        onlyTried.insert(Fixture.record(0), sourceGroup: [], protected: true, now: t0)
        XCTAssertNil(onlyTried.select(now: t0, using: &rng, newOnly: true))
        XCTAssertEqual(onlyTried.select(now: t0, using: &rng)?.publicKey, Fixture.key(0))
    }

    func testSelectionSplitsBetweenTriedAndNewAndNewOnlyStaysNew() {
        var book = mixedBook()
        book.insert(Fixture.record(40), sourceGroup: [], protected: true, now: t0)
        var rng = SeededRandom(seed: 3)
        var triedSide = 0, protectedPicks = 0
        for _ in 0..<10_000 {
            guard let entry = book.select(now: at(3600), using: &rng) else { return XCTFail("empty pick") }
            if entry.isTriedSide { triedSide += 1 }
            if entry.location == .protected { protectedPicks += 1 }
        }
        XCTAssertEqual(triedSide, 4929)
        // Entries of the tried side are drawn uniformly, so the one protected entry gets its
        // share of that side and no more.
        XCTAssertEqual(protectedPicks, 240)
        XCTAssert((4_800...5_200).contains(triedSide))
        for _ in 0..<1_000 {
            guard case .new = book.select(now: at(3600), using: &rng, newOnly: true)?.location else { return XCTFail("not new") }
        }
    }

    func testSelectionPrefersFewerFailures() {
        var book = Fixture.book()
        for i in 0..<100 {
            book.insert(Fixture.record(i), sourceGroup: [1, 100, UInt8(i)], protected: false, now: t0)
            if i % 2 == 1 { for _ in 0..<4 { book.markFailure(Fixture.key(i), now: t0) } }
        }
        XCTAssertEqual(book.newCount, 100)
        var rng = SeededRandom(seed: 4)
        var healthy = 0, failing = 0
        for _ in 0..<10_000 {
            guard let entry = book.select(now: at(3600), using: &rng) else { return XCTFail("empty pick") }
            if entry.attempts == 0 { healthy += 1 } else { failing += 1 }
        }
        // Chance 1 against 0.66^4 ≈ 0.19: about 84 % of picks go to the healthy half.
        XCTAssertEqual(healthy, 8213)
        XCTAssertEqual(failing, 10_000 - 8213)
        XCTAssertGreaterThan(healthy, 7_500)
        // Recently tried entries are damped too.
        for i in stride(from: 0, to: 100, by: 2) { book.markAttempt(Fixture.key(i), now: at(3600)) }
        healthy = 0
        for _ in 0..<10_000 where book.select(now: at(3660), using: &rng)?.attempts == 0 { healthy += 1 }
        XCTAssertLessThan(healthy, 1_000)
    }

    // MARK: - Persistence and determinism

    func populatedBook(secret: [UInt8] = Fixture.secret, seed: UInt64 = 9) -> (AddressBook, [BookEntry?]) {
        var book = Fixture.book(secret: secret)
        var rng = SeededRandom(seed: seed)
        for i in 0..<300 {
            let protected = i % 50 == 0
            book.insert(Fixture.record(i), sourceGroup: [1, UInt8(rng.next() % 20), 0], protected: protected, now: at(UInt64(i)))
        }
        for i in 0..<300 {
            switch rng.next() % 4 {
            case 0: book.markSuccess(Fixture.key(i), now: at(400))
            case 1: book.markFailure(Fixture.key(i), now: at(401))
            case 2: book.markAttempt(Fixture.key(i), now: at(402))
            default: break
            }
        }
        let picks = (0..<50).map { _ in book.select(now: at(4000), using: &rng) }
        return (book, picks)
    }

    func testPersistenceRoundTrip() {
        let (book, _) = populatedBook()
        XCTAssertEqual(book.checkInvariants(), [])
        let saved = book.entries
        XCTAssertEqual(saved.map(\.publicKey), saved.map(\.publicKey).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) })
        var restored = Fixture.book()
        XCTAssertEqual(restored.restore(saved), [])
        XCTAssertEqual(restored.entries, saved)
        XCTAssertEqual([restored.newCount, restored.triedCount, restored.protectedCount],
                       [book.newCount, book.triedCount, book.protectedCount])
        assertConsistent(restored)
        // Already present keys are dropped.
        XCTAssertEqual(restored.restore(Array(saved.prefix(3))).count, 3)

        // Under another secret every position is derived again; what does not fit is returned.
        var other = Fixture.book(secret: [UInt8](repeating: 8, count: 32))
        let dropped = other.restore(saved)
        XCTAssertEqual(other.count + dropped.count, saved.count)
        XCTAssertEqual(other.protectedCount, 6)
        XCTAssertNotEqual(other.entries.map(\.location), saved.filter { e in !dropped.contains(e) }.map(\.location))
        assertConsistent(other)

        // A full protected set and taken tried slots fall back to new.
        var config = AddressBookConfig()
        config.maxProtected = 0
        var small = Fixture.book(config)
        let protectedEntry = saved.first { $0.location == .protected }!
        XCTAssertEqual(small.restore([protectedEntry]), [])
        guard case .new = small.entry(for: protectedEntry.publicKey)!.location else { return XCTFail("should be new") }
    }

    func testDeterminism() {
        let (a, picksA) = populatedBook()
        let (b, picksB) = populatedBook()
        XCTAssertEqual(a.entries, b.entries)
        XCTAssertEqual(picksA, picksB)
        XCTAssertEqual(picksA.compactMap { $0 }.count, 50)
        let (c, _) = populatedBook(secret: [UInt8](repeating: 9, count: 32))
        XCTAssertNotEqual(a.entries.map(\.location), c.entries.map(\.location), "the secret decides placement")
    }

    func testConfigCountsBelowOneAreRaised() {
        var config = AddressBookConfig()
        config.newBucketCount = 0
        config.triedBucketCount = -1
        config.bucketSize = 0
        config.newBucketsPerSourceGroup = 0
        config.triedBucketsPerGroup = 0
        config.maxProtected = -5
        config.maxPendingCollisions = -1
        var book = Fixture.book(config)
        XCTAssertEqual(book.config.newBucketCount, 1)
        XCTAssertEqual(book.config.bucketSize, 1)
        XCTAssertEqual(book.config.maxProtected, 0)
        XCTAssertEqual(book.insert(Fixture.record(0), sourceGroup: [], protected: false, now: t0), .added)
        XCTAssertEqual(book.insert(Fixture.record(1), sourceGroup: [], protected: false, now: t0), .dropped)
        XCTAssertEqual(book.insert(Fixture.record(2), sourceGroup: [], protected: true, now: t0), .dropped)
        XCTAssertEqual(book.markSuccess(Fixture.key(0), now: t0), .movedToTried(bucket: 0, slot: 0))
        assertConsistent(book)
    }

    func testOneGroupIsHeldToItsShareOfTheUnprotectedEntries() {
        var book = Fixture.book()
        // 27 peers in 27 other groups, from different informants (a slot collision skips one).
        var i = 0
        while book.count < 27 {
            book.insert(Fixture.record(1000 + i), sourceGroup: [1, 100, UInt8(i)], protected: false, now: t0)
            i += 1
        }
        // 40 keys of one /16, each relayed by a different informant (different buckets): with 27
        // others, 3 fit (3 / 30 = 10 %), the 4th would make 4 / 31 > 10 %.
        var added = 0
        for i in 0..<40 {
            let outcome = book.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 5, host: i))/tcp/1"),
                                      sourceGroup: [1, 150, UInt8(i)], protected: false, now: t0)
            if outcome == .added { added += 1 } else { XCTAssertEqual(outcome, .dropped) }
        }
        XCTAssertEqual(added, 3)
        // A protected member of that group is not held back, and does not count.
        XCTAssertEqual(book.insert(Fixture.record(50, address: "/ip4/\(Fixture.ip(group: 5, host: 50))/tcp/1"),
                                   sourceGroup: [], protected: true, now: t0), .added)
        // Known keys are refreshed and updated whatever their group's share.
        let first = Fixture.record(0, address: "/ip4/\(Fixture.ip(group: 5, host: 0))/tcp/1")
        XCTAssertEqual(book.insert(first, sourceGroup: sourceA, protected: false, now: t0), .unchanged)
        // Removing one makes room for another; a small book always takes `minEntriesPerGroup`.
        book.remove(first.publicKey)
        var readded = 0
        for i in 60..<70 where readded == 0 {
            if book.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 5, host: i))/tcp/1"),
                           sourceGroup: [1, 151, UInt8(i)], protected: false, now: t0) == .added { readded += 1 }
        }
        XCTAssertEqual(readded, 1)
        XCTAssertEqual(book.insert(Fixture.record(80, address: "/ip4/\(Fixture.ip(group: 5, host: 80))/tcp/1"),
                                   sourceGroup: [1, 152, 1], protected: false, now: t0), .dropped)
        var small = Fixture.book()
        for i in 0..<3 {
            let outcome = small.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 5, host: i))/tcp/1"),
                                       sourceGroup: [1, 150, UInt8(i)], protected: false, now: t0)
            XCTAssertEqual(outcome, i < 2 ? .added : .dropped)
        }
        // Unprotecting a member counts it again; the invariant check recounts every group.
        XCTAssertEqual(book.setProtected(Fixture.key(50), false, now: t0), .movedToNew(replacing: nil))
        assertConsistent(book)
        assertConsistent(small)
        var disabled = AddressBookConfig()
        disabled.maxGroupShare = 1
        var open = Fixture.book(disabled)
        for i in 0..<10 {
            XCTAssertEqual(open.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 5, host: i))/tcp/1"),
                                       sourceGroup: [1, 150, UInt8(i)], protected: false, now: t0), .added)
        }
    }

    /// The source share (§16.3): `sourceHasRoom` admits a source group up to
    /// `minEntriesPerSource` entries, then up to `maxSourceShare` of the unprotected entries;
    /// every unprotected entry counts for its source group, tried ones too, protected ones not.
    func testSourceShareCountsEveryUnprotectedEntryOfTheSource() {
        var book = Fixture.book()
        let flooder: [UInt8] = [1, 66, 77]
        func add(_ i: Int, from source: [UInt8], protected: Bool = false) {
            XCTAssertEqual(book.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 10 + i, host: 1))/tcp/1"),
                                       sourceGroup: source, protected: protected, now: t0), .added, "record \(i)")
        }
        for i in 0..<8 {
            XCTAssertTrue(book.sourceHasRoom(flooder), "below the floor at \(i)")
            add(i, from: flooder)
        }
        // 8 of 8: over 10 %, and at the floor.
        XCTAssertFalse(book.sourceHasRoom(flooder))
        XCTAssertTrue(book.sourceHasRoom(sourceA), "another source is not held back")
        // 80 entries from elsewhere: one more makes 9 of 89, just over 10 %; 81 make it 9 of 90.
        // (Records that find their new-table slot taken are passed over.)
        var next = 100
        func addOther() {
            while book.insert(Fixture.record(next, address: "/ip4/\(Fixture.ip(group: 10 + next, host: 1))/tcp/1"),
                              sourceGroup: [1, 201, UInt8(next % 200)], protected: false, now: t0) != .added { next += 1 }
            next += 1
        }
        for _ in 0..<80 { addOther() }
        XCTAssertEqual(book.count, 88)
        XCTAssertFalse(book.sourceHasRoom(flooder))
        addOther()
        XCTAssertTrue(book.sourceHasRoom(flooder))
        // A protected entry does not count; unprotecting it counts it again.
        add(300, from: [], protected: true)
        XCTAssertEqual(book.setProtected(Fixture.key(0), true, now: t0), .protected)
        XCTAssertTrue(book.sourceHasRoom(flooder))
        assertConsistent(book)
        XCTAssertEqual(book.setProtected(Fixture.key(0), false, now: t0), .movedToNew(replacing: nil))
        assertConsistent(book)
        // Moving to tried keeps the entry's source; removing it frees its place.
        if case .movedToTried = book.markSuccess(Fixture.key(1), now: t0) {} else { XCTFail("not moved to tried") }
        assertConsistent(book)
        book.remove(Fixture.key(2))
        book.remove(Fixture.key(3))
        XCTAssertTrue(book.sourceHasRoom(flooder))
        assertConsistent(book)
        // A restored book recounts the sources of its entries.
        var restored = Fixture.book()
        XCTAssertEqual(restored.restore(book.entries), [])
        XCTAssertEqual(restored.sourceHasRoom(flooder), book.sourceHasRoom(flooder))
        assertConsistent(restored)
        var disabled = AddressBookConfig()
        disabled.maxSourceShare = 1
        var open = Fixture.book(disabled)
        for i in 0..<20 {
            _ = open.insert(Fixture.record(i, address: "/ip4/\(Fixture.ip(group: 10 + i, host: 1))/tcp/1"),
                            sourceGroup: flooder, protected: false, now: t0)
        }
        XCTAssertTrue(open.sourceHasRoom(flooder))
    }

    func testInvariantCheckerDetectsCorruption() {
        var book = Fixture.book()
        book.insert(Fixture.record(0), sourceGroup: sourceA, protected: false, now: t0)
        book.insert(Fixture.record(1), sourceGroup: [], protected: true, now: t0)
        assertConsistent(book)

        var miscounted = book
        miscounted.newCount += 1
        XCTAssertEqual(miscounted.checkInvariants().count, 2)

        var duplicated = book
        let index = duplicated.newTable.firstIndex { $0 == nil }!
        duplicated.newTable[index] = Fixture.key(1)
        XCTAssertFalse(duplicated.checkInvariants().isEmpty)

        var wrongRecord = book
        wrongRecord.book[Fixture.key(0)]?.record = Fixture.record(2)
        // Another key's record, and (record 2 names another /16) group counts out of step.
        XCTAssertEqual(wrongRecord.checkInvariants().count, 2)

        var badCollision = book
        let bogus = PendingCollision(occupant: Fixture.key(0), newcomer: Fixture.key(1), since: t0)
        badCollision.pending = [bogus, bogus]
        XCTAssertEqual(badCollision.checkInvariants().count, 5, "\(badCollision.checkInvariants())")
    }
}
