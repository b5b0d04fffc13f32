import PexCore
import PexWire
import XCTest

@testable import PexSim

/// The defined reactions to each attacker of `pexsim run flood|eclipse|equivocate|replay`, at
/// small sizes. Each run is the scenario's own code, attacked and baseline on the same seed.
final class AttackTests: XCTestCase {
    func params(_ nodes: Int, seed: UInt64 = 3) -> ScenarioParams {
        ScenarioParams(nodes: nodes, seed: seed, crypto: .fake, short: true)
    }

    func metric(_ r: ScenarioResult, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Double {
        guard let v = r.metrics[name] else {
            XCTFail("no metric \(name)", file: file, line: line)
            return .nan
        }
        return v
    }

    /// A flooder that keeps its key is rate-limited first, then cut off, then banned (its
    /// later connections refused with BANNED); honest peers are neither charged nor banned and
    /// the network still converges.
    func testFlooderIsRateLimitedThenBannedWhileHonestPeersAreServed() {
        let r = Scenarios.floodRun(params(10), nodes: 10, roster: false, rotate: false, observe: 2)
        XCTAssertEqual(r.violations, [])
        let limited = metric(r, "flooder_first_rate_limited_seconds")
        let cut = metric(r, "flooder_first_cut_off_seconds")
        let banned = metric(r, "flooder_first_banned_error_seconds")
        XCTAssertGreaterThanOrEqual(limited, 0, "never rate-limited")
        XCTAssertGreaterThanOrEqual(cut, limited, "cut off before being rate-limited")
        XCTAssertGreaterThanOrEqual(banned, cut, "not banned, or banned before being cut off")
        XCTAssertGreaterThan(metric(r, "victim_offences_rate-limited"), 0)
        XCTAssertGreaterThanOrEqual(metric(r, "victim_bans"), 1)
        XCTAssertEqual(metric(r, "flooder_identities"), 1)
        XCTAssertEqual(metric(r, "victim_bans_of_honest"), 0)
        XCTAssertEqual(metric(r, "victim_offences_by_honest"), 0)
        // Each connection answers its burst of 3 requests, then only RATE_LIMITED (the flooder
        // also floods the honest nodes that dial it, each of which cuts it off the same way).
        XCTAssertLessThanOrEqual(metric(r, "flooder_responses_received"), 3 * metric(r, "flooder_handshakes") + 2)
        XCTAssertLessThan(metric(r, "flooder_responses_received"), metric(r, "flooder_requests_sent"))
        XCTAssertGreaterThanOrEqual(metric(r, "convergence_seconds"), 0, "honest nodes did not converge under the flood")
        XCTAssertEqual(metric(r, "baseline_victim_bans"), 0)
    }

    /// A flooder that comes back under fresh keys is cut off again under each; in roster mode
    /// the fresh keys cannot even complete a handshake.
    func testRotatingFlooderIsCutOffUnderEveryKey() {
        let open = Scenarios.floodRun(params(8), nodes: 8, roster: false, rotate: true, observe: 1)
        XCTAssertEqual(open.violations, [])
        XCTAssertGreaterThanOrEqual(metric(open, "flooder_identities"), 3)
        XCTAssertGreaterThanOrEqual(metric(open, "flooder_closed_by_victim"), metric(open, "flooder_identities") - 1)
        XCTAssertEqual(metric(open, "victim_offences_by_honest"), 0)
        XCTAssertGreaterThanOrEqual(metric(open, "convergence_seconds"), 0)

        let r = Scenarios.floodRun(params(8), nodes: 8, roster: true, rotate: true, observe: 1)
        XCTAssertEqual(r.violations, [])
        XCTAssertEqual(metric(r, "flooder_handshakes"), 1, "only the member key completes a handshake")
        XCTAssertGreaterThan(metric(r, "flooder_errors_not-a-member"), 0)
        XCTAssertGreaterThanOrEqual(metric(r, "convergence_seconds"), 0)
    }

    /// Fabricated records announced unsolicited (fresh keys, valid signatures, addresses in
    /// eight /16s) by a flooder that comes back under fresh keys: the source share (PROTOCOL.md
    /// §16.3) keeps the flooder's network to a bounded part of every book, without charging the
    /// honest relays. In a network this small every informant group may hold its minimum of 8
    /// entries, which bounds the share near one half, and one seed's share varies a lot: over
    /// seeds 1–8 the victim's worst share was 0.21–0.52 (mean 0.40) with shuffled full
    /// listings, 0.23–0.58 (mean 0.40) before them. Hence a bound on the mean of four seeds and
    /// a looser one per seed. Seed 3 without the rule gave the flood 76 % when the rule was
    /// introduced.
    func testFlooderTakesOnlyABoundedShareOfTheBooks() {
        var shares: [Double] = []
        for seed: UInt64 in 1...4 {
            let r = Scenarios.floodRun(params(32, seed: seed), nodes: 32, roster: false, rotate: true, observe: 1)
            XCTAssertEqual(r.violations, [])
            XCTAssertGreaterThan(metric(r, "victim_attacker_entries"), 0, "the flood reached the book at all")
            let worst = max(metric(r, "max_victim_attacker_share"), metric(r, "honest_max_attacker_share"))
            XCTAssertLessThanOrEqual(worst, 0.6, "seed \(seed)")
            shares.append(worst)
            XCTAssertEqual(metric(r, "victim_offences_by_honest"), 0)
            XCTAssertEqual(metric(r, "victim_bans_of_honest"), 0)
            XCTAssertGreaterThanOrEqual(metric(r, "convergence_seconds"), 0)
        }
        XCTAssertLessThanOrEqual(shares.reduce(0, +) / Double(shares.count), 0.45, "worst shares \(shares)")
    }

    /// A flooder switching keys from one address (open network) is banned by address on its
    /// fourth key (PROTOCOL.md §20.2: 3 points to the address per rate-limited event, 100 bans,
    /// so at most 34 events), within 10 s of the attack; from then on it is refused at accept,
    /// and the victim's upload stays within a small multiple of the unattacked run's.
    func testKeySwitchingFlooderIsBannedByAddress() {
        let r = Scenarios.floodRun(params(8), nodes: 8, roster: false, rotate: true, observe: 1)
        XCTAssertEqual(r.violations, [])
        let banned = metric(r, "flooder_first_banned_error_seconds")
        XCTAssertGreaterThanOrEqual(banned, metric(r, "flooder_first_cut_off_seconds"), "never banned, or before being cut off")
        XCTAssertLessThanOrEqual(banned, 10, "banned too late")
        XCTAssertGreaterThanOrEqual(metric(r, "victim_bans"), 1)
        XCTAssertEqual(metric(r, "victim_bans_of_honest"), 0)
        XCTAssertEqual(metric(r, "victim_offences_by_honest"), 0)
        // Three keys cut off at 10 events each, the fourth banned at its 4th: 34 in all.
        XCTAssertEqual(metric(r, "victim_offences_rate-limited"), 34)
        // Fresh keys keep coming (also cut off by the honest nodes that dial the flooder, which
        // ban its address the same way), and are refused with BANNED before any handshake.
        XCTAssertGreaterThan(metric(r, "flooder_identities"), 20)
        XCTAssertGreaterThanOrEqual(metric(r, "flooder_errors_banned"), 10)
        // Measured 5.1× (4.9× before relays were batched); without the address charge the
        // victim sent some 200× its unattacked upload.
        XCTAssertLessThanOrEqual(metric(r, "victim_bytes_out"), 6 * metric(r, "baseline_victim_bytes_out"))
        XCTAssertGreaterThanOrEqual(metric(r, "convergence_seconds"), 0)
    }

    /// Two records of one key and seq, shown to two nodes: detected, kept as evidence, the
    /// signer banned and removed by every node; never a violated invariant.
    func testEquivocationIsDetectedAndTheSignerBanned() {
        let r = Scenarios.equivocateRun(params(10), nodes: 10, observe: 2)
        XCTAssertEqual(r.violations, [])
        let detectors = metric(r, "equivocation_detectors")
        // The first detector sends both versions on (PROTOCOL.md §19.2): every node detects it.
        XCTAssertEqual(detectors, 10)
        XCTAssertGreaterThanOrEqual(metric(r, "equivocation_evidence_persisted"), detectors)
        XCTAssertEqual(metric(r, "honest_banning_equivocator"), detectors)
        XCTAssertLessThanOrEqual(metric(r, "honest_holding_equivocator"), 10 - detectors)
        XCTAssertGreaterThan(metric(r, "equivocator_banned_errors"), 0)
        XCTAssertEqual(metric(r, "baseline_equivocation_detectors"), 0)
    }

    /// Old records replayed after the members moved are dropped as stale: nothing goes back to
    /// a lower seq, and every node ends with the new records.
    func testReplayedStaleRecordsNeverReplaceCurrentOnes() {
        let r = Scenarios.replayRun(params(12), nodes: 12, observe: 2)
        XCTAssertEqual(r.violations, [])
        XCTAssertEqual(metric(r, "stale_displacements"), 0)
        XCTAssertEqual(metric(r, "holders_of_old_record_at_end"), 0)
        XCTAssertGreaterThan(metric(r, "replayed_records_sent"), 0)
        XCTAssertGreaterThanOrEqual(metric(r, "replayer_handshakes"), 1)
        XCTAssertGreaterThan(metric(r, "honest_records_stale"), metric(r, "baseline_honest_records_stale"),
                             "the replayed records never reached a node that already had the new ones")
        XCTAssertGreaterThanOrEqual(metric(r, "convergence_seconds"), 0)
    }

    /// Many identities of one /16 feeding records of many more: at most 10 % of the victim's
    /// book in an open network, nothing at all in roster mode.
    func testEclipseShareStaysBelowTheBound() {
        let open = Scenarios.eclipseRun(params(20), nodes: 20, roster: false, sybils: 3, fakes: 24, observe: 2)
        XCTAssertEqual(open.violations, [])
        XCTAssertGreaterThan(metric(open, "attacker_handshakes"), 0)
        XCTAssertGreaterThan(metric(open, "attacker_records_sent"), 27)
        XCTAssertGreaterThan(metric(open, "victim_attacker_entries"), 0, "the attacker reached the book at all")
        XCTAssertLessThanOrEqual(metric(open, "max_victim_attacker_share"), 0.10)
        XCTAssertLessThanOrEqual(metric(open, "honest_max_attacker_share"), 0.10)
        XCTAssertGreaterThanOrEqual(metric(open, "convergence_seconds"), 0)

        let roster = Scenarios.eclipseRun(params(8), nodes: 8, roster: true, sybils: 2, fakes: 2, observe: 1)
        XCTAssertEqual(roster.violations, [])
        XCTAssertEqual(metric(roster, "attacker_handshakes"), 0)
        XCTAssertEqual(metric(roster, "max_victim_attacker_share"), 0)
        XCTAssertGreaterThan(metric(roster, "victim_handshakes_failed"), 0)
    }
}
