import PexCore
import PexSim
import PexWire
import XCTest

extension Scenario {
    /// Replays a host's events and checks, at every outbound connection, that at most
    /// `target` outbound connections are ready and that no two share a network group (/16).
    /// - Returns: The most outbound connections seen at once.
    @discardableResult
    static func assertOutboundRules(_ sim: SimNetwork, host i: Int, target: Int = 8,
                                    file: StaticString = #filePath, line: UInt = #line) -> Int {
        var open: [ConnectionID: [UInt8]] = [:]
        var most = 0
        for (_, event) in sim.hosts[i].events {
            switch event {
            case let .connected(id, _, .outbound, remote):
                let group = remote.ipAddress?.netGroup ?? []
                XCTAssertFalse(open.values.contains(group), "host \(i): second outbound into \(remote)", file: file, line: line)
                open[id] = group
                most = max(most, open.count)
                XCTAssertLessThanOrEqual(open.count, target, "host \(i)", file: file, line: line)
            case let .disconnected(id, _, _):
                open[id] = nil
            default:
                break
            }
        }
        return most
    }

    /// Whether every live host holds, for every other live host, exactly its current record.
    static func allHoldNewest(_ sim: SimNetwork, among hosts: [Int]? = nil) -> Bool {
        let live = (hosts ?? Array(sim.hosts.indices)).filter { sim.hosts[$0].alive }
        return live.allSatisfy { i in
            live.allSatisfy { j in
                i == j || sim.hosts[i].node!.entry(for: sim.hosts[j].identity.publicKey)?.record.signed == sim.hosts[j].node!.ownRecord
            }
        }
    }
}

/// Growth of a network: nodes joining one by one, and 64 at once.
final class GrowthScenarioTests: XCTestCase {
    func testGradualGrowth() {
        let sim = Scenario.make(count: 16, seed: 21, crypto: InsecureFakeCrypto())
        for i in 0..<16 {
            sim.start(i)
            sim.run(for: .seconds(5))
        }
        let took = Scenario.runUntil(sim, limit: .minutes(10)) { Scenario.allKnowAll(sim) }
        print("MEASURE: gradual growth, 16 nodes joining every 5 s: all know all \(took.map { "\($0.seconds)" } ?? "never") s after the last joined")
        XCTAssertNotNil(took)
        XCTAssertLessThanOrEqual(took ?? .hours(1), .seconds(90))
        for i in 0..<16 { Scenario.assertOutboundRules(sim, host: i) }
        Scenario.assertInvariants(sim)
    }

    func testRapidGrowthSixtyFourAtOnce() {
        // Host 0, the only bootstrap peer, keeps the default 32 inbound slots: 63 newcomers
        // take them one address fetch at a time, and once full it evicts an unprotected
        // inbound peer for each authenticated newcomer (docs/PROTOCOL.md §14.6).
        let sim = Scenario.make(count: 64, seed: 22, crypto: InsecureFakeCrypto())
        for i in 0..<64 { sim.start(i) }
        let took = Scenario.runUntil(sim, limit: .minutes(10), step: .seconds(4)) { Scenario.allKnowAll(sim) }
        print("MEASURE: rapid growth, 64 nodes at once from one bootstrap peer: all know all after \(took.map { "\($0.seconds)" } ?? "never") s")
        XCTAssertNotNil(took)
        XCTAssertLessThanOrEqual(took ?? .hours(1), .seconds(240))
        var most: [Int] = []
        for i in 0..<64 { most.append(Scenario.assertOutboundRules(sim, host: i)) }
        print("MEASURE: rapid growth: most outbound at once per node: min \(most.min()!) max \(most.max()!)")
        XCTAssertEqual(most.max(), 8)
        XCTAssertLessThanOrEqual(sim.hosts[0].node!.connectionCount(.inbound), 32)
        Scenario.assertInvariants(sim)
    }
}

/// Nodes crash and restart, with and without their store.
final class ChurnScenarioTests: XCTestCase {
    func testCrashesAndRestartsConverge() {
        // Hosts 3, 4, 5 have no bootstrap peer configured: they join through a runtime command,
        // which is not part of their configuration, so after a restart only their store helps.
        let noBootstrap: Set<Int> = [3, 4, 5]
        let sim = Scenario.make(count: 16, seed: 31, crypto: InsecureFakeCrypto()) { i, config in
            if noBootstrap.contains(i) { config.bootstrapPeers = [] }
        }
        for i in 0..<16 {
            sim.start(i)
            if noBootstrap.contains(i) { sim.command(i, .addBootstrapPeer(sim.hosts[0].listenAddress)) }
        }
        XCTAssertNotNil(Scenario.runUntil(sim, limit: .minutes(5), step: .seconds(2)) { Scenario.allKnowAll(sim) })
        sim.run(for: .seconds(20))  // let stores catch up on sync cursors and successes

        let seqBefore = [3, 4, 5].map { sim.hosts[$0].node!.ownSeq }
        for i in [3, 4, 5] { sim.crash(i, keepStore: true) }
        for i in [6, 7] { sim.crash(i, keepStore: false) }
        sim.crash(9, keepStore: true)  // stays down
        sim.run(for: .seconds(50))
        // Survivors keep working among themselves.
        let survivors = [0, 1, 2, 8] + Array(10..<16)
        XCTAssertTrue(survivors.allSatisfy { sim.hosts[$0].node!.state == .maintenance })

        for i in [3, 4, 5, 6, 7] { sim.start(i) }
        for i in [3, 4, 5] {
            let node = sim.hosts[i].node!
            XCTAssertEqual(node.config.bootstrapPeers, [])
            XCTAssertEqual(node.knownRecords.count, 15, "host \(i) restored its book")
        }
        for i in [6, 7] { XCTAssertEqual(sim.hosts[i].node!.knownRecords.count, 0) }
        let took = Scenario.runUntil(sim, limit: .minutes(5)) { Scenario.allHoldNewest(sim) }
        print("MEASURE: churn, 5 of 16 restarted: all hold every live node's newest record after \(took.map { "\($0.seconds)" } ?? "never") s")
        XCTAssertNotNil(took)
        XCTAssertLessThanOrEqual(took ?? .hours(1), .seconds(120))
        for (n, i) in [3, 4, 5].enumerated() {
            let node = sim.hosts[i].node!
            XCTAssertEqual(node.state, .maintenance, "host \(i) reconnected from its persisted peers")
            XCTAssertGreaterThanOrEqual(node.readyPeers.count, 2)
            // Its own seq moved past the one it had persisted: no seq is ever reused.
            XCTAssertGreaterThan(node.ownSeq, seqBefore[n])
        }
        Scenario.assertInvariants(sim)
    }

