import PexCore
@testable import PexSim
import PexWire
import XCTest

/// A converged federation where nothing changes: what its links carry afterwards.
///
/// Before the fix, every link's next delta answer re-sent each record the responder had
/// learned since that link's first exchange — at connection time, from a full-list snapshot
/// taken before anything was known — although the requester had them all by relay: about
/// 60 % of the table per answer, for ~8 sync intervals after convergence (a peer is asked
/// every `connections / syncFanout` intervals).
final class SteadyStateTests: XCTestCase {
    func testConvergedFederationSendsNoDuplicateRecords() {
        let n = 24
        for delta in [true, false] {
            let sim = SimNetwork.build(count: n, seed: 11, crypto: .fake, bootstrap: [0, 1, 2], roster: true,
                                       timing: .fast) { i, c in
                if i < 3 { c.maxInbound = max(c.maxInbound, n) }
                c.offerDeltaSync = delta
            }
            for i in 0..<n { sim.start(i) }
            let all = Array(0..<n)
            let round = SimTiming.fast.syncInterval
            XCTAssertNotNil(sim.run(until: { sim.converged(among: all) }, limit: round * 40), "delta \(delta)")
            sim.run(for: round)

            func totals() -> (accepted: Int, duplicate: Int, pings: Int) {
                all.reduce((0, 0, 0)) { acc, i in
                    let m = sim.inspect(i) { ($0.metrics.recordsAccepted, $0.metrics.recordsDuplicate, $0.metrics.framesOut["ping"] ?? 0) }
                        ?? (0, 0, 0)
                    return (acc.0 + m.0, acc.1 + m.1, acc.2 + m.2)
                }
            }
            func refresh() -> Int {
                all.reduce(0) { acc, i in acc + (sim.inspect(i) { $0.metrics.refreshSyncs + $0.metrics.refreshDialBacks } ?? 0) }
            }
            let rounds: UInt64 = 6
            let before = totals()
            let refreshBefore = refresh()
            let bytesBefore = sim.bytesSentByNodes
            let links = sim.connectionCount
            sim.run(for: round * rounds)
            let after = totals()
            let perLink = Double(sim.bytesSentByNodes - bytesBefore) / Double(max(links, 1)) / Double(rounds)
            let duplicates = Double(after.duplicate - before.duplicate) / Double(n) / Double(rounds)
            let pings = Double(after.pings - before.pings) / Double(max(links, 1)) / Double(rounds)
            print("MEASURE: steady n=\(n) delta=\(delta): \(perLink) B/link/interval, \(duplicates) duplicates/node/interval, "
                  + "\(pings) pings/link/interval, \(links) links")
            XCTAssertEqual(after.accepted, before.accepted, "nothing changes, nothing is new (delta \(delta))")
            // Before the fix: about 12 per node and interval here (each answer re-sent what the
            // requester had by relay). What remains are records that reached both ends of a link
            // by other links after the link's last exchange.
            XCTAssertLessThanOrEqual(duplicates, 1, "records the receiver already held (delta \(delta))")
            XCTAssertLessThanOrEqual(perLink, 256, "bytes per link per sync interval (delta \(delta))")
            // Two Pings per interval (ping interval = half the sync interval): the ends take
            // turns; crossing Pings made it about three.
            XCTAssertLessThanOrEqual(pings, 2.3, "delta \(delta)")
            XCTAssertEqual(sim.connectionCount, links, "the links stay up (delta \(delta))")
            // Refresh feelers find nobody behind: each costs its handshake only, no sync and
            // no dial-back (PROTOCOL.md §15.4).
            XCTAssertEqual(refresh(), refreshBefore, "delta \(delta)")
        }
    }
}
