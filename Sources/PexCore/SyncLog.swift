import PexWire

/// The responder's change log for delta sync (docs/PROTOCOL.md §11.1).
///
/// Every insert or update of a record in the address book takes the next position; a key's
/// older position is superseded. A requester that sends back the cursor of its last response
/// receives only the keys whose latest change is after it.
///
/// Storage is an append-only array of `(position, key)` in position order plus a map from each
/// live key to its current position. An array entry is *stale* when the map no longer points at
/// it (the key changed again or was removed). Stale entries are dropped when they make up more
/// than half of the array, so the array never holds more than `2 × live keys` entries and the
/// compaction cost is amortised O(1) per change.
///
/// Compaction never renumbers positions, so every cursor of the current epoch stays answerable
/// and the epoch only has to change when the log itself is lost (see `init(epoch:)`).
public struct SyncLog: Sendable {
    /// One key at its latest position.
    public struct Entry: Hashable, Sendable {
        /// The key whose record changed.
        public var key: PublicKey
        /// The position of that change.
        public var position: UInt64

        /// - Parameters:
        ///   - key: The key whose record changed.
        ///   - position: The position of the change, at least 1.
        public init(key: PublicKey, position: UInt64) {
            self.key = key
            self.position = position
        }
    }

    /// Highest head `restore` accepts. Far beyond any real log (one change per nanosecond
    /// would take centuries to get there), and it guarantees `head + 1` never overflows.
    public static let maxRestorableHead: UInt64 = UInt64.max / 2

    /// Identifies this incarnation of the log; cursors of any other epoch are answered in full.
    public let epoch: UInt64
    /// Position of the latest change, 0 when nothing ever changed.
    public private(set) var head: UInt64 = 0

    /// Every noted change not yet compacted away, in strictly increasing position order.
    private var log: [Entry] = []
    /// Current position of every live key.
    private var positions: [PublicKey: UInt64] = [:]

    /// An empty log.
    ///
    /// - Parameter epoch: Identifies this incarnation. A node that loses its log (restart
    ///   without persistence) must pick a fresh random epoch, so that cursors issued by the old
    ///   log are not misread against the new positions.
    public init(epoch: UInt64) {
        self.epoch = epoch
    }

    /// Rebuilds a persisted log.
    ///
    /// - Parameters:
    ///   - entries: The persisted `entries`, in any order.
    ///   - epoch: The persisted epoch.
    ///   - head: The persisted head; it may exceed the last entry's position (the latest
    ///     changes may belong to keys removed since).
    /// - Throws: `SyncLogError` when the data cannot come from a `SyncLog`: a key or a
    ///   position appears twice, a position is 0 or above `head`, or `head` exceeds
    ///   `maxRestorableHead`.
    public init(restoring entries: [Entry], epoch: UInt64, head: UInt64) throws(SyncLogError) {
        guard head <= Self.maxRestorableHead else { throw .headOutOfRange(head) }
        self.epoch = epoch
        self.head = head
        let sorted = entries.sorted { $0.position < $1.position }
        var previous: UInt64 = 0
        for entry in sorted {
            guard entry.position != 0, entry.position <= head else {
                throw .positionOutOfRange(position: entry.position, head: head)
            }
            guard entry.position != previous else { throw .duplicatePosition(entry.position) }
            guard positions.updateValue(entry.position, forKey: entry.key) == nil else {
                throw .duplicateKey(entry.key)
            }
            previous = entry.position
        }
        log = sorted
    }

    /// Every live key at its current position, in position order: what a node persists to
    /// restore the log with `init(restoring:epoch:head:)`.
    public var entries: [Entry] { log.filter(isLive) }

    /// Number of live keys.
    public var count: Int { positions.count }

    /// The current position of `key`, or `nil` when the log does not hold it.
    ///
    /// - Parameter key: The key to look up.
    /// - Returns: The position of the key's latest change.
    public func position(of key: PublicKey) -> UInt64? { positions[key] }

    /// Array entries held, stale ones included; exposed for tests of the memory bound.
    var storedEntryCount: Int { log.count }

    /// Records that `key`'s record was inserted or updated.
    ///
    /// - Parameter key: The key whose record changed.
    /// - Returns: The new position of the key, the new `head`.
    @discardableResult
    public mutating func noteChange(_ key: PublicKey) -> UInt64 {
        // `head` starts at 0 and `restore` caps it at `maxRestorableHead`, so this cannot overflow.
        head += 1
        positions[key] = head
        log.append(Entry(key: key, position: head))
        compactIfNeeded()
        return head
    }

