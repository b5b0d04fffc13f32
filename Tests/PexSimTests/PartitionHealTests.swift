import PexCore
import PexSim
import PexWire
import XCTest

/// A healed partition reconverges in roster mode within a stated bound (PROTOCOL.md §15.4).
///
/// At this size the halves can also meet again through outbound slots still free when the cut
/// heals; the case where only refresh feelers cross the old cut (every node's 8 outbound links
/// inside its own half) is `pexsim run partition --short --seed 1` and `--seed 3`.
final class PartitionHealTests: XCTestCase {
    func testHealedRosterPartitionReconverges() {
        let n = 28
        let all = Array(0..<n)
        let sim = SimNetwork.build(count: n, seed: 21, crypto: .fake, bootstrap: [0, 1], roster: true, timing: .fast)
        for i in all { sim.start(i) }
        XCTAssertNotNil(sim.run(until: { sim.converged(among: all) }, limit: .minutes(5)), "initial convergence")

        let a = all.filter { $0 % 2 == 0 }, b = all.filter { $0 % 2 == 1 }
        sim.partition([a, b])
        sim.run(for: .seconds(5))
        // Two members of each half move while cut off: each half learns only its own moves.
        for (k, i) in [a[1], a[2], b[1], b[2]].enumerated() {
            let ip = IPAddress(ipv4: 61, 0, UInt8(k), 1)
            sim.changeAddress(i, to: ip)
            var config = sim.hosts[i].config
            config.advertisedAddresses = [SimNetwork.address(ip, 4001)]
            sim.command(i, .reload(config))
        }
        // Four sync intervals and more than the idle timeout: every link across the cut is gone.
        sim.run(for: .seconds(20))
        XCTAssertFalse(sim.converged(among: all))
        let crossing = a.contains { i in
            sim.inspect(i) { node in node.readyPeers.contains { key in b.contains { sim.hosts[$0].identity.publicKey == key } } } ?? false
        }
        XCTAssertFalse(crossing, "a connection survived the cut")

        sim.heal()
        // Bound: 9 feeler intervals (20 s each with the fast timers; 18 min with the shipped ones).
        let healed = sim.run(until: { sim.converged(among: all) }, limit: .seconds(180))
        XCTAssertNotNil(healed, "not healed: \(sim.diagnose(among: all))")
        for host in sim.hosts where host.alive {
            XCTAssertEqual(host.node!.checkInvariants(), [], "host \(host.index)")
        }
    }
}
