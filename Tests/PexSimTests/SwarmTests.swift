import PexCore
import PexSim
import PexWire
import XCTest

final class SwarmTests: XCTestCase {
    func testProbe() {
        for seed in UInt64(1)...3 {
            let start = Date()
            let outcome = Swarm.run(seed: seed, crypto: .fake, options: SwarmOptions.derive(seed: seed, nodes: 64))
            print(outcome.summary, "steps", outcome.steps, "wall", Date().timeIntervalSince(start))
        }
    }
}
