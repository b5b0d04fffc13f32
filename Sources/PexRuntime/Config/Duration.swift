import PexCore

/// Go duration strings (`time.ParseDuration`), the format of the federation's original
/// conf.yaml: `"30s"`, `"1m30s"`, `"500ms"`, `"2h"`, `"1.5h"`.
public enum GoDuration {
    /// Nanoseconds per unit; "µs" (U+00B5) and "μs" (U+03BC) are both accepted, as in Go.
    private static let units: [String: UInt64] = [
        "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000,
        "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    /// Parses a Go duration string into a non-negative span.
    ///
    /// The grammar is Go's: an optional sign, then one or more decimal numbers (optionally with a
    /// fraction) each followed by a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`); `"0"` alone needs no
    /// unit. Unlike Go, negative durations are refused: every pex duration is a wait.
    ///
    /// - Parameter text: The duration, e.g. `"1m30s"`.
    /// - Returns: The span, exact to the nanosecond for integer components.
    /// - Throws: `GoDuration.ParseError` with a reason naming the fault.
    public static func parse(_ text: String) throws(ParseError) -> TimeSpan {
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "+" {
            scalars = scalars.dropFirst()
        } else if scalars.first == "-" {
            // "-0" is zero in Go; any other negative value is refused.
            if String(scalars.dropFirst()) == "0" { return .zero }
            throw ParseError(text: text, reason: "must not be negative")
        }
        if String(scalars) == "0" { return .zero }
        guard !scalars.isEmpty else { throw ParseError(text: text, reason: "empty duration") }

        var total: UInt64 = 0
        while !scalars.isEmpty {
            // Integer part.
            var whole: UInt64 = 0
            var digits = 0
            var overflow = false
            while let c = scalars.first, let d = digit(c) {
                let (times10, o1) = whole.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(d)
                overflow = overflow || o1 || o2
                whole = sum
                digits += 1
                scalars = scalars.dropFirst()
            }
            // Fraction: kept to 18 digits, beyond which it cannot change a nanosecond count.
            var fraction: UInt64 = 0
            var scale: UInt64 = 1
            var fractionDigits = 0
            if scalars.first == "." {
                scalars = scalars.dropFirst()
                while let c = scalars.first, let d = digit(c) {
                    if scale < 1_000_000_000_000_000_000 {
                        fraction = fraction * 10 + d
                        scale *= 10
                    }
                    fractionDigits += 1
                    scalars = scalars.dropFirst()
                }
            }
            guard digits + fractionDigits > 0 else {
                throw ParseError(text: text, reason: "expected a number")
            }
            var unitText = ""
            while let c = scalars.first, c != ".", digit(c) == nil {
                unitText.unicodeScalars.append(c)
                scalars = scalars.dropFirst()
            }
            guard !unitText.isEmpty else {
                throw ParseError(text: text, reason: "missing unit (ns, us, ms, s, m or h)")
            }
            guard let unit = units[unitText] else {
                throw ParseError(text: text, reason: "unknown unit \"\(unitText)\" (ns, us, ms, s, m or h)")
            }
            let (wholeSpan, o3) = whole.multipliedReportingOverflow(by: unit)
            // The fraction is below one unit, so this product stays below 2^64 once scaled down;
            // computed in floating point like Go does for the fractional part.
            let fractionSpan = UInt64(Double(fraction) / Double(scale) * Double(unit))
            let (component, o4) = wholeSpan.addingReportingOverflow(fractionSpan)
            let (sum, o5) = total.addingReportingOverflow(component)
            guard !(overflow || o3 || o4 || o5) else { throw ParseError(text: text, reason: "too large") }
            total = sum
        }
        return TimeSpan(nanoseconds: total)
    }

    /// Formats a span as a compact Go duration string: `"1m30s"`, `"500ms"`, `"0s"`.
    ///
    /// - Parameter span: The span to format.
    /// - Returns: A string `parse(_:)` reads back to the same span.
    public static func format(_ span: TimeSpan) -> String {
        var ns = span.nanoseconds
        if ns == 0 { return "0s" }
        if ns % 1_000_000_000 != 0 {
            // Below one second or not a whole number of seconds: the largest exact sub-unit.
            if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
            if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
            return "\(ns)ns"
        }
        ns /= 1_000_000_000
        var out = ""
        if ns >= 3600 { out += "\(ns / 3600)h"; ns %= 3600 }
        if ns >= 60 { out += "\(ns / 60)m"; ns %= 60 }
        if ns > 0 { out += "\(ns)s" }
        return out
    }

    /// Why a duration string was refused.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The refused text.
        public let text: String
        /// The fault, e.g. "missing unit".
        public let reason: String
        /// `invalid duration "<text>": <reason>`.
        public var description: String { "invalid duration \"\(text)\": \(reason)" }
    }

    private static func digit(_ c: Unicode.Scalar) -> UInt64? {
        c.value >= 0x30 && c.value <= 0x39 ? UInt64(c.value - 0x30) : nil
    }
}
