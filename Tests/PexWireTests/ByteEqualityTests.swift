import XCTest

@testable import PexWire

/// `sameBytes(as:)` must agree with `==` on byte arrays: keys, records and addresses compare
/// with it in every table lookup.
final class ByteEqualityTests: XCTestCase {
    func testAgreesWithElementwiseEquality() {
        let base: [UInt8] = Array(0..<200)
        var lastDiffers = base
        lastDiffers[199] ^= 1
        var firstDiffers = base
        firstDiffers[0] ^= 0x80
        let cases: [([UInt8], [UInt8])] = [
            (base, Array(base)),             // equal, separate buffers
            (base, base),                    // the same buffer
            (base, lastDiffers), (base, firstDiffers),
            (base, Array(base.prefix(199))), // a prefix: lengths differ
            ([], []), ([], [0]),
        ]
        for (a, b) in cases {
            XCTAssertEqual(a.sameBytes(as: b), a == b, "\(a.count) vs \(b.count) bytes")
            XCTAssertEqual(b.sameBytes(as: a), a == b)
        }
        XCTAssertFalse(base.sameBytes(as: lastDiffers), "a difference in the last byte counts")
        XCTAssertTrue(base.sameBytes(as: Array(base)))
    }

    func testKeysAndRecordsCompareByBytes() {
        let bytes = [UInt8](repeating: 7, count: 32)
        var other = bytes
        other[31] = 8
        XCTAssertEqual(PublicKey(unvalidated: bytes), PublicKey(unvalidated: Array(bytes)))
        XCTAssertNotEqual(PublicKey(unvalidated: bytes), PublicKey(unvalidated: other))
        let record = SignedPeerRecord(record: [1, 2, 3], signature: [UInt8](repeating: 9, count: 64))
        var tampered = record
        tampered.record[2] = 4
        XCTAssertEqual(record, SignedPeerRecord(record: [1, 2, 3], signature: [UInt8](repeating: 9, count: 64)))
        XCTAssertNotEqual(record, tampered, "same signature, different record bytes")
    }
}
