import PexCore
import PexSim
import PexWire
import XCTest

/// Bootstrapping: nothing to dial, one or several bootstrap peers, and every bootstrap peer
/// unreachable (exponential backoff with full jitter, one `allBootstrapUnreachable`, recovery).
final class BootstrapScenarioTests: XCTestCase {
    func testNoPeersAtAllStaysBootstrappingQuietly() {
        let h = NodeHarness(config: NodeHarness.config())
        var gaps: [TimeSpan] = []
        let end = h.now + .minutes(10)
        while let deadline = h.node.nextDeadline(), deadline <= end {
            gaps.append(deadline - h.now)
            h.advance(by: deadline - h.now)
        }
        // The first tick is due at once (start-up); after that the node wakes at most once a
        // second (maintenance) and never asks for a tick in the past or the present (no spin).
        XCTAssertEqual(gaps.first, .zero)
        XCTAssertTrue(gaps.dropFirst().allSatisfy { $0 > .zero && $0 <= .seconds(1) }, "\(Set(gaps))")
        XCTAssertGreaterThanOrEqual(gaps.count, 600)
        XCTAssertLessThanOrEqual(gaps.count, 640)
        XCTAssertEqual(h.node.state, .bootstrapping)
        XCTAssertTrue(h.dials.isEmpty)
        XCTAssertEqual(h.node.connectionCount(.outbound), 0)
        // Nothing to report but our own record: in particular no allBootstrapUnreachable, since
        // there is no bootstrap source to be unreachable.
        XCTAssertEqual(h.events, [.ownRecordChanged(seq: NodeHarness.start.unixSeconds)])
        XCTAssertEqual(h.node.checkInvariants(), [])
    }

    func testAllBootstrapPeersUnreachableBacksOffThenRecovers() {
        let a = try! Multiaddr("/ip4/20.0.0.1/tcp/4001"), b = try! Multiaddr("/ip4/21.0.0.1/tcp/4001")
        let base = TimeSpan.seconds(1), cap = TimeSpan.seconds(32)
        let h = NodeHarness(config: NodeHarness.config {
            $0.bootstrapPeers = [a, b]
            $0.backoffBase = base
            $0.backoffCap = cap
        })
        var down: Set<Multiaddr> = [a, b]
        var answered: RawPeer?
        func react(_ outputs: [Output]) {
            for case let .dial(id, address) in outputs {
                if down.contains(address) {
                    react(h.handle(.dialFailed(id, reason: "connection refused")))
                } else {
                    answered = RawPeer.answer(dial: id, of: h, identity: RawPeer.key(77), ip: "20.0.0.1")
                    answered!.handshake()
                    answered!.service()
                    h.servicedPeers = [answered!]
                }
            }
        }
        h.advance(by: .minutes(20), onOutputs: react)
        XCTAssertEqual(h.node.state, .bootstrapping)
        let unreachable = h.events.filter { if case .allBootstrapUnreachable = $0 { true } else { false } }
        XCTAssertEqual(unreachable, [.allBootstrapUnreachable(retryIn: cap)], "reported exactly once")

        for address in [a, b] {
            let times = h.dials.filter { $0.2 == address }.map(\.0)
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            // The n-th retry waits a uniform time in [0, min(cap, base·2^n)]; the retry itself
            // happens at the next once-a-second maintenance pass, hence the extra second.
            for (n, gap) in gaps.enumerated() {
                let ceiling = min(cap, base * (1 << UInt64(min(n + 1, 30))))
                XCTAssertLessThanOrEqual(gap, ceiling + .seconds(1), "\(address) retry \(n + 1)")
            }
            // Once capped (from the 5th retry on: 2^5 = 32 s), the waits average cap/2 (16 s):
            // the delays grew from ~1 s to ~16 s and stop growing at the cap.
            let capped = gaps.dropFirst(5)
            let mean = capped.map(\.seconds).reduce(0, +) / Double(capped.count)
            let early = gaps.prefix(3).map(\.seconds).reduce(0, +) / 3
            print("MEASURE: bootstrap backoff \(address): \(times.count) dials in 20 min, first gaps \(gaps.prefix(6).map { String(format: "%.1f", $0.seconds) }), capped mean \(String(format: "%.1f", mean)) s (cap \(cap.seconds) s)")
            XCTAssertLessThan(early, mean)
            XCTAssertGreaterThan(mean, 11)
            XCTAssertLessThan(mean, 22)
            XCTAssertGreaterThan(capped.max()!, .seconds(24), "jitter reaches near the cap")
            XCTAssertGreaterThanOrEqual(times.count, 50)
            XCTAssertLessThanOrEqual(times.count, 110)
        }

        // Recovery: a comes up. Its next retry connects and the node leaves bootstrapping.
        down = [b]
        h.advance(by: cap + .seconds(2), onOutputs: react)
        guard let peer = answered else { return XCTFail("a was not retried within the cap") }
        XCTAssertEqual(h.node.readyPeers, [peer.publicKey])
        XCTAssertEqual(h.node.state, .maintenance)
        // Connected now, but to one peer and with nothing else in the book: the only bootstrap
        // dials left are top-ups (§15.2), never to the connected a, at most one per feelerInterval.
        let dialsBefore = h.dials.count
        h.advance(by: .minutes(5), onOutputs: react)
        let later = h.dials.dropFirst(dialsBefore)
        XCTAssertTrue(later.allSatisfy { $0.2 == b }, "\(later.map(\.2))")
        XCTAssertLessThanOrEqual(later.count, 3)
        XCTAssertGreaterThanOrEqual(later.count, 2)
        XCTAssertEqual(h.node.readyPeers, [peer.publicKey])
        XCTAssertEqual(h.events.filter { if case .allBootstrapUnreachable = $0 { true } else { false } }.count, 1)
    }

