import PexWire
import XCTest

@testable import PexCore

final class KnownRecordsTests: XCTestCase {
    private func key(_ index: Int) -> PublicKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8(index & 0xff)
        bytes[1] = UInt8(index >> 8 & 0xff)
        guard let key = PublicKey(unvalidated: bytes) else { fatalError("32 bytes always wrap") }
        return key
    }

    func testHoldsTheSeqNotedOrLater() {
        var known = KnownRecords(capacity: 8)
        XCTAssertFalse(known.holds(key(1), seq: 1))
        known.note(key(1), seq: 5)
        XCTAssertTrue(known.holds(key(1), seq: 5))
        XCTAssertTrue(known.holds(key(1), seq: 4))
        XCTAssertFalse(known.holds(key(1), seq: 6), "a newer record is news to the peer")
        known.note(key(1), seq: 3)
        XCTAssertTrue(known.holds(key(1), seq: 5), "an older record noted later does not lower what the peer holds")
        known.note(key(1), seq: 7)
        XCTAssertTrue(known.holds(key(1), seq: 6))
        XCTAssertEqual(known.count, 1)
        XCTAssertFalse(known.holds(key(2), seq: 1))
    }

    func testForgetsTheKeyNotedLongestAgoWhenFull() {
        var known = KnownRecords(capacity: 3)
        for i in 1...3 { known.note(key(i), seq: 1) }
        known.note(key(1), seq: 2)  // an update does not make key 1 younger
        known.note(key(4), seq: 1)
        XCTAssertEqual(known.count, 3)
        XCTAssertFalse(known.holds(key(1), seq: 1))
        XCTAssertTrue(known.holds(key(2), seq: 1))
        XCTAssertTrue(known.holds(key(4), seq: 1))
        for i in 5...9 { known.note(key(i), seq: 1) }
        XCTAssertEqual(known.count, 3)
        XCTAssertEqual((1...9).filter { known.holds(key($0), seq: 1) }, [7, 8, 9])
        XCTAssertEqual(KnownRecords(capacity: 0).capacity, 1)
    }
}
