import PexWire

/// Who misbehaved or is banned: a member key or a network address.
///
/// Ordered (keys first, then addresses; bytes lexicographic within each) so that ties in eviction
/// and the order of persisted entries never depend on hashing.
public enum BanSubject: Hashable, Sendable, Comparable, CustomStringConvertible {
    case key(PublicKey)
    case address(IPAddress)

    public static func < (a: BanSubject, b: BanSubject) -> Bool {
        switch (a, b) {
        case (.key, .address): true
        case (.address, .key): false
        case let (.key(x), .key(y)): x.bytes.lexicographicallyPrecedes(y.bytes)
        case let (.address(x), .address(y)): x.bytes.lexicographicallyPrecedes(y.bytes)
        }
    }

    public var description: String {
        switch self {
        case .key(let key): "key \(key)"
        case .address(let address): "address \(address)"
        }
    }
}

/// A kind of misbehaviour, named as in logs and metrics.
public enum Offence: String, CaseIterable, Sendable {
    /// A frame that does not decode.
    case malformedFrame = "malformed-frame"
    /// A well-formed message that breaks the protocol (wrong state, wrong direction…).
    case protocolViolation = "protocol-violation"
    /// A handshake that fails its proof: an invalid Hello record or an Auth that does not verify.
    case handshakeFailure = "handshake-failure"
    /// A record that fails validation other than by its signature or membership.
    case invalidRecord = "invalid-record"
    /// A record or handshake whose signature does not verify.
    case badSignature = "bad-signature"
    /// A record signed by a key outside the federation.
    case notAMember = "not-a-member"
    /// A record older than one already held; honest peers relay these in races, so it is free.
    case staleRecord = "stale-record"
    /// One event over a rate limit.
    case rateLimited = "rate-limited"
    /// A response to no request of ours.
    case unsolicitedResponse = "unsolicited-response"
    /// Two different records with the same sequence number signed by one key: the signer is banned.
    case equivocation
    /// A message over a size or count limit: a frame above the announced maximum, or more
    /// records than a message may carry. Disconnects, but alone does not ban: a peer that
    /// misread our limit is buggy rather than hostile.
    case oversized = "oversized"
}

/// Points per offence, thresholds, decay and bounds of a `MisbehaviourTracker`.
public struct MisbehaviourConfig: Sendable, Equatable {
    public var malformedFrame = 100
    public var protocolViolation = 100
    public var handshakeFailure = 50
    public var invalidRecord = 10
    public var badSignature = 50
    public var notAMember = 20
    public var staleRecord = 0
    /// Per event over a limit, so a flood adds up while a rare burst stays far from a ban.
    public var rateLimited = 5
    public var unsolicitedResponse = 20
    public var oversized = 50
    /// A score at or above this disconnects.
    public var disconnectThreshold = 50
    /// A score at or above this bans (and equivocation bans outright).
    public var banThreshold = 100
    /// How long a ban lasts.
    public var banDuration = TimeSpan.hours(24)
    /// Scores halve once per this span; `.zero` disables decay.
    public var halfLife = TimeSpan.hours(1)
    /// Most subjects tracked.
    public var capacity = 4096
    /// Percentage of an authenticated key's offence points also charged to its remote address in
    /// an open network (PROTOCOL.md §20.2), rounded up; 0 disables it. Keys are free there, so
    /// without this a peer cut off under one key returns under the next with a clean score.
    /// Half: an address is banned only after offences worth twice the ban threshold, four
    /// disconnections' worth, so honest peers sharing a NAT do not add up to a ban.
    public var addressShare = 50

    /// The documented defaults.
    public init() {}

    /// The defaults.
    public static let `default` = MisbehaviourConfig()

    /// Points one offence adds. Equivocation has no points: it bans at once.
    ///
    /// - Parameter offence: The offence.
    /// - Returns: The configured points, or `banThreshold` for equivocation.
    public func points(for offence: Offence) -> Int {
        switch offence {
        case .malformedFrame: malformedFrame
        case .protocolViolation: protocolViolation
        case .handshakeFailure: handshakeFailure
        case .invalidRecord: invalidRecord
        case .badSignature: badSignature
        case .notAMember: notAMember
        case .staleRecord: staleRecord
        case .rateLimited: rateLimited
        case .unsolicitedResponse: unsolicitedResponse
        case .oversized: oversized
        case .equivocation: banThreshold
        }
    }

    /// Points an offence of an authenticated key adds to its remote address: `addressShare`
    /// percent of `points(for:)`, rounded up so that every scored offence counts.
    ///
    /// - Parameter offence: The offence.
    /// - Returns: The address's points; 0 for equivocation (a signer's offence, not the
    ///   connection's: relayed evidence says nothing about the relaying address) and for
    ///   offences worth nothing.
    public func addressPoints(for offence: Offence) -> Int {
        guard offence != .equivocation else { return 0 }
        let points = max(points(for: offence), 0), share = min(max(addressShare, 0), 100)
        // points ≤ Int.max and share ≤ 100: the product is computed in full width.
        let (high, low) = points.multipliedFullWidth(by: share)
        let (quotient, remainder) = 100.dividingFullWidth((high, low))
        return remainder > 0 ? quotient + 1 : quotient
    }
}

/// What to do with a subject after an offence.
public enum Verdict: Hashable, Sendable {
    /// Nothing: keep the connection.
    case none
    /// Close the connection; the subject may come back.
    case disconnect
    /// Close and ban until the instant (the caller adds the ban to its `BanList`).
    case ban(until: Instant)
}