    /// Records that `key`'s record left the book (expired or evicted). The protocol has no
    /// deletions, so a removal is not reported to requesters; it only stops listing the key.
    ///
    /// - Parameter key: The removed key; unknown keys are ignored.
    public mutating func noteRemoval(_ key: PublicKey) {
        guard positions.removeValue(forKey: key) != nil else { return }
        compactIfNeeded()
    }

    /// Whether `cursor` gets a delta answer (rather than the full list): it is present, of this
    /// epoch, and not beyond `head` (a cursor from the future can only come from another log).
    ///
    /// - Parameter cursor: The requester's `since`.
    /// - Returns: `true` when `page(after:limit:)` would answer with `full == false`.
    public func answersDelta(_ cursor: SyncCursor?) -> Bool {
        guard let cursor else { return false }
        return cursor.epoch == epoch && cursor.position <= head
    }

    /// One page of the keys changed after `cursor`.
    ///
    /// - Parameters:
    ///   - cursor: The requester's `since`. `nil`, another epoch, or a position beyond `head`
    ///     yield the full list (`full == true`), starting from position 0.
    ///   - limit: Most items to return; values below 1 count as 1 so that a page with
    ///     `more == true` always makes progress.
    /// - Returns: The live keys with a position after the cursor, in position order. `next` is
    ///   the position of the last item when `more`, else `head`.
    public func page(after cursor: SyncCursor?, limit: Int) -> SyncPage {
        let full = !answersDelta(cursor)
        let start = full ? 0 : (cursor?.position ?? 0)
        let capacity = max(1, limit)
        var items: [Entry] = []
        var index = firstIndex(after: start)
        while index < log.count, items.count < capacity {
            if isLive(log[index]) { items.append(log[index]) }
            index += 1
        }
        // `more` only when a live entry remains: trailing stale entries must not make the
        // requester ask again for nothing.
        let more = log[index...].contains(where: isLive)
        let nextPosition = more ? (items.last?.position ?? start) : head
        return SyncPage(
            items: items, full: full, next: SyncCursor(epoch: epoch, position: nextPosition),
            more: more, start: start)
    }

    private func isLive(_ entry: Entry) -> Bool { positions[entry.key] == entry.position }

