import XCTest
@testable import PexCore

final class TimeTests: XCTestCase {
    func testInstantArithmeticSaturates() {
        let t = Instant.unix(seconds: 10)
        XCTAssertEqual((t + .seconds(5)).unixSeconds, 15)
        XCTAssertEqual((t - .seconds(20)).nanoseconds, 0)
        XCTAssertEqual((Instant(nanoseconds: .max) + .seconds(1)).nanoseconds, .max)
        XCTAssertEqual(Instant.unix(seconds: 3) - Instant.unix(seconds: 5), .zero)
        XCTAssertEqual(TimeSpan.seconds(2) * 3, .seconds(6))
        XCTAssertEqual((TimeSpan(nanoseconds: .max) * 2).nanoseconds, .max)
    }

    func testSeededRandomReplaysBitForBit() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let xs = (0..<8).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<8).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<8).map { _ in c.next() })
        XCTAssertEqual(a.bytes(5).count, 5)
        for _ in 0..<100 { XCTAssertLessThanOrEqual(a.jitter(upTo: .seconds(3)), .seconds(3)) }
        XCTAssertEqual(a.jitter(upTo: .zero), .zero)
    }
}
