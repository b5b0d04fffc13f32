import PexCore
import PexSim
import PexWire
import XCTest

/// Bootstrap saturation (docs/PERFORMANCE.md): many newcomers, few bootstrap slots. Newcomers
/// take a bootstrap slot one address fetch at a time and release it once their book is
/// filled; a full bootstrap node evicts an unprotected inbound peer for an authenticated
/// newcomer. Without both, the first dialers kept every slot and the rest never joined.
final class BootstrapSaturationTests: XCTestCase {
    func testFortyNodesConvergeThroughEightInboundSlotsPerBootstrapNode() {
        let n = 40, bootstrap = [0, 1, 2], slots = 8
        let sim = SimNetwork.build(count: n, seed: 17, crypto: .fake, bootstrap: bootstrap, roster: true, timing: .fast) { i, c in
            if bootstrap.contains(i) { c.maxInbound = slots }
        }
        // Everyone at once: 37 newcomers for 24 bootstrap slots.
        for i in 0..<n { sim.start(i) }
        let all = Array(0..<n)
        let took = sim.run(until: { sim.converged(among: all) }, limit: .minutes(5), step: .milliseconds(500))
        XCTAssertNotNil(took, sim.diagnose(among: all).joined(separator: "\n"))
        print("MEASURE: 40 nodes, 3 bootstrap nodes with 8 inbound slots: converged in \(took.map { "\($0.seconds)" } ?? "never") s (fast timing, 5 s rounds)")
        XCTAssertLessThanOrEqual(took ?? .hours(1), .seconds(30), "a few 5 s rounds")

        // Convergence can come within the first exchanges, before a newcomer has a second ready
        // connection to keep when it drops its fetch: give the fetches two rounds to be released.
        sim.run(for: .seconds(10))
        var released = 0, evictions = 0
        for i in all {
            sim.inspect(i) { node in
                released += node.metrics.addressFetchesReleased
                evictions += node.metrics.inboundEvictions
                XCTAssertEqual(node.checkInvariants(), [], "host \(i)")
                if bootstrap.contains(i) { XCTAssertLessThanOrEqual(node.connectionCount(.inbound), slots, "host \(i)") }
            }
        }
        print("MEASURE: address fetches released \(released), inbound evictions \(evictions)")
        // Fetches were released, and the full bootstrap nodes made room for newcomers (the
        // youngest connections go first: often a fetch whose job was done).
        XCTAssertGreaterThan(released, 0)
        XCTAssertGreaterThan(evictions, 0)
    }
}
