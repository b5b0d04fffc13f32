import Foundation
import PexCore
import PexSim
import XCTest

/// Every measurement scenario of `pexsim run`, at a size a debug build runs in seconds: each must
/// finish without a safety violation and report what it measures with plausible values. The
/// full sizes are in docs/PERFORMANCE.md (`scripts/sim-full.sh`).
final class ScenarioTests: XCTestCase {
    private func run(_ name: ScenarioName, nodes: Int, short: Bool = true, rounds: Int? = nil) -> ScenarioResult {
        let result = Scenarios.run(name, ScenarioParams(nodes: nodes, seed: 7, short: short, rounds: rounds))
        XCTAssertEqual(result.violations, [], "\(name): \(result.violations)")
        XCTAssertEqual(result.scenario, name.rawValue)
        XCTAssertEqual(result.nodes, nodes)
        XCTAssertGreaterThan(result.steps, 0)
        XCTAssertFalse(result.traceHash.isEmpty)
        return result
    }

    private func metric(_ result: ScenarioResult, _ key: String) -> Double {
        guard let value = result.metrics[key] else {
            XCTFail("\(result.scenario) reports no \(key); it has \(result.metrics.keys.sorted())")
            return .nan
        }
        return value
    }

    func testFederationConvergesWithinTheRoundBound() {
        let result = run(.federation, nodes: 16)
        let rounds = metric(result, "rounds")
        XCTAssertGreaterThanOrEqual(rounds, 0, "not converged")
        XCTAssertLessThanOrEqual(rounds, 8)
        XCTAssertGreaterThan(metric(result, "push_pull_bound_rounds"), 0)
        XCTAssertGreaterThan(metric(result, "links"), 0)
    }

    func testAddressChangeReachesEveryNode() {
        let rounds = metric(run(.addressChange, nodes: 16), "rounds")
        XCTAssertGreaterThanOrEqual(rounds, 0, "the new record did not reach every node")
        XCTAssertLessThanOrEqual(rounds, 6)
    }

    func testSteadyStateCostsFewBytesAndCarriesNoRecords() {
        let result = run(.steady, nodes: 16)
        for mode in ["delta", "full"] {
            let perLink = metric(result, "\(mode)_bytes_per_link_per_interval")
            XCTAssertGreaterThan(perLink, 0, mode)
            XCTAssertLessThanOrEqual(perLink, 256, mode)
            XCTAssertEqual(metric(result, "\(mode)_records_accepted_per_node_per_interval"), 0, mode)
        }
    }

    func testOpenGrowthCoversEveryLiveNode() {
        let result = run(.growth, nodes: 24)
        XCTAssertEqual(metric(result, "final_coverage"), 1, accuracy: 0.001)
        XCTAssertEqual(result.series["coverage"]?.isEmpty, false)
    }

    /// Book buckets set on the command line replace the scenario's: a book of one new and one
    /// tried bucket (64 entries) cannot hold 80 nodes, and the result reports the book and the
    /// network size past which outbound demand exceeds the inbound slots the books can name.
    func testGrowthWithBooksSmallerThanTheNetwork() {
        let params = ScenarioParams(nodes: 80, seed: 7, short: true, rounds: 4, newBuckets: 1, triedBuckets: 1)
        let result = Scenarios.run(.growth, params)
        XCTAssertEqual(result.violations, [])
        XCTAssertEqual(metric(result, "book_capacity"), 64)
        XCTAssertEqual(metric(result, "inbound_supply_nodes"), 64 * 32 / 8)
        XCTAssertEqual(result.series["coverage"]?.count, 4)
        XCTAssertLessThanOrEqual(metric(result, "final_table_size"), 64)
        XCTAssertLessThan(metric(result, "final_coverage"), 1)
        XCTAssertTrue(result.notes.contains { $0.contains("book buckets set on the command line") })
    }

    func testChurnReconverges() {
        let result = run(.churn, nodes: 16)
        XCTAssertGreaterThanOrEqual(metric(result, "reconvergence_rounds"), 0, "no reconvergence after churn")
        XCTAssertGreaterThan(metric(result, "churn_min_coverage"), 0)
    }

    /// The scenario cuts and heals: the moves made during the cut are missing on the other side
    /// while it lasts, and everyone holds them again within a bound once it heals. At this size
    /// the halves meet again through outbound slots still free when the cut heals (8 outbound
    /// peers cannot all be found inside a half of 8), so this does not show that refresh feelers
    /// heal a partition; `PartitionHealTests` does.
    func testPartitionScenarioMeasuresTheCutAndTheHeal() {
        let result = run(.partition, nodes: 16)
        XCTAssertEqual(metric(result, "partition_rounds"), 3)
        // One member of each half moved during the cut: its record is stale on the 8 nodes of
        // the other half, 16 of the 256 (holder, record) pairs.
        XCTAssertLessThan(metric(result, "coverage_during_partition"), 1)
        XCTAssertGreaterThan(metric(result, "coverage_during_partition"), 0.9)
        let heal = metric(result, "heal_rounds")
        XCTAssertGreaterThanOrEqual(heal, 0, "not healed: \(result.notes)")
        XCTAssertLessThanOrEqual(heal, 4)
    }

    func testLossStillConverges() {
        let result = run(.loss, nodes: 16)
        XCTAssertGreaterThanOrEqual(metric(result, "rounds"), 0, "not converged under loss")
        XCTAssertGreaterThanOrEqual(metric(result, "baseline_rounds"), 0)
    }

    func testScaleReportsItsCost() {
        let result = run(.scale, nodes: 24, short: false, rounds: 2)
        XCTAssertEqual(metric(result, "events"), Double(result.steps))
        XCTAssertGreaterThan(metric(result, "cpu_seconds"), 0)
        XCTAssertGreaterThan(metric(result, "max_rss_mb"), 0)
        // 24 × 2 is not the 10 000 × 50 run the target is about: the check stays unmeasured.
        XCTAssertEqual(result.targets.first { $0.name == "wall_seconds_10000x50" }?.measured, nil)
    }

    func testResultRendersAsTextJSONAndCSV() throws {
        var result = ScenarioResult(scenario: "federation", nodes: 3, seed: 9, crypto: .fake, roundSeconds: 30)
        result.metrics = ["rounds": 1.5, "links": 4]
        result.targets = [TargetCheck("convergence_rounds_n512", bound: 8, measured: 1.5),
                          TargetCheck("missing", bound: 1, measured: nil)]
        result.notes = ["a note"]
        XCTAssertTrue(result.targets[0].met)
        XCTAssertFalse(result.targets[1].met)

        let text = result.text
        XCTAssertTrue(text.hasPrefix("federation — 3 nodes, seed 9, fake crypto"), text)
        XCTAssertTrue(text.contains("rounds: 1.500"), text)
        XCTAssertTrue(text.contains("measured n/a → MISSED"), text)
        XCTAssertTrue(text.contains("a note"), text)

        let decoded = try JSONDecoder().decode(ScenarioResult.self, from: Data(result.json().utf8))
        XCTAssertEqual(decoded.metrics, result.metrics)
        XCTAssertEqual(decoded.targets, result.targets)

        let csv = result.csv(header: true).split(separator: "\n")
        XCTAssertEqual(csv.first, "scenario,nodes,seed,crypto,metric,value")
        XCTAssertEqual(Array(csv.dropFirst()), ["federation,3,9,fake,links,4.0", "federation,3,9,fake,rounds,1.5",
                                                "federation,3,9,fake,target:convergence_rounds_n512,1.5",
                                                "federation,3,9,fake,target:missing,"])
    }
}
