import Foundation
import PexCore
@testable import PexSim
import PexWire
import XCTest

final class FaultModelTests: XCTestCase {
    func pair(_ configure: (inout NodeConfig) -> Void = { _ in }) -> SimNetwork {
        let sim = SimNetwork.build(count: 2, seed: 3, crypto: .fake, bootstrap: [0], roster: false, timing: .standard) { _, c in
            configure(&c)
        }
        sim.start(0)
        sim.start(1)
        sim.run(for: .seconds(5))
        return sim
    }

    /// Segments sent across a cut path are held and delivered once it heals, so a partition
    /// shorter than the idle timeout costs no connection (TCP retransmits; it does not lose bytes).
    func testShortPartitionKeepsTheConnection() {
        let sim = pair()
        XCTAssertEqual(sim.readyConnections(of: 0).count, 1)
        let before = sim.readyConnections(of: 0).map(\.0)
        sim.partition([[0], [1]])
        XCTAssertTrue(sim.isPartitioned)
        sim.run(for: .seconds(20))  // pings go unanswered, held
        XCTAssertFalse(sim.held.isEmpty)
        sim.heal()
        XCTAssertTrue(sim.held.isEmpty)
        sim.run(for: .seconds(5))
        XCTAssertEqual(sim.readyConnections(of: 0).map(\.0), before)
    }

    /// A partition longer than the idle timeout closes the connection on both sides.
    func testLongPartitionTimesOut() {
        let sim = pair()
        sim.partition([[0], [1]])
        sim.run(for: .seconds(60))
        XCTAssertEqual(sim.readyConnections(of: 0).count, 0)
        XCTAssertEqual(sim.readyConnections(of: 1).count, 0)
        sim.heal()
        sim.run(for: .minutes(6))  // bootstrap backoff is capped at 5 minutes
        XCTAssertEqual(sim.readyConnections(of: 1).count, 1)
    }

    /// One-way block: no connection can form in either direction (TCP needs both).
    func testOneWayBlockPreventsDials() {
        let sim = SimNetwork.build(count: 2, seed: 3, crypto: .fake, bootstrap: [0], roster: false, timing: .standard)
        sim.block(from: 0, to: 1)
        sim.start(0)
        sim.start(1)
        sim.run(for: .seconds(30))
        XCTAssertEqual(sim.readyConnections(of: 1).count, 0)
        sim.unblock(from: 0, to: 1)
        sim.run(for: .minutes(6))
        XCTAssertEqual(sim.readyConnections(of: 1).count, 1)
    }

    /// Total loss exhausts the retransmissions: the connection is reset, never corrupted.
    func testLossResetsAfterMaxRetransmits() {
        let sim = pair()
        var m = LinkModel()
        m.loss = 1
        sim.link = m
        sim.run(for: .seconds(30))
        XCTAssertGreaterThan(sim.retransmitResets, 0)
        XCTAssertEqual(sim.readyConnections(of: 0).count, 0)
    }

    /// Latency draws stay inside the bounds for every distribution, and loss only adds delay.
    func testLatencyDistributionsRespectBounds() {
        let sim = SimNetwork(seed: 1, crypto: InsecureFakeCrypto())
        for d in [LatencyDistribution.uniform, .normal(mean: .milliseconds(30), deviation: .milliseconds(20)), .pareto(alpha: 1.2)] {
            var m = LinkModel()
            m.distribution = d
            m.latencyMin = .milliseconds(10)
            m.latencyMax = .milliseconds(80)
            let draws = (0..<500).map { _ in sim.baseLatency(m) }
            XCTAssertTrue(draws.allSatisfy { $0 >= .milliseconds(1) && $0 <= .milliseconds(80) }, "\(d)")
            XCTAssertGreaterThan(Set(draws).count, 50, "\(d)")
        }
        var lossy = LinkModel()
        lossy.loss = 0.5
        lossy.latencyMin = .milliseconds(10)
        lossy.latencyMax = .milliseconds(10)
        sim.link = lossy
        let delays = (0..<500).compactMap { _ in sim.segmentDelay(0, 1) }
        XCTAssertTrue(delays.allSatisfy { $0 == .milliseconds(10) || $0 >= .milliseconds(210) })
        XCTAssertTrue(delays.contains(.milliseconds(10)))
        XCTAssertTrue(delays.contains(.milliseconds(210)))
        XCTAssertTrue(delays.contains(.milliseconds(610)))  // two losses: 200 + 400 ms
    }

