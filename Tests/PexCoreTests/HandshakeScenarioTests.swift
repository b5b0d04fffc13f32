import PexCore
import PexSim
import PexWire
import XCTest

final class HandshakeScenarioTests: XCTestCase {
    func testTwoNodesHandshakeAndExchange() {
        let sim = Scenario.make(count: 2)
        sim.start(0)
        sim.start(1)
        let took = Scenario.runUntil(sim, limit: .seconds(30)) { Scenario.allKnowAll(sim) }
        XCTAssertNotNil(took)
        XCTAssertEqual(sim.hosts[0].node?.readyPeers, [sim.hosts[1].identity.publicKey])
        XCTAssertEqual(sim.hosts[1].node?.readyPeers, [sim.hosts[0].identity.publicKey])
        XCTAssertEqual(sim.hosts[1].node?.state, .maintenance)
        Scenario.assertInvariants(sim)
    }
}

final class ConvergenceScenarioTests: XCTestCase {
    func testSixteenNodesFromOneBootstrapAllKnowAll() {
        let sim = Scenario.make(count: 16)
        for i in 0..<16 { sim.start(i) }
        let took = Scenario.runUntil(sim, limit: .minutes(10)) { Scenario.allKnowAll(sim) }
        print("16 nodes: all know all after \(took.map { "\($0)" } ?? "never")")
        XCTAssertNotNil(took)
        Scenario.assertInvariants(sim)
    }
}