    /// Index of the first array entry with a position after `position` (binary search: the
    /// array is sorted by position).
    private func firstIndex(after position: UInt64) -> Int {
        var low = 0, high = log.count
        while low < high {
            let mid = low + (high - low) / 2
            if log[mid].position <= position { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func compactIfNeeded() {
        let stale = log.count - positions.count
        guard stale * 2 > log.count else { return }
        log = log.filter(isLive)
    }
}

/// One answer of a `SyncLog`: the keys to send and the `PeerResponse` fields that go with them.
public struct SyncPage: Hashable, Sendable {
    /// Keys to list: for a full listing, snapshot keys first (in the snapshot's random order,
    /// possibly at superseded positions), then keys at their latest position in position
    /// order. The caller sends each key's current record and skips keys whose record is gone
    /// (expired since the page was computed).
    public var items: [SyncLog.Entry]
    /// `PeerResponse.full`: the listing starts from the beginning of the log.
    public var full: Bool
    /// `PeerResponse.next`: where the next request continues, or the head when complete.
    public var next: SyncCursor
    /// `PeerResponse.more`: live keys remain after `next`.
    public var more: Bool
    /// The position the listing started after (0 for a full listing).
    public var start: UInt64
    /// For a page of a full listing: which of its items come from the shuffled snapshot.
    public var snapshot: SnapshotPart?

    /// The leading items of a page that come from a `FullListCache` snapshot.
    public struct SnapshotPart: Hashable, Sendable {
        /// The snapshot's cursor tag.
        public var tag: UInt64
        /// Index in the snapshot of the page's first item.
        public var startIndex: Int
        /// How many of the page's first items are snapshot keys.
        public var count: Int
        /// The log's head when the snapshot was taken.
        public var head: UInt64
    }

    /// - Parameters:
    ///   - items: Keys in position order (snapshot keys first, in snapshot order).
    ///   - full: Whether the listing starts from the beginning.
    ///   - next: The continuation cursor.
    ///   - more: Whether keys remain after `next`.
    ///   - start: The position the listing started after.
    ///   - snapshot: The snapshot part of a full listing's page.
    public init(items: [SyncLog.Entry], full: Bool, next: SyncCursor, more: Bool, start: UInt64,
                snapshot: SnapshotPart? = nil) {
        self.items = items
        self.full = full
        self.next = next
        self.more = more
        self.start = start
        self.snapshot = snapshot
    }

    /// The page cut to its first `count` items, for a response that must stop early to fit
    /// the requester's frame limit.
    ///
    /// The continuation cursor resumes exactly after what was sent (inside the snapshot, at
    /// the snapshot's head once all its keys were sent, else at the last item's position), and
    /// `more` becomes `true`. Keep at least one item:
    /// a response with `more = true` must make progress (§11.1).
    ///
    /// - Parameter count: Items actually sent; negative values count as 0.
    /// - Returns: `self` when `count` covers every item, else the shortened page.
    public func truncated(to count: Int) -> SyncPage {
        guard count < items.count else { return self }
        let keep = max(0, count)
        let kept = Array(items.prefix(keep))
        var cut = self
        cut.items = kept
        cut.more = true
        if let part = snapshot {
            cut.snapshot?.count = min(part.count, keep)
            if keep < part.count {
                // Resume inside the snapshot, at the first key not sent.
                cut.next = SyncCursor(epoch: part.tag, position: UInt64(part.startIndex + keep))
                return cut
            }
            if keep == part.count {
                // The whole snapshot went: resume with what changed after it.
                cut.next = SyncCursor(epoch: next.epoch, position: part.head)
                return cut
            }
        }
        cut.next = SyncCursor(epoch: next.epoch, position: kept.last?.position ?? start)
        return cut
    }
}

/// Why persisted sync-log data was rejected by `SyncLog.init(restoring:epoch:head:)`.
public enum SyncLogError: Error, Hashable, Sendable {
    /// The same key appears at two positions.
    case duplicateKey(PublicKey)
    /// Two keys share one position.
    case duplicatePosition(UInt64)
    /// A position is 0 or beyond the head.
    case positionOutOfRange(position: UInt64, head: UInt64)
    /// The head exceeds `SyncLog.maxRestorableHead`.
    case headOutOfRange(UInt64)

    /// A short, stable, kebab-case identifier of the case, used as a metrics label.
    public var reason: String {
        switch self {
        case .duplicateKey: "duplicate-key"
        case .duplicatePosition: "duplicate-position"
        case .positionOutOfRange: "position-out-of-range"
        case .headOutOfRange: "head-out-of-range"
        }
    }
}

/// Serves full listings from a shuffled snapshot renewed once per time window.
///
/// A requester that asks for the full list again and again must not learn, from the
/// differences between answers, which records changed when (the reason for Bitcoin Core's
/// `getaddr` cache). Within one window every full request gets the same snapshot: the same
/// keys in the same order, whatever changed before it. The order is random, not the log's:
/// a listing in log order would put the oldest records first, and a requester keeps the first
/// comers in every new bucket with room (§16.3) — all of them, before keyed slots. In a network larger than the
/// books, every joining node would then dial the same oldest nodes, fill their inbound slots,
/// and each eviction would send another node dialling (and evicting) in turn.
///
/// The snapshot is paged with cursors of its own *tag* (a random value other than the log's
/// epoch) whose position is an index into the snapshot. After its last key the listing goes
/// on with the changes made since the snapshot, from the live log (what a delta request from
/// the snapshot's head gets), so the last page's `next` is an ordinary cursor of the log.
///
/// Why a listing that follows `next` to `more == false` covers every live key: a key live at
/// the end either has not changed since the snapshot, and is among the snapshot's keys, which
/// the snapshot pages list in full; or it changed after the snapshot, at a position above the
/// snapshot's head, and the live part lists it. Keys changed since the snapshot may appear
/// twice; the caller sends each key's current record, so the requester only ever receives
/// current records. A continuation whose snapshot has been renewed in between starts over
/// from the new snapshot's first key.
///
/// One cache serves one log; a change of the log's epoch renews the snapshot.
public struct FullListCache: Sendable {
    private struct Snapshot: Sendable {
        var takenAt: Instant
        var epoch: UInt64
        var head: UInt64
        /// Tags this snapshot's cursors; never the log's epoch.
        var tag: UInt64
        /// Every live key at snapshot time, in a random order.
        var items: [SyncLog.Entry]
    }

    /// How long one snapshot serves.
    public let window: TimeSpan
    /// Most keys one page lists.
    public let capacity: Int
    private var snapshot: Snapshot?

    /// An empty cache.
    ///
    /// - Parameters:
    ///   - window: How long one snapshot serves.
    ///   - capacity: Most keys one page lists (at least 1).
    public init(window: TimeSpan, capacity: Int = WireLimits.maxRecordsPerMessage) {
        self.window = window
        self.capacity = max(1, capacity)
    }

    /// A page of a full listing: from the snapshot's first key, or from `cursor` when it
    /// continues the current snapshot.
    ///
    /// - Parameters:
    ///   - log: The live log; a new snapshot of it is taken when there is none, when the
    ///     current one is `window` old or older, when the clock went back, or when the log's
    ///     epoch changed.
    ///   - cursor: A cursor of the snapshot's tag to continue from; any other starts over.
    ///   - limit: Most items to return, clamped to `1...capacity`.
    ///   - now: The current time.
    ///   - random: Shuffles a new snapshot and draws its tag.
    /// - Returns: A page with `full == true`: snapshot keys from the cursor's index on, then,
    ///   once the snapshot is exhausted, the changes made since it, from the live log (up to
    ///   `limit` items in all). `next` is a snapshot cursor while snapshot keys remain, then
    ///   a cursor of the log, so a response with `more == false` completes the listing even
    ///   for a requester that keeps no cursor.
    public mutating func page(
        log: SyncLog, after cursor: SyncCursor? = nil, limit: Int, now: Instant, random: inout some RandomNumberGenerator
    ) -> SyncPage {
        let current = renewedIfNeeded(log: log, now: now, random: &random)
        let count = min(max(1, limit), capacity)
        var index = 0
        if let cursor, cursor.epoch == current.tag, cursor.position <= UInt64(current.items.count) {
            index = Int(cursor.position)
        }
        let end = min(index + count, current.items.count)
        let items = Array(current.items[index..<end])
        let part = SyncPage.SnapshotPart(tag: current.tag, startIndex: index, count: items.count, head: current.head)
        if end < current.items.count {
            return SyncPage(items: items, full: true, next: SyncCursor(epoch: current.tag, position: UInt64(end)),
                            more: true, start: 0, snapshot: part)
        }
        let afterSnapshot = SyncCursor(epoch: current.epoch, position: current.head)
        guard current.head < log.head else {
            return SyncPage(items: items, full: true, next: afterSnapshot, more: false, start: 0, snapshot: part)
        }
        guard items.count < count else {
            return SyncPage(items: items, full: true, next: afterSnapshot, more: true, start: 0, snapshot: part)
        }
        let rest = log.page(after: afterSnapshot, limit: count - items.count)
        return SyncPage(items: items + rest.items, full: true, next: rest.next, more: rest.more, start: 0, snapshot: part)
    }

    /// Answers a `PeerRequest`: the live log for a cursor it answers, the snapshot otherwise (no
    /// cursor, a snapshot cursor, an unknown epoch, a future position). Routing unknown cursors
    /// through the snapshot too keeps a requester from bypassing it with a made-up cursor.
    ///
    /// - Parameters:
    ///   - log: The live log.
    ///   - cursor: The request's `since`.
    ///   - limit: Most items to return.
    ///   - now: The current time.
    ///   - random: Shuffles a new snapshot and draws its tag.
    /// - Returns: The page to send.
    public mutating func respond(
        log: SyncLog, after cursor: SyncCursor?, limit: Int, now: Instant, random: inout some RandomNumberGenerator
    ) -> SyncPage {
        if log.answersDelta(cursor) { return log.page(after: cursor, limit: limit) }
        return page(log: log, after: cursor, limit: limit, now: now, random: &random)
    }

    private mutating func renewedIfNeeded(log: SyncLog, now: Instant, random: inout some RandomNumberGenerator) -> Snapshot {
        if let current = snapshot, current.epoch == log.epoch, current.head <= log.head,
            current.takenAt <= now, now - current.takenAt < window
        {
            return current
        }
        var items = log.entries
        items.shuffle(using: &random)
        var tag = random.next()
        if tag == log.epoch { tag ^= 1 }
        let fresh = Snapshot(takenAt: now, epoch: log.epoch, head: log.head, tag: tag, items: items)
        snapshot = fresh
        return fresh
    }
}
