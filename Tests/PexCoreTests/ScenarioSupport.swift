import PexCore
import PexSim
import PexWire
import XCTest

/// Builds simulated networks for the scenario tests: real `Node`s, real libsodium crypto
/// unless a test asks for the fake, one seed for everything.
enum Scenario {
    static let network = "pex-sim"

    /// A network of `count` hosts where every host knows the hosts in `bootstrap` (by index).
    static func make(
        count: Int, seed: UInt64 = 1, bootstrap: [Int] = [0], crypto: any CryptoProvider = SodiumCrypto(),
        configure: (Int, inout NodeConfig) -> Void = { _, _ in }
    ) -> SimNetwork {
        let sim = SimNetwork(seed: seed, crypto: crypto)
        for i in 0..<count {
            sim.addHost { config in
                config.bootstrapPeers = bootstrap.filter { $0 != i }.map { SimNetwork.address(SimNetwork.ip(for: $0), 4001) }
                configure(i, &config)
            }
        }
        return sim
    }

    /// Whether every live host holds a record of every other live host.
    static func allKnowAll(_ sim: SimNetwork, among hosts: [Int]? = nil) -> Bool {
        let live = (hosts ?? Array(sim.hosts.indices)).filter { sim.hosts[$0].alive }
        let keys = Set(live.map { sim.hosts[$0].identity.publicKey })
        return live.allSatisfy { i in
            let known = Set(sim.hosts[i].node!.knownRecords.map(\.publicKey))
            return keys.subtracting([sim.hosts[i].identity.publicKey]).isSubset(of: known)
        }
    }

    /// Runs in steps of `step` until `condition` holds or `limit` passes.
    /// - Returns: The virtual time it took, or nil if the limit passed first.
    static func runUntil(_ sim: SimNetwork, limit: TimeSpan, step: TimeSpan = .milliseconds(500),
                         _ condition: () -> Bool) -> TimeSpan? {
        let start = sim.now
        let end = sim.now + limit
        while sim.now < end {
            if condition() { return sim.now - start }
            sim.run(for: step)
        }
        return condition() ? sim.now - start : nil
    }

    /// Fails the test if any live node's invariants are broken.
    static func assertInvariants(_ sim: SimNetwork, file: StaticString = #filePath, line: UInt = #line) {
        for host in sim.hosts where host.alive {
            let problems = host.node!.checkInvariants()
            XCTAssertEqual(problems, [], "host \(host.index)", file: file, line: line)
        }
    }
}