    func testRestartWithoutStoreOrBootstrapWaitsToBeDialled() {
        // The control case: with neither a store nor a bootstrap peer, a restarted node has no
        // one to dial; only others dialling its (still known) address bring it back.
        let sim = Scenario.make(count: 4, seed: 32, crypto: InsecureFakeCrypto()) { i, config in
            if i == 3 { config.bootstrapPeers = [] }
        }
        for i in 0..<4 { sim.start(i) }
        sim.command(3, .addBootstrapPeer(sim.hosts[0].listenAddress))
        XCTAssertNotNil(Scenario.runUntil(sim, limit: .minutes(2)) { Scenario.allKnowAll(sim) })
        sim.crash(3, keepStore: false)
        sim.run(for: .minutes(1))
        let mark = sim.hosts[3].events.count
        sim.start(3)
        XCTAssertEqual(sim.hosts[3].node!.knownRecords.count, 0)
        // Others still hold its address and redial it to fill their outbound slots.
        let took = Scenario.runUntil(sim, limit: .minutes(5)) { Scenario.allHoldNewest(sim) }
        XCTAssertNotNil(took)
        let connections = sim.hosts[3].events[mark...].compactMap { if case let .connected(_, _, direction, _) = $0.1 { direction } else { nil } }
        XCTAssertEqual(connections.first, .inbound, "its first peer dialled it")
        XCTAssertGreaterThan(sim.hosts[3].node!.readyPeers.count, 0)
    }
}

/// A network split in two halves, a record changed on one side, then healed.
final class PartitionScenarioTests: XCTestCase {
    func testPartitionAndHeal() {
        let sim = Scenario.make(count: 16, seed: 41, crypto: InsecureFakeCrypto())
        for i in 0..<16 { sim.start(i) }
        XCTAssertNotNil(Scenario.runUntil(sim, limit: .minutes(5), step: .seconds(2)) { Scenario.allKnowAll(sim) })
        let left = Array(0..<8), right = Array(8..<16)
        sim.partition([left, right])
        sim.run(for: .seconds(50))  // cross links go silent and time out (idle timeout 45 s)
        for i in left {
            let rightKeys = Set(right.map { sim.hosts[$0].identity.publicKey })
            XCTAssertTrue(Set(sim.hosts[i].node!.readyPeers).isDisjoint(with: rightKeys), "host \(i)")
        }

        // Host 3 re-advertises: a second address added, so its record gets a new seq.
        let key = sim.hosts[3].identity.publicKey
        let oldSeq = sim.hosts[3].node!.ownSeq
        var config = sim.hosts[3].config
        config.advertisedAddresses.append(try! Multiaddr("/ip4/99.1.2.3/tcp/4002"))
        sim.command(3, .reload(config))
        let newRecord = sim.hosts[3].node!.ownRecord!
        XCTAssertGreaterThan(sim.hosts[3].node!.ownSeq, oldSeq)
        func holdsNew(_ i: Int) -> Bool { sim.hosts[i].node!.entry(for: key)?.record.signed == newRecord }
        let inside = Scenario.runUntil(sim, limit: .minutes(3)) { left.filter { $0 != 3 }.allSatisfy(holdsNew) }
        print("MEASURE: partition: new record across its half (8 nodes) in \(inside.map { "\($0.seconds)" } ?? "never") s")
        XCTAssertNotNil(inside)
        sim.run(for: .minutes(1))
        for i in right {
            XCTAssertEqual(sim.hosts[i].node!.entry(for: key)?.record.seq, oldSeq, "host \(i) across the partition")
        }

        sim.heal()
        let healed = Scenario.runUntil(sim, limit: .minutes(10)) { Scenario.allHoldNewest(sim) }
        print("MEASURE: partition healed: all 16 hold the newest records after \(healed.map { "\($0.seconds)" } ?? "never") s")
        XCTAssertNotNil(healed)
        XCTAssertLessThanOrEqual(healed ?? .hours(1), .minutes(5))
        XCTAssertTrue(right.allSatisfy(holdsNew))
        Scenario.assertInvariants(sim)
    }
}
