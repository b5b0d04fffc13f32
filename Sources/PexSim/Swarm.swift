import PexCore
import PexWire

/// How a swarm run cuts the network.
public enum PartitionMode: String, Sendable, Codable, CaseIterable {
    case none
    /// Two halves that cannot reach each other.
    case halves
    /// A random third of the hosts cannot send to the rest (they still receive).
    case oneWay
    /// One host cut off from everyone.
    case isolate
    /// Three random groups.
    case groups
}

/// How a swarm run churns hosts.
public enum ChurnMode: String, Sendable, Codable, CaseIterable {
    case none
    /// Hosts crash and restart with their store.
    case crashRestart
    /// Hosts crash and restart with an empty store (a reinstall).
    case crashWipe
    /// Hosts leave for good and new hosts join.
    case leaveJoin
}

/// Address-book sizes for a swarm run whose books are smaller than its network, so that new
/// buckets fill and keyed slots (PROTOCOL.md §16.3) decide who stays, under the same invariants.
public struct BookShape: Sendable, Equatable, Codable {
    public var newBuckets: Int
    public var triedBuckets: Int
    public var bucketSize: Int

    /// Entries the book can hold outside the protected set.
    public var capacity: Int { (newBuckets + triedBuckets) * bucketSize }

    /// Applies these sizes to a node configuration.
    public func apply(_ c: inout NodeConfig) {
        c.addressBook.newBucketCount = newBuckets
        c.addressBook.triedBucketCount = triedBuckets
        c.addressBook.bucketSize = bucketSize
        // A bucket reachable from one source group must still leave the others some room.
        c.addressBook.newBucketsPerSourceGroup = max(1, newBuckets / 2)
        c.addressBook.triedBucketsPerGroup = max(1, triedBuckets / 2)
    }
}

/// A swarm run's configuration. `derive(seed:)` lets the seed choose it (swarm testing: each
/// seed explores a different mix of node count, latency, loss, partition and churn).
public struct SwarmOptions: Sendable, Equatable, Codable {
    public var nodes: Int
    public var latencyMinMs: UInt64
    public var latencyMaxMs: UInt64
    public var distribution: String
    public var loss: Double
    public var reorder: Double
    public var dialFailure: Double
    public var partition: PartitionMode
    public var churn: ChurnMode
    /// Leave/crash events per sync interval, as a fraction of the hosts.
    public var churnRate: Double
    public var roster: Bool
    public var bootstraps: Int
    /// Virtual seconds of faults before everything heals.
    public var faultSeconds: UInt64
    /// Virtual seconds after healing within which every honest host must hold every other's
    /// current record (with `book`: be reachable, see `Swarm.run`).
    public var livenessSeconds: UInt64
    /// Books smaller than the network (open networks only); nil keeps the shipped sizes.
    public var book: BookShape? = nil

    /// The configuration a seed picks. `nodes` overrides the node count.
    public static func derive(seed: UInt64, nodes: Int? = nil) -> SwarmOptions {
        // A generator of its own, so the options do not shift the run's random stream.
        var r = SeededRandom(seed: seed ^ 0x5357_4152_4d00_0000)
        let latencyMin = UInt64.random(in: 1...20, using: &r)
        let latencyMax = latencyMin + UInt64.random(in: 5...300, using: &r)
        let distributions = ["uniform", "normal", "pareto"]
        let losses = [0.0, 0.0, 0.01, 0.05, 0.2]
        var o = SwarmOptions(
            nodes: nodes ?? Int.random(in: 8...64, using: &r),
            latencyMinMs: latencyMin, latencyMaxMs: latencyMax,
            distribution: distributions[Int.random(in: 0..<distributions.count, using: &r)],
            loss: losses[Int.random(in: 0..<losses.count, using: &r)],
            reorder: [0.0, 0.05][Int.random(in: 0...1, using: &r)],
            dialFailure: [0.0, 0.05][Int.random(in: 0...1, using: &r)],
            partition: PartitionMode.allCases[Int.random(in: 0..<PartitionMode.allCases.count, using: &r)],
            churn: ChurnMode.allCases[Int.random(in: 0..<ChurnMode.allCases.count, using: &r)],
            churnRate: [0.02, 0.05, 0.1][Int.random(in: 0...2, using: &r)],
            roster: Bool.random(using: &r),
            bootstraps: Int.random(in: 1...3, using: &r),
            faultSeconds: 60, livenessSeconds: 180)
        if !o.roster { o.book = smallBook(seed: seed) }
        return o
    }

