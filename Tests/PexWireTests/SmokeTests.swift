import XCTest
@testable import PexWire
final class SmokeTests: XCTestCase { func testVarint() { XCTAssertEqual(Varint.encode(300), [0xac, 0x02]) } }
