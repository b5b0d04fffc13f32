/// One ban: who, until when, and why.
public struct BanEntry: Hashable, Sendable {
    /// The banned key or address.
    public var subject: BanSubject
    /// The ban ends at this instant (banned while `now < until`).
    public var until: Instant
    /// Why, for logs and operators (an `Offence` raw value, or free text for manual bans).
    public var reason: String

    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - subject: The banned key or address.
    ///   - until: When the ban ends.
    ///   - reason: Why.
    public init(subject: BanSubject, until: Instant, reason: String) {
        self.subject = subject
        self.until = until
        self.reason = reason
    }
}

/// Timed bans by key and by IP address, bounded.
///
/// At `capacity` the list keeps the bans that end latest: a new ban evicts the one that ends
/// soonest, or is itself dropped when it would end sooner than every ban held (ties broken by the
/// lower `BanSubject` going first, so the outcome never depends on hashing or insertion order).
public struct BanList: Sendable {
    /// The most bans held.
    public let capacity: Int
    private var bans: [BanSubject: BanEntry] = [:]

    /// Creates an empty list.
    ///
    /// - Parameter capacity: The most bans held; values below 1 count as 1.
    public init(capacity: Int = 10_000) {
        self.capacity = max(capacity, 1)
    }

    /// Bans held, expired or not (until `expire(now:)` removes them).
    public var count: Int { bans.count }

    /// Bans or extends a ban on `subject`.
    ///
    /// An existing ban keeps the later of its end and `until`; the reason follows the end that wins
    /// (the old reason on a tie).
    ///
    /// - Parameters:
    ///   - subject: Who to ban.
    ///   - until: When the ban ends.
    ///   - reason: Why.
    /// - Returns: The ban now in force for `subject`, or `nil` when the list is full of bans
    ///   that all end later, in which case nothing changed.
    @discardableResult
    public mutating func ban(_ subject: BanSubject, until: Instant, reason: String) -> BanEntry? {
        if let existing = bans[subject] {
            guard until > existing.until else { return existing }
            let entry = BanEntry(subject: subject, until: until, reason: reason)
            bans[subject] = entry
            return entry
        }
        let entry = BanEntry(subject: subject, until: until, reason: reason)
        if bans.count >= capacity {
            guard let soonest = soonestEnding(), Self.endsBefore(soonest, entry) else { return nil }
            bans[soonest.subject] = nil
        }
        bans[subject] = entry
        return entry
    }

    /// Whether `subject` is banned at `now`.
    ///
    /// - Parameters:
    ///   - subject: The key or address.
    ///   - now: The current instant.
    /// - Returns: `true` while a ban on `subject` has not ended.
    public func isBanned(_ subject: BanSubject, now: Instant) -> Bool {
        guard let entry = bans[subject] else { return false }
        return now < entry.until
    }

    /// The ban on `subject`, ended or not.
    ///
    /// - Parameter subject: The key or address.
    /// - Returns: The entry, or `nil` when there is none.
    public func entry(for subject: BanSubject) -> BanEntry? { bans[subject] }

    /// Lifts a ban early.
    ///
    /// - Parameter subject: The key or address.
    /// - Returns: The lifted entry, or `nil` when `subject` was not banned.
    @discardableResult
    public mutating func lift(_ subject: BanSubject) -> BanEntry? {
        bans.removeValue(forKey: subject)
    }

    /// Removes the bans that have ended.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: The removed entries, ordered by end, then subject.
    @discardableResult
    public mutating func expire(now: Instant) -> [BanEntry] {
        let ended = bans.values.filter { $0.until <= now }.sorted(by: Self.endsBefore)
        for entry in ended { bans[entry.subject] = nil }
        return ended
    }

    /// Every ban, ordered by subject, for persistence.
    public var entries: [BanEntry] {
        bans.values.sorted { $0.subject < $1.subject }
    }

    /// The soonest end among the bans, for the driver's next deadline.
    public var nextExpiry: Instant? { soonestEnding()?.until }

    /// Merges persisted bans into the list, with the same rules as `ban(_:until:reason:)`.
    ///
    /// - Parameters:
    ///   - entries: Bans as `entries` returned them.
    ///   - now: The current instant; bans already ended are skipped.
    public mutating func restore(_ entries: [BanEntry], now: Instant) {
        // Latest-ending first, so a full list keeps the same bans whatever the input order.
        for entry in entries.sorted(by: { Self.endsBefore($1, $0) }) where entry.until > now {
            ban(entry.subject, until: entry.until, reason: entry.reason)
        }
    }

    private func soonestEnding() -> BanEntry? {
        bans.values.min(by: Self.endsBefore)
    }

    /// The eviction order: earlier end first, then lower subject. Total, since subjects are unique.
    private static func endsBefore(_ a: BanEntry, _ b: BanEntry) -> Bool {
        a.until != b.until ? a.until < b.until : a.subject < b.subject
    }
}