    /// A crash without the store forgets everything; a restart with it keeps the table.
    func testCrashWithAndWithoutStore() {
        let sim = SimNetwork.build(count: 4, seed: 5, crypto: .fake, bootstrap: [0], roster: false, timing: .fast)
        for i in 0..<4 { sim.start(i) }
        XCTAssertNotNil(sim.run(until: { sim.converged(among: [0, 1, 2, 3]) }, limit: .minutes(2)))
        sim.crash(2)
        XCTAssertFalse(sim.isAlive(2))
        XCTAssertFalse(sim.converged(among: [0, 1, 2, 3]))
        sim.start(2)
        XCTAssertEqual(sim.inspect(2) { $0.knownRecords.count }, 3)
        sim.restart(3, keepStore: false)
        XCTAssertEqual(sim.inspect(3) { $0.knownRecords.count }, 0)
        XCTAssertNotNil(sim.run(until: { sim.converged(among: [0, 1, 2, 3]) }, limit: .minutes(2)))
    }

    /// An address change moves the host: the new address is dialled, records follow.
    func testAddressChangeSpreads() {
        let sim = SimNetwork.build(count: 6, seed: 8, crypto: .fake, bootstrap: [0], roster: true, timing: .fast)
        for i in 0..<6 { sim.start(i) }
        XCTAssertNotNil(sim.run(until: { sim.converged(among: Array(0..<6)) }, limit: .minutes(2)))
        let before = sim.inspect(5) { $0.ownSeq } ?? 0
        sim.changeAddress(5, to: IPAddress(ipv4: 60, 1, 2, 3))
        var c = sim.hosts[5].config
        c.advertisedAddresses = [SimNetwork.address(IPAddress(ipv4: 60, 1, 2, 3), 4001)]
        sim.command(5, .reload(c))
        let after = sim.inspect(5) { $0.ownSeq } ?? 0
        XCTAssertGreaterThan(after, before)
        XCTAssertEqual(sim.address(of: 5).text, "/ip4/60.1.2.3/tcp/4001")
        XCTAssertNotNil(sim.run(until: { sim.converged(among: Array(0..<6)) }, limit: .minutes(1)))
    }
}

final class InvariantCheckerTests: XCTestCase {
    /// The checker reports a forged record, a lower seq, a non-member and a banned admission.
    func testCheckerCatchesPlantedViolations() throws {
        let sim = SimNetwork.build(count: 2, seed: 1, crypto: .fake, bootstrap: [0], roster: true, timing: .standard)
        let checker = InvariantChecker(crypto: InsecureFakeCrypto(), everyStep: true)
        checker.attach(to: sim)
        sim.start(0)
        let outsider = try KeyPair(seed: [UInt8](repeating: 9, count: 32))
        let member = try KeyPair(seed: SimNetwork.identitySeed(1))
        func record(_ key: KeyPair, seq: UInt64) throws -> SignedPeerRecord {
            try SignedPeerRecord.create(keyPair: key, seq: seq, addresses: [SimNetwork.address(SimNetwork.ip(for: 1), 4001)],
                                        networkID: "pex-sim", expiresAt: sim.now.unixSeconds + 3600, crypto: InsecureFakeCrypto())
        }
        func stored(_ r: SignedPeerRecord) -> Output {
            .persist(.upsertPeer(StoredPeer(record: r, sourceGroup: [], addedAt: sim.now, lastSeen: sim.now, lastTry: nil,
                                            lastSuccess: nil, attempts: 0, tried: false, protected: false)))
        }
        var forged = try record(member, seq: 5)
        forged = SignedPeerRecord(record: forged.record, signature: [UInt8](repeating: 1, count: 64))
        checker.observe(sim, 0, stored(forged))
        checker.observe(sim, 0, stored(try record(member, seq: 7)))
        checker.observe(sim, 0, stored(try record(member, seq: 6)))
        checker.observe(sim, 0, stored(try record(outsider, seq: 1)))
        let messages = checker.violations.map(\.message)
        XCTAssertEqual(messages.count, 3, "\(messages)")
        XCTAssertTrue(messages[0].hasPrefix("stored a record that does not verify"))
        XCTAssertTrue(messages[1].contains("replaced by a lower seq (7 → 6)"))
        XCTAssertTrue(messages[2].hasPrefix("stored non-member"))
        // A healthy run reports nothing.
        let clean = InvariantChecker(crypto: InsecureFakeCrypto(), everyStep: true)
        let sim2 = SimNetwork.build(count: 4, seed: 2, crypto: .fake, bootstrap: [0], roster: true, timing: .fast)
        clean.attach(to: sim2)
        for i in 0..<4 { sim2.start(i) }
        sim2.run(for: .seconds(30))
        XCTAssertEqual(clean.violations, [])
        XCTAssertGreaterThan(clean.checks, 100)
    }
}