    /// A third of the seeds get books of 48 entries (32 new, 16 tried) in buckets of 4 or 8
    /// slots: smaller than the network from 49 nodes on. The tried table keeps twice
    /// `targetOutbound` slots: a smaller one leaves every node's outbound peers in its new table
    /// for good (entries that were reached keep their slot), and such a book stops learning,
    /// which no real configuration does. With 16 new slots or fewer, a late joiner's record can
    /// find its slot taken in every book that hears of it and stay held by nobody past the
    /// liveness bound (seeds 161 and 202 at 64 nodes; PERFORMANCE.md, "Short runs"). Drawn from a generator of
    /// its own, so that seeds picked before this option keep their other choices. Roster runs
    /// keep their members in the protected set, outside the buckets, and are left as they are.
    static func smallBook(seed: UInt64) -> BookShape? {
        var r = SeededRandom(seed: seed ^ 0x424f_4f4b_0000_0000)
        guard Int.random(in: 0..<3, using: &r) == 0 else { return nil }
        let bucketSize = [4, 8][Int.random(in: 0...1, using: &r)]
        let triedBuckets = 16 / bucketSize
        let newBuckets = 32 / bucketSize
        return BookShape(newBuckets: max(1, newBuckets), triedBuckets: triedBuckets, bucketSize: bucketSize)
    }

    /// The link model these options describe.
    public var link: LinkModel {
        var m = LinkModel()
        m.latencyMin = .milliseconds(latencyMinMs)
        m.latencyMax = .milliseconds(latencyMaxMs)
        switch distribution {
        case "normal":
            m.distribution = .normal(mean: .milliseconds((latencyMinMs + latencyMaxMs) / 2),
                                     deviation: .milliseconds(max(1, (latencyMaxMs - latencyMinMs) / 4)))
        case "pareto": m.distribution = .pareto(alpha: 1.5)
        default: m.distribution = .uniform
        }
        m.loss = loss
        m.reorder = reorder
        m.dialFailure = dialFailure
        return m
    }
}

/// What a swarm run found.
public struct SwarmOutcome: Sendable, Codable {
    public var seed: UInt64
    public var crypto: SimCrypto
    public var options: SwarmOptions
    public var traceHash: UInt64
    public var steps: Int
    public var violations: [String]
    /// Virtual seconds from healing to convergence, nil when it did not converge in the bound.
    public var convergenceSeconds: Double?
    public var checks: Int
    /// When liveness failed: which hosts miss which records.
    public var diagnosis: [String] = []
    /// The command that replays this run exactly.
    public var replay: String

    public var passed: Bool { violations.isEmpty && convergenceSeconds != nil }

    /// A one-paragraph verdict, with the replay command on failure.
    public var summary: String {
        var s = "seed \(seed): \(options.nodes) nodes, \(options.distribution) \(options.latencyMinMs)–\(options.latencyMaxMs) ms, "
            + "loss \(options.loss), partition \(options.partition.rawValue), churn \(options.churn.rawValue)"
            + "\(options.roster ? ", roster" : "")"
            + (options.book.map { ", books \($0.newBuckets)+\($0.triedBuckets)×\($0.bucketSize)" } ?? "") + ": "
        if passed {
            s += "ok, converged \(convergenceSeconds ?? 0) s after healing, \(steps) events, \(checks) checks, trace \(String(traceHash, radix: 16))"
        } else {
            s += "FAILED\n"
            for v in violations.prefix(10) { s += "  safety: \(v)\n" }
            if convergenceSeconds == nil {
                s += "  liveness: not " + (options.book == nil ? "converged" : "every host reachable")
                    + " within \(options.livenessSeconds) s of healing\n"
            }
            for d in diagnosis { s += "    \(d)\n" }
            s += "  replay: \(replay)"
        }
        return s
    }
}

