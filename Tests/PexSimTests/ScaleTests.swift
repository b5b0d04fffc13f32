import PexCore
@testable import PexSim
import XCTest

final class ScaleTests: XCTestCase {
    /// The event queue pops by time, ties in push order, and reuses freed slots without mixing
    /// up items.
    func testEventQueueOrderAndSlotReuse() {
        var q = EventQueue<String>()
        q.push("c", at: 30)
        q.push("a1", at: 10)
        q.push("b", at: 20)
        q.push("a2", at: 10)
        XCTAssertEqual(q.count, 4)
        XCTAssertEqual(q.nextTime, 10)
        XCTAssertEqual(q.pop()?.item, "a1")
        XCTAssertEqual(q.pop()?.item, "a2")
        // Freed slots are reused by later pushes; order still follows (time, push order).
        q.push("d", at: 5)
        q.push("b2", at: 20)
        var popped: [String] = []
        while let (_, item) = q.pop() { popped.append(item) }
        XCTAssertEqual(popped, ["d", "b", "b2", "c"])
        XCTAssertTrue(q.isEmpty)
        XCTAssertNil(q.pop())
        // A larger random load comes out sorted.
        var r = SeededRandom(seed: 7)
        for k in 0..<500 { q.push("\(k)", at: UInt64.random(in: 0..<50, using: &r)) }
        var last: (UInt64, Int) = (0, -1)
        while let (time, item) = q.pop() {
            let k = Int(item) ?? -1
            XCTAssertTrue(time > last.0 || (time == last.0 && k > last.1), "out of order at \(time)/\(k)")
            last = (time, k)
        }
    }

    /// The per-round work line of large runs: differences of the running totals, close causes
    /// commonest first (ties by name), zero differences left out, and the current count of
    /// nodes with full inbound slots rather than a difference.
    func testWorkTotalsDifferenceAndSummary() {
        let before = Bench.WorkTotals(accepted: 10, notStored: 4, duplicate: 5, relays: 2, bytes: 1_000_000, syncs: 1, syncRecords: 4,
                                      connections: 3, closes: ["feeler-done": 2, "transport": 1], inboundFull: 7)
        let after = Bench.WorkTotals(accepted: 25, notStored: 12, duplicate: 9, relays: 3, bytes: 4_500_000, syncs: 4, syncRecords: 10,
                                     connections: 9, closes: ["feeler-done": 2, "transport": 4, "evicted-for-a-new-peer": 3,
                                                              "dial-failed": 5],
                                     inboundFull: 2)
        let round = after - before
        XCTAssertEqual(round.accepted, 15)
        XCTAssertEqual(round.notStored, 8)
        XCTAssertEqual(round.closes["transport"], 3)
        XCTAssertEqual(round.inboundFull, 2)
        XCTAssertEqual(round.summary,
                       "accepted 15 (not stored 8), duplicate 4, relays 1, syncs 3 carrying 6 records, connections 6, 3 MB; "
                       + "inbound full at 2 nodes; closed: dial-failed 5, evicted-for-a-new-peer 3, transport 3")
    }

    /// `pexsim run scale` reports what the run cost next to the coverage it reached, and leaves
    /// the 10 000 × 50 target unmeasured for a smaller run.
    func testScaleScenarioReportsCost() {
        let result = Scenarios.run(.scale, ScenarioParams(nodes: 12, seed: 3, rounds: 3))
        XCTAssertEqual(result.violations, [])
        XCTAssertEqual(result.metrics["rounds"], 3)
        XCTAssertEqual(result.metrics["final_coverage"], 1, result.text)
        XCTAssertGreaterThan(result.metrics["cpu_seconds"] ?? 0, 0)
        XCTAssertGreaterThan(result.metrics["max_rss_mb"] ?? 0, 1)
        XCTAssertEqual(result.metrics["events"], Double(result.steps))
        XCTAssertGreaterThan(result.steps, 1000)
        XCTAssertGreaterThan(result.metrics["events_per_second"] ?? 0, 0)
        XCTAssertEqual(result.series["wall_seconds"]?.count, 3)
        let target = result.targets.first { $0.name == "wall_seconds_10000x50" }
        XCTAssertNotNil(target)
        XCTAssertNil(target?.measured)
    }
}
