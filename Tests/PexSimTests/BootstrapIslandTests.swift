import PexCore
import PexSim
import PexWire
import XCTest

/// A bootstrap peer whose own dials fail while newcomers reach it becomes the root of an island:
/// the members that bootstrapped from it know only each other, and no one there holds a record
/// from outside. Until it has reached one of its own bootstrap peers, a node keeps trying them
/// even while it has peers (PROTOCOL.md §15.2), so the island joins the rest once the path
/// opens. Swarm seed 260 at 64 nodes (20 % loss, revision 10) stayed split in two for good.
final class BootstrapIslandTests: XCTestCase {
    func testIslandAroundAnUnreachableBootstrapPeerJoinsTheRest() {
        let n = 24
        let all = Array(0..<n)
        // Bootstrap 0 and the members that can reach only it, from the start.
        let island = [0] + Array(3..<10)
        let rest = all.filter { !island.contains($0) }
        let sim = SimNetwork.build(count: n, seed: 5, crypto: .fake, bootstrap: [0, 1, 2], roster: true, timing: .fast)
        sim.partition([island, rest])
        for i in all { sim.start(i) }
        sim.run(for: .seconds(40))
        let keys = all.map { sim.hosts[$0].identity.publicKey }
        func holdsAny(_ holders: [Int], of subjects: [Int]) -> Bool {
            holders.contains { h in sim.inspect(h) { node in subjects.contains { node.entry(for: keys[$0]) != nil } } ?? false }
        }
        XCTAssertTrue(sim.converged(among: island), "the island is complete in itself")
        XCTAssertTrue(sim.converged(among: rest))
        XCTAssertFalse(holdsAny(island, of: rest), "and knows nothing of the rest")
        XCTAssertFalse(holdsAny(rest, of: island))

        sim.heal()
        // Nothing in the island can name a peer outside it: only host 0's retries of its
        // bootstrap peers (after its back-off, at most `backoffCap`: 50 s with the fast timers)
        // open a path, and relays and syncs carry the records both ways.
        let took = sim.run(until: { sim.converged(among: all) }, limit: .seconds(180))
        XCTAssertNotNil(took, sim.diagnose(among: all).joined(separator: "\n"))
        print("MEASURE: bootstrap island of \(island.count) of \(n) joined the rest \(took?.seconds ?? -1) s after the path opened")
    }
}
