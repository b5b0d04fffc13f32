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
    /// Keys at their latest position, in position order. The caller sends each key's current
    /// record and skips keys whose record is gone (expired since the page was computed).
    public var items: [SyncLog.Entry]
    /// `PeerResponse.full`: the listing starts from the beginning of the log.
    public var full: Bool
    /// `PeerResponse.next`: where the next request continues, or the head when complete.
    public var next: SyncCursor
    /// `PeerResponse.more`: live keys remain after `next`.
    public var more: Bool
    /// The position the listing started after (0 for a full listing).
    public var start: UInt64

    /// - Parameters:
    ///   - items: Keys in position order.
    ///   - full: Whether the listing starts from the beginning.
    ///   - next: The continuation cursor.
    ///   - more: Whether keys remain after `next`.
    ///   - start: The position the listing started after.
    public init(items: [SyncLog.Entry], full: Bool, next: SyncCursor, more: Bool, start: UInt64) {
        self.items = items
        self.full = full
        self.next = next
        self.more = more
        self.start = start
    }

    /// The page cut to its first `count` items, for a response that must stop early to fit
    /// the requester's frame limit.
    ///
    /// The continuation cursor becomes the position of the last item kept, so the next request
    /// resumes exactly after what was sent, and `more` becomes `true`. Keep at least one item:
    /// a response with `more = true` must make progress (§11.1).
    ///
    /// - Parameter count: Items actually sent; negative values count as 0.
    /// - Returns: `self` when `count` covers every item, else the shortened page.
    public func truncated(to count: Int) -> SyncPage {
        guard count < items.count else { return self }
        let kept = Array(items.prefix(max(0, count)))
        let position = kept.last?.position ?? start
        return SyncPage(
            items: kept, full: full, next: SyncCursor(epoch: next.epoch, position: position),
            more: true, start: start)
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

/// Serves the first page of full listings from a snapshot renewed once per time window.
///
/// A requester that asks for the full list again and again must not learn, from the
/// differences between answers, which records changed when (the reason for Bitcoin Core's
/// `getaddr` cache). Within one window every full request gets the same snapshot: the same
/// keys in the same order, whatever changed before it. The changes made since the snapshot
/// follow it, from the live log (what a delta request from the snapshot head would get anyway);
/// continuation pages and delta requests are answered from the live log.
///
/// Why the snapshot page and a live continuation together cover every live record: the
/// snapshot lists the live keys of the log at snapshot time in position order, and the page is
/// a prefix of it ending at position `p` (or the whole snapshot, continued in the same page
/// after the snapshot head `H ≥ p`). Positions only grow, and every change after the snapshot takes a position
/// above `H`. So a key live now either has a current position above `next`, and the live
/// continuation (`since = next`) lists it, or it has not changed since the snapshot, was in
/// the snapshot at a position at most `next`, and is therefore in the page. Keys changed since
/// the snapshot may appear twice (in the page, then at their new position); the caller sends
/// each key's current record, so the requester only ever receives current records.
///
/// One cache serves one log; a change of the log's epoch renews the snapshot.
public struct FullListCache: Sendable {
    private struct Snapshot: Sendable {
        var takenAt: Instant
        var epoch: UInt64
        var head: UInt64
        /// The first `capacity` live keys at snapshot time.
        var items: [SyncLog.Entry]
        /// Live keys existed beyond `items` at snapshot time.
        var more: Bool
    }

    /// How long one snapshot serves.
    public let window: TimeSpan
    /// Most keys a snapshot keeps: no page is larger, so keeping more would be wasted memory.
    public let capacity: Int
    private var snapshot: Snapshot?

    /// An empty cache.
    ///
    /// - Parameters:
    ///   - window: How long one snapshot serves.
    ///   - capacity: Most keys kept per snapshot, the largest page served (at least 1).
    public init(window: TimeSpan, capacity: Int = WireLimits.maxRecordsPerMessage) {
        self.window = window
        self.capacity = max(1, capacity)
    }

    /// The first page of a full listing, from the current snapshot.
    ///
    /// - Parameters:
    ///   - log: The live log; a new snapshot of it is taken when there is none, when the
    ///     current one is `window` old or older, when the clock went back, or when the log's
    ///     epoch changed.
    ///   - limit: Most items to return, clamped to `1...capacity`.
    ///   - now: The current time.
    /// - Returns: A page with `full == true`. When the snapshot does not fit, its prefix with
    ///   `more` and `next` at the last item. When it fits, it is followed by the changes made
    ///   since the snapshot, from the live log (up to `limit` items in all): `next` and `more`
    ///   are then those of the live listing, so a response with `more == false` completes the
    ///   listing even for a requester that keeps no cursor.
    public mutating func page(log: SyncLog, limit: Int, now: Instant) -> SyncPage {
        let current = renewedIfNeeded(log: log, now: now)
        let count = min(max(1, limit), capacity)
        let items = Array(current.items.prefix(count))
        let more = items.count < current.items.count || current.more
        if more || (items.count == count && current.head < log.head) {
            // Items are never empty here: `count ≥ 1`, and `more` implies the snapshot had more
            // live keys than fit.
            let position = items.last?.position ?? current.head
            return SyncPage(
                items: items, full: true, next: SyncCursor(epoch: current.epoch, position: position),
                more: true, start: 0)
        }
        // A snapshot page ending at its head once claimed completeness while records stored
        // since were missing: a requester without `DELTA_SYNC` never asked for them, and one
        // with it got them (again) only at its next delta, long after it had them by relay.
        guard current.head < log.head else {
            return SyncPage(
                items: items, full: true, next: SyncCursor(epoch: current.epoch, position: current.head),
                more: false, start: 0)
        }
        let rest = log.page(after: SyncCursor(epoch: current.epoch, position: current.head), limit: count - items.count)
        return SyncPage(items: items + rest.items, full: true, next: rest.next, more: rest.more, start: 0)
    }

    /// Answers a `PeerRequest`: the snapshot when the log would list everything (no cursor, an
    /// unknown epoch, a future position), the live log otherwise. Routing unknown cursors here
    /// too keeps a requester from bypassing the snapshot with a made-up cursor.
    ///
    /// - Parameters:
    ///   - log: The live log.
    ///   - cursor: The request's `since`.
    ///   - limit: Most items to return.
    ///   - now: The current time.
    /// - Returns: The page to send.
    public mutating func respond(log: SyncLog, after cursor: SyncCursor?, limit: Int, now: Instant) -> SyncPage {
        if log.answersDelta(cursor) { return log.page(after: cursor, limit: limit) }
        return page(log: log, limit: limit, now: now)
    }

    private mutating func renewedIfNeeded(log: SyncLog, now: Instant) -> Snapshot {
        if let current = snapshot, current.epoch == log.epoch, current.head <= log.head,
            current.takenAt <= now, now - current.takenAt < window
        {
            return current
        }
        let first = log.page(after: nil, limit: capacity)
        let fresh = Snapshot(takenAt: now, epoch: log.epoch, head: log.head, items: first.items, more: first.more)
        snapshot = fresh
        return fresh
    }
}