/// One swarm run: faults with safety checks at every step, then healing and the liveness check.
public enum Swarm {
    /// Runs the seed. - Returns: The outcome (never traps on a failure; the caller reports it).
    public static func run(seed: UInt64, crypto: SimCrypto = .fake, options: SwarmOptions? = nil,
                           everyStep: Bool = true) -> SwarmOutcome {
        let o = options ?? SwarmOptions.derive(seed: seed)
        let timing = SimTiming.fast
        let bootstrap = Array(0..<min(o.bootstraps, o.nodes))
        let perInterval = max(1, Int((Double(o.nodes) * o.churnRate).rounded()))
        let intervals = Int(o.faultSeconds * 1000 / timing.syncIntervalMs) + 1
        let sim = SimNetwork.build(count: o.nodes, seed: seed, crypto: crypto, bootstrap: bootstrap,
                                   roster: o.roster, timing: timing,
                                   rosterExtra: o.churn == .leaveJoin ? perInterval * intervals : 0) { _, config in
            o.book?.apply(&config)
        }
        sim.link = o.link
        let checker = InvariantChecker(crypto: crypto.provider, everyStep: everyStep)
        checker.attach(to: sim)
        var r = SeededRandom(seed: seed ^ 0x4641_554c_5400_0000)
        // Hosts start over the first seconds, bootstraps first.
        for i in 0..<o.nodes {
            let delay = i < bootstrap.count ? TimeSpan.zero : .milliseconds(UInt64.random(in: 0...5_000, using: &r))
            sim.at(sim.now + delay) { sim.start(i) }
        }
        let faultStart = sim.now + .seconds(10)
        let faultEnd = faultStart + .seconds(o.faultSeconds)
        var all = Array(0..<o.nodes)
        var departed: Set<Int> = []
        // Partition at a random point of the fault window, healed at its end.
        if o.partition != .none {
            let cut = faultStart + .seconds(UInt64.random(in: 0...o.faultSeconds / 2, using: &r))
            var shuffled = all
            shuffled.shuffle(using: &r)
            sim.at(cut) {
                switch o.partition {
                case .none: break
                case .halves: sim.partition([Array(shuffled.prefix(o.nodes / 2)), Array(shuffled.dropFirst(o.nodes / 2))])
                case .isolate: sim.partition([[shuffled[0]], Array(shuffled.dropFirst())])
                case .groups:
                    let third = max(1, o.nodes / 3)
                    sim.partition([Array(shuffled.prefix(third)), Array(shuffled.dropFirst(third).prefix(third)),
                                   Array(shuffled.dropFirst(2 * third))])
                case .oneWay:
                    let third = max(1, o.nodes / 3)
                    for a in shuffled.prefix(third) { for b in shuffled.dropFirst(third) { sim.block(from: a, to: b) } }
                }
            }
        }
        // Churn: every sync interval, `churnRate` of the hosts go down (and come back later).
        if o.churn != .none {
            var t = faultStart
            while t < faultEnd {
                let count = perInterval
                for _ in 0..<count {
                    let victim = Int.random(in: 0..<o.nodes, using: &r)
                    let back = t + .milliseconds(UInt64.random(in: 1_000...20_000, using: &r))
                    switch o.churn {
                    case .none: break
                    case .crashRestart, .crashWipe:
                        let wipe = o.churn == .crashWipe
                        sim.at(t) { sim.crash(victim, keepStore: !wipe); if wipe { checker.hostWiped(victim) } }
                        sim.at(min(back, faultEnd)) { if !sim.isAlive(victim) { sim.start(victim, fresh: wipe) } }
                    case .leaveJoin:
                        sim.at(t) {
                            guard !bootstrap.contains(victim), sim.isAlive(victim) else { return }
                            sim.crash(victim, keepStore: false)
                            departed.insert(victim)
                        }
                    }
                }
                if o.churn == .leaveJoin {
                    let joiners = count
                    sim.at(t + .milliseconds(500)) {
                        for _ in 0..<joiners {
                            let i = sim.addHost { config in
                                config.bootstrapPeers = bootstrap.map { SimNetwork.address(SimNetwork.ip(for: $0), 4001) }
                                if o.roster { config.roster = sim.hosts[0].config.roster }
                                timing.apply(&config)
                                o.book?.apply(&config)
                            }
                            all.append(i)
                            sim.start(i)
                        }
                    }
                }
                t = t + timing.syncInterval
            }
        }
        sim.run(until: faultEnd)
        // Faults stop: heal the paths, clean links, bring back every crashed host (with its store).
        sim.heal()
        sim.link = LinkModel()
        for i in all where !sim.isAlive(i) && !departed.contains(i) { sim.start(i) }
        let honest = all.filter { !departed.contains($0) }
        // Books smaller than the network cannot hold everyone: there, every honest host must be
        // up, connected, and findable (its current record held by another honest host).
        let live = o.book == nil ? { sim.converged(among: honest) } : { sim.reachable(among: honest) }
        let took = sim.run(until: live, limit: .seconds(o.livenessSeconds))
        checker.checkAll(sim)
        let replay = "swift run -c release pexsim swarm --seed \(seed) --crypto \(crypto.rawValue)"
            + (options.map { " --nodes \($0.nodes)" } ?? "")
        return SwarmOutcome(
            seed: seed, crypto: crypto, options: o, traceHash: sim.traceHash, steps: sim.steps,
            violations: checker.violations.map(\.description), convergenceSeconds: took.map(\.seconds),
            checks: checker.checks,
            diagnosis: took == nil ? (o.book == nil ? sim.diagnose(among: honest) : sim.diagnoseReachability(among: honest)) : [],
            replay: replay)
    }
}