/// Misbehaviour scores per subject, with lazy exponential decay and a bounded table.
///
/// Decay: a score halves (integer halving, rounding down) once per `halfLife` elapsed since the
/// subject's decay anchor. The anchor moves forward by whole half-lives only, so frequent offences
/// do not postpone decay; points added in between decay with the rest at the next step. With the
/// defaults an honest peer's rare glitch (say 20 points) is gone within five hours, and a steady
/// trickle of one 5-point offence per hour stays at or below 10, never near 50.
///
/// When a score reaches `banThreshold` the verdict is a ban and the subject is dropped from the
/// table: the ban list carries it from there.
///
/// Bounded: at `capacity`, a new subject evicts the one with the lowest decayed score, ties
/// going to the oldest last offence, then to the lowest `BanSubject`.
public struct MisbehaviourTracker: Sendable {
    private struct Entry: Sendable {
        var score: UInt64
        /// The instant the score was last decayed to.
        var anchor: Instant
        var lastOffence: Instant
    }

    /// The configuration in force.
    public let config: MisbehaviourConfig
    private var entries: [BanSubject: Entry] = [:]

    /// Creates an empty tracker.
    ///
    /// - Parameter config: Points, thresholds, decay and bound.
    public init(config: MisbehaviourConfig = .default) {
        self.config = config
    }

    /// Subjects currently tracked.
    public var count: Int { entries.count }

    /// Records an offence and returns what to do.
    ///
    /// - Parameters:
    ///   - offence: What happened.
    ///   - subject: Who did it; for `.equivocation`, the signer's key.
    ///   - now: The current instant.
    /// - Returns: `.ban` when the decayed score plus the offence's points reaches `banThreshold`
    ///   (always for equivocation), `.disconnect` when it reaches `disconnectThreshold`, else
    ///   `.none`. An offence worth zero points changes nothing and returns `.none`.
    public mutating func record(_ offence: Offence, subject: BanSubject, now: Instant) -> Verdict {
        if offence == .equivocation {
            entries[subject] = nil
            return .ban(until: now + config.banDuration)
        }
        return add(points: config.points(for: offence), to: subject, now: now)
    }

    /// Records the address's share of an offence committed by an authenticated key behind it
    /// (PROTOCOL.md §20.2, key churn).
    ///
    /// - Parameters:
    ///   - offence: What the key did.
    ///   - address: The remote address of the key's connection.
    ///   - now: The current instant.
    /// - Returns: As `record(_:subject:now:)`, for `config.addressPoints(for:)` points (never
    ///   an outright ban: equivocation charges the address nothing).
    public mutating func recordAddressShare(_ offence: Offence, address: IPAddress, now: Instant) -> Verdict {
        add(points: config.addressPoints(for: offence), to: .address(address), now: now)
    }

    /// Adds `points` to `subject`'s decayed score and returns the verdict.
    private mutating func add(points rawPoints: Int, to subject: BanSubject, now: Instant) -> Verdict {
        let points = UInt64(max(rawPoints, 0))
        guard points > 0 else { return .none }
        var entry: Entry
        if let existing = entries[subject] {
            entry = decayed(existing, now: now)
        } else {
            if entries.count >= max(config.capacity, 1) { evictOne(now: now) }
            entry = Entry(score: 0, anchor: now, lastOffence: now)
        }
        // Cannot overflow: a held score stays below banThreshold ≤ Int.max, and points ≤ Int.max.
        entry.score += points
        entry.lastOffence = max(entry.lastOffence, now)
        if entry.score >= UInt64(max(config.banThreshold, 0)) {
            entries[subject] = nil
            return .ban(until: now + config.banDuration)
        }
        entries[subject] = entry
        return entry.score >= UInt64(max(config.disconnectThreshold, 0)) ? .disconnect : .none
    }

    /// The decayed score of a subject.
    ///
    /// - Parameters:
    ///   - subject: The subject.
    ///   - now: The current instant.
    /// - Returns: The score at `now` (saturating at `Int.max`), 0 for an untracked subject.
    public func score(of subject: BanSubject, now: Instant) -> Int {
        guard let entry = entries[subject] else { return 0 }
        return Int(clamping: decayed(entry, now: now).score)
    }

    /// Forgets a subject's score.
    ///
    /// - Parameter subject: The subject.
    public mutating func reset(_ subject: BanSubject) {
        entries[subject] = nil
    }

    /// `entry` decayed to `now`: one halving per whole half-life since its anchor.
    private func decayed(_ entry: Entry, now: Instant) -> Entry {
        let halfLife = config.halfLife.nanoseconds
        guard halfLife > 0, now > entry.anchor else { return entry }
        let halvings = (now - entry.anchor).nanoseconds / halfLife
        var result = entry
        result.score = halvings >= 64 ? 0 : entry.score >> halvings
        result.anchor = entry.anchor + config.halfLife * halvings
        return result
    }

    /// Removes the subject with the lowest decayed score, then the oldest last offence, then the
    /// lowest `BanSubject`: a total order, so the dictionary's iteration order cannot matter.
    private mutating func evictOne(now: Instant) {
        var victim: (subject: BanSubject, score: UInt64, last: Instant)?
        for (subject, entry) in entries {
            let score = decayed(entry, now: now).score
            if let v = victim {
                let better = (score, entry.lastOffence.nanoseconds) < (v.score, v.last.nanoseconds)
                    || ((score, entry.lastOffence) == (v.score, v.last) && subject < v.subject)
                if !better { continue }
            }
            victim = (subject, score, entry.lastOffence)
        }
        if let victim { entries[victim.subject] = nil }
    }
}
