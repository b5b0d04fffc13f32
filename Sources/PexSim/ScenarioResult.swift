import Foundation
import PexCore

/// A performance target and whether a run met it.
public struct TargetCheck: Sendable, Codable, Equatable {
    public var name: String
    /// The bound, in the unit of `measured`.
    public var bound: Double
    public var measured: Double?
    /// `true` when smaller is better (measured ≤ bound), else measured ≥ bound.
    public var atMost: Bool
    public var met: Bool { measured.map { atMost ? $0 <= bound : $0 >= bound } ?? false }

    public init(_ name: String, bound: Double, measured: Double?, atMost: Bool = true) {
        self.name = name
        self.bound = bound
        self.measured = measured
        self.atMost = atMost
    }
}

/// What one scenario run measured. Rendered as JSON (for `scripts/sim-report.py`) or CSV.
public struct ScenarioResult: Sendable, Codable {
    public var scenario: String
    public var nodes: Int
    public var seed: UInt64
    public var crypto: SimCrypto
    /// Length of a round (the sync interval) in seconds.
    public var roundSeconds: Double
    /// Named measurements (rounds, seconds, bytes, shares…).
    public var metrics: [String: Double] = [:]
    /// Time series: name → [[virtual seconds, value]].
    public var series: [String: [[Double]]] = [:]
    public var targets: [TargetCheck] = []
    public var violations: [String] = []
    public var notes: [String] = []
    /// Simulator cost: wall seconds, events processed, trace hash.
    public var wallSeconds: Double = 0
    public var steps: Int = 0
    public var traceHash: String = ""

    public init(scenario: String, nodes: Int, seed: UInt64, crypto: SimCrypto, roundSeconds: Double) {
        self.scenario = scenario
        self.nodes = nodes
        self.seed = seed
        self.crypto = crypto
        self.roundSeconds = roundSeconds
    }

    /// Pretty, key-sorted JSON.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// `scenario,nodes,seed,metric,value` lines, metrics sorted by name, then targets.
    public func csv(header: Bool) -> String {
        var lines = header ? ["scenario,nodes,seed,crypto,metric,value"] : []
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
            lines.append("\(scenario),\(nodes),\(seed),\(crypto.rawValue),\(name),\(value)")
        }
        for t in targets {
            lines.append("\(scenario),\(nodes),\(seed),\(crypto.rawValue),target:\(t.name),\(t.measured.map { "\($0)" } ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    /// A human-readable summary.
    public var text: String {
        var s = "\(scenario) — \(nodes) nodes, seed \(seed), \(crypto.rawValue) crypto, round = \(roundSeconds) s\n"
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) { s += "  \(name): \(Self.format(value))\n" }
        for t in targets {
            s += "  target \(t.name): \(t.atMost ? "≤" : "≥") \(Self.format(t.bound)), measured "
                + "\(t.measured.map(Self.format) ?? "n/a") → \(t.met ? "met" : "MISSED")\n"
        }
        for n in notes { s += "  note: \(n)\n" }
        for v in violations.prefix(20) { s += "  VIOLATION: \(v)\n" }
        s += "  simulator: \(Self.format(wallSeconds)) s wall, \(steps) events, trace \(traceHash)\n"
        return s
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e12 ? String(Int64(v)) : String(format: "%.3f", v)
    }
}
