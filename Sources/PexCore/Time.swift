/// A point in time as the driver sees it: nanoseconds of Unix time.
///
/// The core never reads a clock. The driver passes `now` with every input; the simulator passes
/// virtual time. Records carry Unix seconds (`PeerRecord.expiresAt`), so one time base serves
/// both deadlines and record validity.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the Unix epoch.
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The instant `seconds` after the Unix epoch.
    public static func unix(seconds: UInt64) -> Instant { Instant(nanoseconds: seconds &* 1_000_000_000) }

    /// Whole Unix seconds, as record expiry uses them.
    public var unixSeconds: UInt64 { nanoseconds / 1_000_000_000 }

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    /// `self` moved forward by `span`, saturating instead of overflowing.
    public static func + (a: Instant, span: TimeSpan) -> Instant {
        let (sum, overflow) = a.nanoseconds.addingReportingOverflow(span.nanoseconds)
        return Instant(nanoseconds: overflow ? .max : sum)
    }

    /// `self` moved back by `span`, stopping at the epoch.
    public static func - (a: Instant, span: TimeSpan) -> Instant {
        Instant(nanoseconds: a.nanoseconds >= span.nanoseconds ? a.nanoseconds - span.nanoseconds : 0)
    }

    /// The span from `b` to `a`, zero when `b` is later.
    public static func - (a: Instant, b: Instant) -> TimeSpan {
        TimeSpan(nanoseconds: a.nanoseconds >= b.nanoseconds ? a.nanoseconds - b.nanoseconds : 0)
    }

    public var description: String {
        let ms = nanoseconds / 1_000_000
        return "\(ms / 1000).\(String(ms % 1000 + 1000).dropFirst())s"
    }
}

/// A non-negative length of time, in nanoseconds.
public struct TimeSpan: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static func seconds(_ s: UInt64) -> TimeSpan { TimeSpan(nanoseconds: s &* 1_000_000_000) }
    public static func milliseconds(_ ms: UInt64) -> TimeSpan { TimeSpan(nanoseconds: ms &* 1_000_000) }
    public static func minutes(_ m: UInt64) -> TimeSpan { .seconds(m &* 60) }
    public static func hours(_ h: UInt64) -> TimeSpan { .seconds(h &* 3600) }
    public static let zero = TimeSpan(nanoseconds: 0)

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: TimeSpan, b: TimeSpan) -> TimeSpan {
        let (sum, overflow) = a.nanoseconds.addingReportingOverflow(b.nanoseconds)
        return TimeSpan(nanoseconds: overflow ? .max : sum)
    }
    public static func * (a: TimeSpan, k: UInt64) -> TimeSpan {
        let (product, overflow) = a.nanoseconds.multipliedReportingOverflow(by: k)
        return TimeSpan(nanoseconds: overflow ? .max : product)
    }

    public var description: String { "\(seconds)s" }
}
