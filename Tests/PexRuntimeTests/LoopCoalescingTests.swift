import PexCore
@testable import PexRuntime
import XCTest

/// The driver sends every frame the core produces for a connection during one loop turn as one
/// stream write (`Driver.unflushed`): a read carrying many requests costs one write, not one per
/// answer.
final class LoopWriteCoalescingTests: XCTestCase {
    func testFramesOfOneTurnLeaveAsOneWrite() throws {
        let (a, b, _) = try Harness.pair()
        defer { a.stop(); b.stop() }
        let keyA = try XCTUnwrap(a.snapshot()?.identity)
        let keyB = try XCTUnwrap(b.snapshot()?.identity)
        XCTAssertTrue(Harness.wait { a.snapshot()?.readyPeers == [keyB] && b.snapshot()?.readyPeers == [keyA] })
        // Each side's first sync exchange is done: the acceptor's requests are answered.
        XCTAssertTrue(Harness.wait { (a.snapshot()?.metrics.syncRounds ?? 0) >= 1 && (b.snapshot()?.metrics.syncRounds ?? 0) >= 1 })

        // A accepted B: the turn that verified B's Auth made the connection ready and sent A's
        // announcement and its request together (PROTOCOL.md §17.3), so A wrote at least one
        // frame fewer than it sent. One write per frame would make the counts equal.
        let countsA = try XCTUnwrap(a.withDriver { ($0.framesSent, $0.streamWrites) })
        XCTAssertEqual(countsA.0, a.snapshot()?.metrics.framesOut.values.reduce(0, +), "every frame of the core went out")
        XCTAssertLessThan(countsA.1, countsA.0, "frames \(countsA.0), writes \(countsA.1)")
        XCTAssertGreaterThan(countsA.1, 0)
    }
}
