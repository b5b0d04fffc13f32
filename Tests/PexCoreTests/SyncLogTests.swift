import PexWire
import XCTest

@testable import PexCore

final class SyncLogTests: XCTestCase {
    private static let epoch: UInt64 = 0xE90C

    /// A distinct key per index (first two bytes); the log never checks curve points.
    private func key(_ index: Int) -> PublicKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8(index & 0xFF)
        bytes[1] = UInt8(index >> 8)
        guard let key = PublicKey(unvalidated: bytes) else { fatalError("32 bytes always wrap") }
        return key
    }

    private func entry(_ index: Int, _ position: UInt64) -> SyncLog.Entry {
        SyncLog.Entry(key: key(index), position: position)
    }

    private func cursor(_ position: UInt64, epoch: UInt64 = SyncLogTests.epoch) -> SyncCursor {
        SyncCursor(epoch: epoch, position: position)
    }

    /// A log of the current epoch in which keys 1...count changed once each, in order.
    private func changedLog(keys count: Int) -> SyncLog {
        var log = SyncLog(epoch: Self.epoch)
        for i in 1...count { log.noteChange(key(i)) }
        return log
    }

    // MARK: - Basic semantics

    func testEmptyLog() {
        let log = SyncLog(epoch: Self.epoch)
        XCTAssertEqual(log.head, 0)
        XCTAssertEqual(log.count, 0)
        XCTAssertEqual(log.entries, [])
        let full = log.page(after: nil, limit: 10)
        XCTAssertEqual(full, SyncPage(items: [], full: true, next: cursor(0), more: false, start: 0))
        let delta = log.page(after: cursor(0), limit: 10)
        XCTAssertEqual(delta, SyncPage(items: [], full: false, next: cursor(0), more: false, start: 0))
    }

    func testChangesTakeIncreasingPositionsAndUpdatesMoveToTheEnd() {
        var log = SyncLog(epoch: Self.epoch)
        XCTAssertEqual(log.noteChange(key(1)), 1)
        XCTAssertEqual(log.noteChange(key(2)), 2)
        XCTAssertEqual(log.noteChange(key(3)), 3)
        XCTAssertEqual(log.noteChange(key(1)), 4)
        XCTAssertEqual(log.head, 4)
        XCTAssertEqual(log.count, 3)
        XCTAssertEqual(log.position(of: key(1)), 4)
        XCTAssertNil(log.position(of: key(9)))
        XCTAssertEqual(log.entries, [entry(2, 2), entry(3, 3), entry(1, 4)])

        XCTAssertEqual(
            log.page(after: nil, limit: 10),
            SyncPage(items: [entry(2, 2), entry(3, 3), entry(1, 4)], full: true, next: cursor(4), more: false, start: 0))
        XCTAssertEqual(
            log.page(after: cursor(2), limit: 10),
            SyncPage(items: [entry(3, 3), entry(1, 4)], full: false, next: cursor(4), more: false, start: 2))
        // Key 1's superseded position 1 is not listed again after cursor 0.
        XCTAssertEqual(log.page(after: cursor(0), limit: 10).items, [entry(2, 2), entry(3, 3), entry(1, 4)])
        XCTAssertEqual(
            log.page(after: cursor(4), limit: 10),
            SyncPage(items: [], full: false, next: cursor(4), more: false, start: 4))
    }

    func testRemovalStopsListingWithoutMovingHead() {
        var log = changedLog(keys: 4)
        log.noteRemoval(key(3))
        log.noteRemoval(key(99))  // unknown: ignored
        XCTAssertEqual(log.head, 4)
        XCTAssertEqual(log.count, 3)
        XCTAssertNil(log.position(of: key(3)))
        XCTAssertEqual(log.page(after: nil, limit: 10).items, [entry(1, 1), entry(2, 2), entry(4, 4)])
        XCTAssertEqual(log.page(after: cursor(2), limit: 10).items, [entry(4, 4)])
        // A removed key that comes back takes a new position.
        XCTAssertEqual(log.noteChange(key(3)), 5)
        XCTAssertEqual(log.page(after: cursor(4), limit: 10).items, [entry(3, 5)])
    }

    func testPagingWithLimits() {
        let log = changedLog(keys: 5)
        let first = log.page(after: nil, limit: 2)
        XCTAssertEqual(first, SyncPage(items: [entry(1, 1), entry(2, 2)], full: true, next: cursor(2), more: true, start: 0))
        let second = log.page(after: first.next, limit: 2)
        XCTAssertEqual(second, SyncPage(items: [entry(3, 3), entry(4, 4)], full: false, next: cursor(4), more: true, start: 2))
        let third = log.page(after: second.next, limit: 2)
        XCTAssertEqual(third, SyncPage(items: [entry(5, 5)], full: false, next: cursor(5), more: false, start: 4))
        // Exactly the remaining count: complete, next is the head.
        XCTAssertEqual(log.page(after: cursor(3), limit: 2), SyncPage(items: [entry(4, 4), entry(5, 5)], full: false, next: cursor(5), more: false, start: 3))
        // Limits below 1 still make progress.
        XCTAssertEqual(log.page(after: nil, limit: 0).items, [entry(1, 1)])
        XCTAssertEqual(log.page(after: nil, limit: -7).more, true)
    }

    func testTrailingStaleEntriesDoNotSetMore() {
        var log = changedLog(keys: 4)
        log.noteRemoval(key(4))
        let page = log.page(after: nil, limit: 3)
        XCTAssertEqual(page, SyncPage(items: [entry(1, 1), entry(2, 2), entry(3, 3)], full: true, next: cursor(4), more: false, start: 0))
    }

    func testUnknownEpochOrFuturePositionGetsTheFullList() {
        let log = changedLog(keys: 3)
        let all = [entry(1, 1), entry(2, 2), entry(3, 3)]
        let expected = SyncPage(items: all, full: true, next: cursor(3), more: false, start: 0)
        XCTAssertEqual(log.page(after: cursor(2, epoch: Self.epoch + 1), limit: 10), expected)
        XCTAssertEqual(log.page(after: cursor(4), limit: 10), expected)
        XCTAssertEqual(log.page(after: cursor(.max), limit: 10), expected)
        XCTAssertFalse(log.answersDelta(nil))
        XCTAssertFalse(log.answersDelta(cursor(4)))
        XCTAssertTrue(log.answersDelta(cursor(3)))
        XCTAssertTrue(log.answersDelta(cursor(0)))
    }

    func testTruncatedPageResumesAfterTheLastItemSent() {
        let log = changedLog(keys: 5)
        let page = log.page(after: cursor(1), limit: 10)
        XCTAssertFalse(page.more)
        XCTAssertEqual(page.truncated(to: 5), page)
        XCTAssertEqual(page.truncated(to: 4), page)

        let cut = page.truncated(to: 2)
        XCTAssertEqual(cut, SyncPage(items: [entry(2, 2), entry(3, 3)], full: false, next: cursor(3), more: true, start: 1))
        XCTAssertEqual(log.page(after: cut.next, limit: 10).items, [entry(4, 4), entry(5, 5)])

        // Nothing sent: resume where the request started.
        let none = page.truncated(to: -1)
        XCTAssertEqual(none, SyncPage(items: [], full: false, next: cursor(1), more: true, start: 1))
        let fullNone = log.page(after: nil, limit: 10).truncated(to: 0)
        XCTAssertEqual(fullNone.next, cursor(0))
        XCTAssertEqual(log.page(after: fullNone.next, limit: 10).items.count, 5)
    }

    // MARK: - Compaction

    func testCompactionBoundsMemoryAndKeepsSemantics() {
        var log = SyncLog(epoch: Self.epoch)
        var maxStored = 0
        for step in 0..<10_000 {
            log.noteChange(key(step % 3))
            maxStored = max(maxStored, log.storedEntryCount)
        }
        // Stale entries never exceed half after a call: at most 2 × 3 live (the 7th entry
        // triggers compaction back to 3).
        XCTAssertEqual(maxStored, 6)
        XCTAssertEqual(log.head, 10_000)
        XCTAssertEqual(log.entries, [entry(1, 9_998), entry(2, 9_999), entry(0, 10_000)])
        XCTAssertEqual(log.page(after: cursor(9_998), limit: 10).items, [entry(2, 9_999), entry(0, 10_000)])
        XCTAssertEqual(log.page(after: cursor(5), limit: 1), SyncPage(items: [entry(1, 9_998)], full: false, next: cursor(9_998), more: true, start: 5))

        // Removing every key empties the array.
        for i in 0..<3 { log.noteRemoval(key(i)) }
        XCTAssertEqual(log.storedEntryCount, 0)
        XCTAssertEqual(log.page(after: cursor(17), limit: 10), SyncPage(items: [], full: false, next: cursor(10_000), more: false, start: 17))
    }

    // MARK: - Persistence

    func testRestoreRoundTrip() throws {
        var log = changedLog(keys: 6)
        log.noteChange(key(2))
        log.noteRemoval(key(4))
        log.noteChange(key(7))
        log.noteRemoval(key(7))

        var restored = try SyncLog(restoring: log.entries.reversed(), epoch: log.epoch, head: log.head)
        XCTAssertEqual(restored.epoch, Self.epoch)
        XCTAssertEqual(restored.head, 8)
        XCTAssertEqual(restored.entries, log.entries)
        XCTAssertEqual(restored.page(after: cursor(3), limit: 10), log.page(after: cursor(3), limit: 10))
        XCTAssertEqual(restored.noteChange(key(1)), 9)
    }

    func testRestoreRejectsInconsistentData() {
        func rejects(_ entries: [SyncLog.Entry], head: UInt64, _ expected: SyncLogError, line: UInt = #line) {
            XCTAssertThrowsError(try SyncLog(restoring: entries, epoch: 1, head: head), line: line) { error in
                XCTAssertEqual(error as? SyncLogError, expected, line: line)
            }
        }
        rejects([entry(1, 1), entry(1, 2)], head: 2, .duplicateKey(key(1)))
        rejects([entry(1, 2), entry(2, 2)], head: 2, .duplicatePosition(2))
        rejects([entry(1, 0)], head: 2, .positionOutOfRange(position: 0, head: 2))
        rejects([entry(1, 3)], head: 2, .positionOutOfRange(position: 3, head: 2))
        rejects([], head: .max, .headOutOfRange(.max))
        XCTAssertEqual(SyncLogError.duplicateKey(key(1)).reason, "duplicate-key")
        XCTAssertEqual(SyncLogError.duplicatePosition(1).reason, "duplicate-position")
        XCTAssertEqual(SyncLogError.positionOutOfRange(position: 0, head: 0).reason, "position-out-of-range")
        XCTAssertEqual(SyncLogError.headOutOfRange(0).reason, "head-out-of-range")
        XCTAssertNoThrow(try SyncLog(restoring: [], epoch: 1, head: SyncLog.maxRestorableHead))
    }

    // MARK: - Full-list cache

    /// Follows a full listing from `cache` to `more == false`.
    private func listing(_ cache: inout FullListCache, _ log: SyncLog, limit: Int, now: Instant,
                         _ random: inout SeededRandom) -> (items: [SyncLog.Entry], pages: [SyncPage]) {
        var pages: [SyncPage] = []
        var since: SyncCursor? = nil
        repeat {
            let page = cache.respond(log: log, after: since, limit: limit, now: now, random: &random)
            pages.append(page)
            since = page.next
        } while pages.last!.more && pages.count < 1_000
        return (pages.flatMap(\.items), pages)
    }

    func testFullListCacheServesOneShuffledSnapshotPerWindow() {
        var log = changedLog(keys: 40)
        var random = SeededRandom(seed: 9)
        var cache = FullListCache(window: .seconds(60))
        let t0 = Instant.unix(seconds: 1_000)

        let first = listing(&cache, log, limit: 7, now: t0, &random)
        // Every live key once, not in log order, and the listing ends at the log's head.
        XCTAssertEqual(Set(first.items), Set(log.entries))
        XCTAssertEqual(first.items.count, 40)
        XCTAssertNotEqual(first.items, log.entries, "the snapshot is shuffled")
        XCTAssertEqual(first.pages.last?.next, cursor(40))
        XCTAssertTrue(first.pages.allSatisfy(\.full))
        // Snapshot pages are continued with cursors of the snapshot's tag, never the epoch.
        let tag = first.pages[0].next.epoch
        XCTAssertNotEqual(tag, Self.epoch)
        XCTAssertEqual(first.pages.dropLast().map(\.next), (1...5).map { SyncCursor(epoch: tag, position: UInt64(7 * $0)) })

        // Changes within the window: the same snapshot in the same order, then the changes.
        log.noteChange(key(3))   // 41
        log.noteChange(key(50))  // 42
        log.noteRemoval(key(4))
        let again = listing(&cache, log, limit: 7, now: t0 + .seconds(59), &random)
        XCTAssertEqual(Array(again.items.prefix(40)), first.items)
        XCTAssertEqual(Array(again.items.dropFirst(40)), [entry(3, 41), entry(50, 42)])
        XCTAssertEqual(again.pages.last?.next, cursor(42))

        // One window later: a new snapshot, with another tag and order, of the live keys only.
        let renewed = listing(&cache, log, limit: 7, now: t0 + .seconds(60), &random)
        XCTAssertEqual(Set(renewed.items), Set(log.entries))
        XCTAssertEqual(renewed.items.count, 40)
        XCTAssertNotEqual(renewed.pages[0].next.epoch, tag)
        XCTAssertNotEqual(renewed.items, log.entries)
    }

    /// A continuation of a snapshot renewed since starts over from the new snapshot's first key,
    /// and a snapshot cursor with an index beyond the snapshot starts over too.
    func testStaleSnapshotCursorStartsOver() {
        let log = changedLog(keys: 10)
        var random = SeededRandom(seed: 2)
        var cache = FullListCache(window: .seconds(60))
        let t0 = Instant.unix(seconds: 1_000)
        let old = cache.respond(log: log, after: nil, limit: 4, now: t0, random: &random)
        let beyond = SyncCursor(epoch: old.next.epoch, position: 11)
        XCTAssertEqual(cache.respond(log: log, after: beyond, limit: 4, now: t0, random: &random), old)
        let restart = cache.respond(log: log, after: old.next, limit: 4, now: t0 + .seconds(61), random: &random)
        XCTAssertEqual(restart.snapshot?.startIndex, 0)
        XCTAssertNotEqual(restart.next.epoch, old.next.epoch)
        XCTAssertEqual(restart.items.count, 4)
    }

    /// The bug: a snapshot taken early (one key) kept answering full requests for its whole
    /// window with `more = false` and `next` = its own head, so a full listing missed every key
    /// stored since, and a delta requester got them all again at its next request.
    func testStaleSnapshotPageIsCompletedFromTheLiveLog() {
        var log = SyncLog(epoch: Self.epoch)
        log.noteChange(key(1))
        var random = SeededRandom(seed: 1)
        var cache = FullListCache(window: .seconds(300))
        let t0 = Instant.unix(seconds: 1_000)
        XCTAssertEqual(cache.respond(log: log, after: nil, limit: 10, now: t0, random: &random).next, cursor(1))
        for i in 2...6 { log.noteChange(key(i)) }  // positions 2…6

        // Same window, everything fits: the snapshot, then the live changes, complete at the head.
        let whole = cache.respond(log: log, after: nil, limit: 10, now: t0 + .seconds(10), random: &random)
        XCTAssertEqual(whole.items, (1...6).map { entry($0, UInt64($0)) })
        XCTAssertEqual(whole.next, cursor(6))
        XCTAssertFalse(whole.more)
        XCTAssertTrue(whole.full)

        // A small limit pages through the live changes; the continuation is an ordinary delta.
        let first = cache.respond(log: log, after: nil, limit: 3, now: t0 + .seconds(10), random: &random)
        XCTAssertEqual(first.items, [entry(1, 1), entry(2, 2), entry(3, 3)])
        XCTAssertEqual(first.next, cursor(3))
        XCTAssertTrue(first.more)
        XCTAssertEqual(log.page(after: first.next, limit: 10).items, [entry(4, 4), entry(5, 5), entry(6, 6)])

        // Exactly the snapshot fits while the log moved on: `more`, at the snapshot's head.
        let exact = cache.respond(log: log, after: nil, limit: 1, now: t0 + .seconds(10), random: &random)
        XCTAssertEqual(exact.items, [entry(1, 1)])
        XCTAssertEqual(exact.next, cursor(1))
        XCTAssertTrue(exact.more)
    }

    /// A requester without `DELTA_SYNC` sends `since` only to continue: every listing it
    /// completes must hold every key live when the listing started (and not removed since).
    func testFullListingWithoutKeptCursorHoldsEveryLiveKey() {
        for seed in UInt64(1)...30 {
            var rng = SeededRandom(seed: seed)
            var log = SyncLog(epoch: Self.epoch)
            var cache = FullListCache(window: .seconds(60), capacity: 8)
            var now = Instant.unix(seconds: 1_000_000)
            let keyCount = Int.random(in: 3...30, using: &rng)
            for _ in 0..<300 {
                switch Int.random(in: 0..<6, using: &rng) {
                case 0..<3: log.noteChange(key(Int.random(in: 0..<keyCount, using: &rng)))
                case 3: log.noteRemoval(key(Int.random(in: 0..<keyCount, using: &rng)))
                case 4: now = now + .seconds(UInt64.random(in: 0...20, using: &rng))
                default:
                    let live = Set(log.entries.map(\.key))
                    var listed = Set<PublicKey>()
                    var since: SyncCursor? = nil
                    var pages = 0
                    repeat {
                        var page = cache.respond(log: log, after: since, limit: Int.random(in: 1...5, using: &rng), now: now,
                                                 random: &rng)
                        if page.items.count > 1, Bool.random(using: &rng) {
                            page = page.truncated(to: Int.random(in: 1..<page.items.count, using: &rng))
                        }
                        listed.formUnion(page.items.map(\.key))
                        since = page.next
                        pages += 1
                        if !page.more { break }
                    } while pages < 1_000
                    XCTAssertTrue(live.isSubset(of: listed), "seed \(seed): \(live.subtracting(listed).count) live keys missing")
                }
            }
        }
    }

    /// Cutting a full listing's page (frame limit) resumes inside the snapshot, at the
    /// snapshot's head once every snapshot key went, or after the last live item.
    func testTruncatedSnapshotPageResumesWhereItStopped() {
        var log = changedLog(keys: 4)
        var random = SeededRandom(seed: 4)
        var cache = FullListCache(window: .seconds(60))
        let t0 = Instant.unix(seconds: 1_000)
        _ = cache.respond(log: log, after: nil, limit: 10, now: t0, random: &random)
        log.noteChange(key(5))
        log.noteChange(key(6))
        let page = cache.respond(log: log, after: nil, limit: 10, now: t0, random: &random)
        XCTAssertEqual(page.items.count, 6)
        XCTAssertEqual(page.snapshot?.count, 4)
        let tag = page.snapshot?.tag ?? 0
        XCTAssertEqual(page.truncated(to: 2).next, SyncCursor(epoch: tag, position: 2))
        XCTAssertEqual(page.truncated(to: 2).snapshot?.count, 2)
        XCTAssertEqual(page.truncated(to: 4).next, cursor(4))
        XCTAssertEqual(page.truncated(to: 5).next, cursor(5))
        XCTAssertTrue(page.truncated(to: 5).more)
        // The rest follows from each cursor.
        let rest = cache.respond(log: log, after: page.truncated(to: 2).next, limit: 10, now: t0, random: &random)
        XCTAssertEqual(Array(page.items.prefix(2)) + rest.items, page.items)
    }

    func testFullListCacheRenewsOnEpochChangeAndClockGoingBack() throws {
        var log = changedLog(keys: 2)
        var random = SeededRandom(seed: 3)
        var cache = FullListCache(window: .seconds(60), capacity: 0)
        XCTAssertEqual(cache.capacity, 1)
        let t0 = Instant.unix(seconds: 1_000)
        let first = cache.page(log: log, limit: 5, now: t0, random: &random)
        XCTAssertEqual(first.items.count, 1)

        log.noteChange(key(1))
        XCTAssertEqual(cache.page(log: log, limit: 5, now: t0, random: &random), first)
        // Clock went back: the old snapshot's age is unknown, take a new one (of key 2 at 2 and
        // key 1 at 3: it lists what is live now).
        let back = cache.page(log: log, limit: 5, now: t0 - .seconds(1), random: &random)
        XCTAssertNotEqual(back.next.epoch, first.next.epoch)
        XCTAssertTrue([entry(2, 2), entry(1, 3)].contains(back.items[0]))

        let other = try SyncLog(restoring: [entry(5, 1)], epoch: 77, head: 1)
        let page = cache.page(log: other, limit: 5, now: t0, random: &random)
        XCTAssertEqual(page.items, [entry(5, 1)])
        XCTAssertEqual(page.next, cursor(1, epoch: 77))
        XCTAssertFalse(page.more)
    }

    func testEmptyFullListCacheCompletesAtHead() {
        var log = SyncLog(epoch: Self.epoch)
        log.noteChange(key(1))
        log.noteRemoval(key(1))
        var random = SeededRandom(seed: 1)
        var cache = FullListCache(window: .seconds(60))
        XCTAssertEqual(cache.capacity, WireLimits.maxRecordsPerMessage)
        let page = cache.page(log: log, limit: 0, now: .unix(seconds: 5), random: &random)
        XCTAssertEqual(page.items, [])
        XCTAssertEqual(page.next, cursor(1))
        XCTAssertFalse(page.more)
        XCTAssertTrue(page.full)
    }

    func testRespondRoutesFullRequestsThroughTheSnapshot() {
        var log = changedLog(keys: 3)
        var random = SeededRandom(seed: 5)
        var cache = FullListCache(window: .seconds(60))
        let t0 = Instant.unix(seconds: 1_000)
        let first = cache.respond(log: log, after: nil, limit: 10, now: t0, random: &random)
        XCTAssertEqual(Set(first.items), Set(log.entries))
        log.noteChange(key(1))
        // A made-up epoch or future cursor does not bypass the snapshot: it gets what a full
        // request gets, the snapshot followed by the change since.
        let full = cache.respond(log: log, after: nil, limit: 10, now: t0, random: &random)
        XCTAssertEqual(full.items, first.items + [entry(1, 4)])
        XCTAssertEqual(cache.respond(log: log, after: cursor(1, epoch: 5), limit: 10, now: t0, random: &random), full)
        XCTAssertEqual(cache.respond(log: log, after: cursor(9), limit: 10, now: t0, random: &random), full)
        // A valid cursor is answered live.
        XCTAssertEqual(
            cache.respond(log: log, after: cursor(3), limit: 10, now: t0, random: &random),
            SyncPage(items: [entry(1, 4)], full: false, next: cursor(4), more: false, start: 3))
    }

    // MARK: - Property: a requester following `next` converges

    /// Random interleavings of changes, removals and requests (with random limits, truncation
    /// and time). Invariants checked on every page: items strictly increase in position and
    /// lie after the request's cursor (or from 0 when full), and are the keys' current
    /// positions. At the end the requester, after following `next` until `more == false` and
    /// polling once more, has seen the latest position of every live key, and a delta listing
    /// with no changes sees each key exactly once.
    func testRequesterFollowingNextSeesLatestPositionOfEveryLiveKey() {
        for seed in UInt64(1)...40 {
            var rng = SeededRandom(seed: seed)
            var log = SyncLog(epoch: Self.epoch)
            var cache = FullListCache(window: .seconds(30), capacity: 8)
            var now = Instant.unix(seconds: 1_000_000)
            var since: SyncCursor? = nil
            var seen: [PublicKey: UInt64] = [:]
            let keyCount = Int.random(in: 3...40, using: &rng)

            func request() -> SyncPage {
                let limit = Int.random(in: 1...6, using: &rng)
                var page = cache.respond(log: log, after: since, limit: limit, now: now, random: &rng)
                if page.items.count > 1, Bool.random(using: &rng) {
                    page = page.truncated(to: Int.random(in: 1..<page.items.count, using: &rng))
                }
                // Snapshot keys come first, shuffled; the live part after them is in position
                // order, after the snapshot's head (or after the cursor, for a delta).
                let snapshotCount = page.snapshot?.count ?? 0
                var previous = page.full ? (page.snapshot?.head ?? 0) : (since?.position ?? 0)
                for (i, item) in page.items.enumerated() {
                    if i >= snapshotCount {
                        XCTAssertGreaterThan(item.position, previous, "seed \(seed)")
                        previous = item.position
                    }
                    // A snapshot page may list a key at its superseded position (the caller then
                    // sends the current record); live pages list current positions only.
                    let current = log.position(of: item.key)
                    if !page.full { XCTAssertEqual(current, item.position, "seed \(seed)") }
                    if let current { seen[item.key] = max(seen[item.key] ?? 0, current) }
                }
                if page.next.epoch == Self.epoch { XCTAssertLessThanOrEqual(page.next.position, log.head, "seed \(seed)") }
                if page.more { XCTAssertFalse(page.items.isEmpty, "seed \(seed)") }
                since = page.next
                return page
            }

            for _ in 0..<400 {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<4: log.noteChange(key(Int.random(in: 0..<keyCount, using: &rng)))
                case 4: log.noteRemoval(key(Int.random(in: 0..<keyCount, using: &rng)))
                case 5: now = now + .seconds(UInt64.random(in: 0...20, using: &rng))
                case 6: if Int.random(in: 0..<8, using: &rng) == 0 { since = nil }
                default: _ = request()
                }
            }
            var rounds = 0
            while request().more { rounds += 1; XCTAssertLessThan(rounds, 1_000) }
            let final = request()
            XCTAssertEqual(final.items, [], "seed \(seed)")
            XCTAssertFalse(final.more)
            XCTAssertLessThanOrEqual(log.storedEntryCount, 2 * log.count, "seed \(seed)")
            for live in log.entries {
                XCTAssertEqual(seen[live.key], live.position, "seed \(seed) key \(live.key)")
            }

            // Quiescent delta listing from 0 in small pages: every live key exactly once, in order.
            var listed: [SyncLog.Entry] = []
            var cursorPosition = cursor(0)
            while true {
                let page = log.page(after: cursorPosition, limit: Int.random(in: 1...4, using: &rng))
                listed += page.items
                cursorPosition = page.next
                if !page.more { break }
            }
            XCTAssertEqual(listed, log.entries, "seed \(seed)")
            XCTAssertEqual(cursorPosition, cursor(log.head))
        }
    }
}