    func testOneBootstrapPeer() {
        let sim = Scenario.make(count: 2, seed: 11)
        sim.start(0)
        sim.start(1)
        let took = Scenario.runUntil(sim, limit: .seconds(30), step: .milliseconds(50)) { sim.hosts[1].node?.state == .maintenance }
        XCTAssertNotNil(took)
        XCTAssertLessThan(took ?? .seconds(99), .seconds(1), "a few round trips of ≤ 100 ms")
        let states = sim.hosts[1].events.compactMap { if case let .stateChanged(from, to) = $0.1 { [from, to] } else { nil } }
        XCTAssertEqual(states, [[.bootstrapping, .initialSync], [.initialSync, .maintenance]])
        let zero = sim.hosts[0].identity.publicKey, one = sim.hosts[1].identity.publicKey
        XCTAssertTrue(sim.hosts[1].events.contains { if case .connected(_, zero, .outbound, sim.hosts[0].listenAddress) = $0.1 { true } else { false } })
        XCTAssertTrue(sim.hosts[0].events.contains { if case .connected(_, one, .inbound, _) = $0.1 { true } else { false } })
        XCTAssertTrue(Scenario.allKnowAll(sim))
    }

    func testSeveralBootstrapPeersOneDown() {
        // Hosts 0, 1, 2 are the bootstrap peers of everyone; 0 never starts.
        let sim = Scenario.make(count: 6, seed: 12, bootstrap: [0, 1, 2], crypto: InsecureFakeCrypto())
        for i in 1..<6 { sim.start(i) }
        let took = Scenario.runUntil(sim, limit: .minutes(2)) { Scenario.allKnowAll(sim) }
        XCTAssertNotNil(took)
        // Bootstrap peers are dialled one at a time (an address fetch): each newcomer reached
        // a live one, whichever was dialled first, and never declared them all unreachable.
        let up = [1, 2].map { sim.hosts[$0].identity.publicKey }
        for i in 3..<6 {
            XCTAssertTrue(sim.hosts[i].events.contains { if case let .connected(_, key, .outbound, _) = $0.1 { up.contains(key) } else { false } },
                          "host \(i) reached a live bootstrap peer")
            XCTAssertFalse(sim.hosts[i].events.contains { if case .allBootstrapUnreachable = $0.1 { true } else { false } })
        }
        Scenario.assertInvariants(sim)
    }
}
