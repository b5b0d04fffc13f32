import ArgumentParser
import Foundation
import PexCore
import PexSim
import PexWire

extension SimCrypto: ExpressibleByArgument {}
extension ScenarioName: ExpressibleByArgument {}

/// `pexsim`: the deterministic simulator of pex. Every run is a function of its seed.
struct PexSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pexsim",
        abstract: "Deterministic simulator: real pex nodes on a simulated TCP network under one virtual clock.",
        subcommands: [Run.self, Swarm.self, List.self])
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one measurement scenario.",
        discussion: "Scenarios: " + ScenarioName.allCases.map(\.rawValue).joined(separator: ", ")
            + ". A round is one sync interval (30 s). Exits with 1 if a safety invariant broke.")

    @Argument(help: "The scenario.")
    var scenario: ScenarioName

    @Option(help: "Number of honest nodes (each scenario has its own default).")
    var nodes: Int?

    @Option(help: "The seed: the same seed gives the same run, bit for bit.")
    var seed: UInt64 = 1

    @Option(help: "Signatures: sodium (real Ed25519) or fake (fast, insecure).")
    var crypto: SimCrypto = .fake

    @Flag(help: "A shorter version (fewer nodes and rounds).")
    var short = false

    @Option(help: "Inbound slots of the 3 bootstrap nodes (default: the shipped maxInbound, 32).")
    var bootstrapInbound: Int?

    @Option(help: "Rounds to simulate (scale and growth: default 50, or 10 with --short, which for scale also means 200 nodes; growth's nodes join over the first half).")
    var rounds: Int?

    @Option(help: "New-table buckets of every node's address book (32 slots each; default: the scenario's).")
    var newBuckets: Int?

    @Option(help: "Tried-table buckets of every node's address book (32 slots each; default: the scenario's).")
    var triedBuckets: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Print the result as CSV.")
    var csv = false

    @Option(help: "Also write the JSON result to this file.")
    var output: String?

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
        if let nodes, nodes < 2 || nodes > 100_000 { throw ValidationError("--nodes must be within 2…100000") }
        if let rounds, rounds < 1 || rounds > 10_000 { throw ValidationError("--rounds must be within 1…10000") }
        for (name, count) in [("--new-buckets", newBuckets), ("--tried-buckets", triedBuckets)] {
            if let count, count < 1 || count > 4096 { throw ValidationError("\(name) must be within 1…4096") }
        }
    }

    func run() throws {
        let result = Scenarios.run(scenario, ScenarioParams(nodes: nodes, seed: seed, crypto: crypto, short: short,
                                                                bootstrapInbound: bootstrapInbound, rounds: rounds,
                                                                newBuckets: newBuckets, triedBuckets: triedBuckets))
        if json { print(result.json()) } else if csv { print(result.csv(header: true)) } else { print(result.text, terminator: "") }
        if let output { try result.json().write(toFile: output, atomically: true, encoding: .utf8) }
        if !result.violations.isEmpty {
            FileHandle.standardError.write(Data(("safety violated; replay: swift run -c release pexsim run \(scenario.rawValue)"
                + (nodes.map { " --nodes \($0)" } ?? "") + (rounds.map { " --rounds \($0)" } ?? "")
                + (bootstrapInbound.map { " --bootstrap-inbound \($0)" } ?? "") + (newBuckets.map { " --new-buckets \($0)" } ?? "")
                + (triedBuckets.map { " --tried-buckets \($0)" } ?? "") + " --seed \(seed) --crypto \(crypto.rawValue)\(short ? " --short" : "")\n").utf8))
            throw ExitCode(1)
        }
    }
}

struct Swarm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Swarm testing: each seed picks a configuration, runs faults with invariant checks at every step, heals, and demands convergence.",
        discussion: "Exits with 1 if any seed fails; every failure prints its replay command.")

    @Option(help: "The first seed.")
    var seed: UInt64 = 1

    @Option(help: "How many consecutive seeds.")
    var count: Int = 1

    @Option(help: "Force the node count (else the seed picks 8–64).")
    var nodes: Int?

    @Option(help: "Signatures: sodium or fake.")
    var crypto: SimCrypto = .fake

    @Flag(help: "Print one JSON object per seed.")
    var json = false

    @Flag(help: "Check structural invariants once per round instead of after every step (faster).")
    var sampled = false

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if let nodes, nodes < 2 || nodes > 4096 { throw ValidationError("--nodes must be within 2…4096") }
    }

    func run() throws {
        var failed = 0
        for s in seed..<(seed + UInt64(count)) {
            let outcome = PexSim.Swarm.run(seed: s, crypto: crypto, options: nodes.map { SwarmOptions.derive(seed: s, nodes: $0) },
                                              everyStep: !sampled)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(outcome), as: UTF8.self))
            } else {
                print(outcome.summary)
            }
            if !outcome.passed { failed += 1 }
        }
        if count > 1 { print("\(UInt64(count) - UInt64(failed)) passed, \(failed) failed") }
        if failed > 0 { throw ExitCode(1) }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the scenarios.")
    func run() {
        for s in ScenarioName.allCases { print(s.rawValue) }
    }
}

PexSimCommand.main()
