import PexCore
import PexRuntime
import XCTest

final class ConfigDurationTests: XCTestCase {
    func testGoDurations() throws {
        let cases: [(String, UInt64)] = [
            ("30s", 30_000_000_000), ("1m30s", 90_000_000_000), ("500ms", 500_000_000), ("2h", 7_200_000_000_000),
            ("1.5h", 5_400_000_000_000), ("0", 0), ("-0", 0), ("+5s", 5_000_000_000), ("0s", 0), ("1ns", 1),
            ("3us", 3_000), ("3\u{00B5}s", 3_000), ("3\u{03BC}s", 3_000), ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            (".5s", 500_000_000), ("1.s", 1_000_000_000), ("0.000000001s", 1), ("1.0000000000000000000009s", 1_000_000_000),
        ]
        for (text, nanoseconds) in cases {
            XCTAssertEqual(try GoDuration.parse(text).nanoseconds, nanoseconds, text)
        }
    }

    func testBadDurationsNameTheirFault() {
        let cases: [(String, String)] = [
            ("", "empty duration"), ("30", "missing unit"), ("30x", "unknown unit \"x\""), ("s", "expected a number"),
            ("-5s", "must not be negative"), (".s", "expected a number"), ("1m30", "missing unit"),
            ("99999999999h", "too large"), ("18446744073709551616ns", "too large"), ("1 s", "unknown unit \" s\""),
            ("+", "empty duration"),
        ]
        for (text, fragment) in cases {
            XCTAssertThrowsError(try GoDuration.parse(text), text) { error in
                guard let error = error as? GoDuration.ParseError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.text, text)
                XCTAssertTrue(error.reason.contains(fragment), "\(text): \(error.reason)")
                XCTAssertTrue(error.description.hasPrefix("invalid duration \"\(text)\": "))
            }
        }
    }

    func testFormatRoundTrips() throws {
        let spans: [TimeSpan] = [
            .zero, .seconds(30), .seconds(90), .milliseconds(500), .hours(2), .seconds(3661),
            TimeSpan(nanoseconds: 1_500), TimeSpan(nanoseconds: 7), TimeSpan(nanoseconds: 1_000_000_001),
        ]
        XCTAssertEqual(GoDuration.format(.seconds(90)), "1m30s")
        XCTAssertEqual(GoDuration.format(.zero), "0s")
        XCTAssertEqual(GoDuration.format(.milliseconds(1500)), "1500ms")
        for span in spans {
            XCTAssertEqual(try GoDuration.parse(GoDuration.format(span)), span, GoDuration.format(span))
        }
    }
}
