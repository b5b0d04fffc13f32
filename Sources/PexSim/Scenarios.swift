import Foundation
import PexCore
import PexWire

/// The scenarios `pexsim run` knows.
public enum ScenarioName: String, Sendable, CaseIterable, Codable {
    case federation
    case addressChange = "address-change"
    case steady
    case growth
    case churn
    case partition
    case loss
    case scale
    // Attacks (AttackScenarios.swift).
    case flood
    case eclipse
    case equivocate
    case replay
}

/// Parameters common to every scenario.
public struct ScenarioParams: Sendable {
    public var nodes: Int?
    public var seed: UInt64
    public var crypto: SimCrypto
    /// A shorter version (fewer rounds and nodes) for `make sim` and tests.
    public var short: Bool
    /// Inbound slots of the bootstrap nodes; nil keeps the shipped default (`NodeConfig.maxInbound`).
    public var bootstrapInbound: Int?
    /// Rounds to simulate, for scenarios that run a fixed number (`scale`, `growth`); nil keeps
    /// the default.
    public var rounds: Int?
    /// New-table and tried-table bucket counts of every node, overriding the scenario's
    /// (`AddressBookConfig.newBucketCount`, `triedBucketCount`); nil keeps them. A book smaller
    /// than the network is what open networks larger than the books look like.
    public var newBuckets: Int?
    public var triedBuckets: Int?

    public init(nodes: Int? = nil, seed: UInt64 = 1, crypto: SimCrypto = .fake, short: Bool = false,
                bootstrapInbound: Int? = nil, rounds: Int? = nil, newBuckets: Int? = nil, triedBuckets: Int? = nil) {
        self.bootstrapInbound = bootstrapInbound
        self.rounds = rounds
        self.newBuckets = newBuckets
        self.triedBuckets = triedBuckets
        self.nodes = nodes
        self.seed = seed
        self.crypto = crypto
        self.short = short
    }
}

/// A network under measurement: the simulated network, its invariant checker (outputs always,
/// structure once per round), and the result being filled in.
final class Bench {
    let sim: SimNetwork
    let checker: InvariantChecker
    let timing: SimTiming
    var result: ScenarioResult
    let started = Date()
    let bootstrap: [Int]
    var r: SeededRandom

    init(_ name: ScenarioName, nodes: Int, params: ScenarioParams, roster: Bool, timing: SimTiming = .standard,
         bootstraps: Int = 3, rosterExtra: Int = 0, configure: (Int, inout NodeConfig) -> Void = { _, _ in }) {
        self.timing = timing
        let bootstrap = Array(0..<min(bootstraps, nodes))
        self.bootstrap = bootstrap
        // Bootstrap nodes run the shipped configuration unless told otherwise: newcomers take
        // their slots one address fetch at a time and inbound eviction makes room when full.
        let bootstrapInbound = params.bootstrapInbound
        let (newBuckets, triedBuckets) = (params.newBuckets, params.triedBuckets)
        sim = SimNetwork.build(count: nodes, seed: params.seed, crypto: params.crypto, bootstrap: bootstrap,
                               roster: roster, timing: timing, rosterExtra: rosterExtra) { i, c in
            if bootstrap.contains(i), let bootstrapInbound { c.maxInbound = bootstrapInbound }
            configure(i, &c)
            if let newBuckets { c.addressBook.newBucketCount = newBuckets }
            if let triedBuckets { c.addressBook.triedBucketCount = triedBuckets }
        }
        checker = InvariantChecker(crypto: params.crypto.provider, everyStep: false)
        checker.attach(to: sim)
        result = ScenarioResult(scenario: name.rawValue, nodes: nodes, seed: params.seed, crypto: params.crypto,
                                roundSeconds: timing.syncInterval.seconds)
        r = SeededRandom(seed: params.seed ^ 0x5343_454e_0000_0000)
    }

    var round: TimeSpan { timing.syncInterval }
    func rounds(_ span: TimeSpan) -> Double { span.seconds / round.seconds }

    /// Starts `hosts` (all by default): bootstraps at once, the others spread over `spread`.
    func start(_ hosts: [Int]? = nil, spread: TimeSpan = .seconds(1)) {
        for i in hosts ?? Array(sim.hosts.indices) {
            let delay = bootstrap.contains(i) || spread.nanoseconds == 0
                ? TimeSpan.zero : TimeSpan(nanoseconds: UInt64.random(in: 0...spread.nanoseconds, using: &r))
            sim.at(sim.now + delay) { [sim] in sim.start(i) }
        }
    }

    /// Runs until `condition` holds (checked every `step`), running the structural invariant
    /// checks once per round, recording `sample` into the series `name` at every check.
    @discardableResult
    func run(until condition: () -> Bool, limit: TimeSpan, step: TimeSpan = .seconds(1),
             series name: String? = nil, sample: (() -> Double)? = nil) -> TimeSpan? {
        let start = sim.now
        let end = sim.now + limit
        var nextCheck = sim.now + round
        while true {
            if let name, let sample {
                result.series[name, default: []].append([(sim.now - start).seconds, sample()])
            }
            if condition() { return sim.now - start }
            if sim.now >= end { return nil }
            sim.run(for: step)
            if sim.now >= nextCheck {
                checker.checkAll(sim)
                nextCheck = sim.now + round
            }
        }
    }

    /// Runs for `span`, checking structure once per round.
    func run(for span: TimeSpan) {
        let end = sim.now + span
        while sim.now < end {
            sim.run(until: min(end, sim.now + round))
            checker.checkAll(sim)
        }
    }

    func finish() -> ScenarioResult {
        checker.checkEveryHost(sim)
        result.violations = checker.violations.map(\.description)
        result.wallSeconds = Date().timeIntervalSince(started)
        result.steps = sim.steps
        result.traceHash = String(sim.traceHash, radix: 16)
        result.metrics["invariant_checks"] = Double(checker.checks)
        // The work behind the simulator's cost: records each node handled (nodes running at the end).
        let work = workTotals()
        result.metrics["records_accepted_total"] = Double(work.accepted)
        result.metrics["records_not_stored_total"] = Double(work.notStored)
        result.metrics["records_duplicate_total"] = Double(work.duplicate)
        result.metrics["relays_total"] = Double(work.relays)
        result.metrics["bytes_sent_total"] = Double(work.bytes)
        result.metrics["sync_exchanges_total"] = Double(work.syncs)
        result.metrics["sync_records_total"] = Double(work.syncRecords)
        result.metrics["parser_distinct_records"] = Double(sim.parser.count)
        return result
    }

    /// Counters summed over the running nodes: what the simulator spends its time on.
    struct WorkTotals {
        var accepted = 0, notStored = 0, duplicate = 0, relays = 0, bytes = 0, syncs = 0, syncRecords = 0, connections = 0
        var closes: [String: Int] = [:]
        /// Not a running total: live nodes whose inbound connections are at `maxInbound` now.
        var inboundFull = 0

        static func - (a: WorkTotals, b: WorkTotals) -> WorkTotals {
            WorkTotals(accepted: a.accepted - b.accepted, notStored: a.notStored - b.notStored, duplicate: a.duplicate - b.duplicate, relays: a.relays - b.relays,
                       bytes: a.bytes - b.bytes, syncs: a.syncs - b.syncs, syncRecords: a.syncRecords - b.syncRecords,
                       connections: a.connections - b.connections,
                       closes: a.closes.merging(b.closes.mapValues { -$0 }, uniquingKeysWith: +), inboundFull: a.inboundFull)
        }

        /// One line for `progress`: the counts, then the five commonest close causes.
        var summary: String {
            let causes = closes.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5)
            return "accepted \(accepted) (not stored \(notStored)), duplicate \(duplicate), relays \(relays), syncs \(syncs) carrying \(syncRecords) records, "
                + "connections \(connections), \(bytes / 1_000_000) MB; inbound full at \(inboundFull) nodes; closed: "
                + causes.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }

    func workTotals() -> WorkTotals {
        var work = WorkTotals()
        for i in sim.hosts.indices {
            sim.inspect(i) { node in
                work.accepted += node.metrics.recordsAccepted
                work.notStored += node.metrics.recordsNotStored
                work.duplicate += node.metrics.recordsDuplicate
                work.relays += node.metrics.relays
                work.bytes += node.metrics.bytesOut
                work.syncs += node.metrics.syncRounds
                work.syncRecords += node.metrics.syncRecords
                work.connections += node.metrics.connectionsOpened.values.reduce(0, +)
                work.closes.merge(node.metrics.connectionsClosedBy, uniquingKeysWith: +)
                if node.connectionCount(.inbound) >= node.config.maxInbound { work.inboundFull += 1 }
            }
        }
        return work
    }

    /// One line on standard error with the wall time so far: long runs show where they are.
    func progress(_ line: String) {
        let wall = String(format: "%.0f", Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data("[\(result.scenario) \(wall) s] \(line)\n".utf8))
    }

    /// For very large runs: the once-per-round structural checks take 500 hosts in turn instead of
    /// all (every stored record is still checked as it is written, and every host at the end).
    func sampleStructuralChecks() {
        checker.hostsPerCheck = 500
        result.notes.append("structural invariants checked on 500 hosts per round in turn (every host at the end); "
                            + "every stored record checked as it is written")
    }

    /// Gives host `i` a new IP address and tells its node (re-signs and announces its record).
    /// - Returns: The new record's seq.
    func changeAddress(_ i: Int, to ip: IPAddress) -> UInt64 {
        sim.changeAddress(i, to: ip)
        var config = sim.hosts[i].config
        config.advertisedAddresses = [SimNetwork.address(ip, 4001)]
        sim.command(i, .reload(config))
        return sim.inspect(i) { $0.ownSeq } ?? 0
    }

    /// Whether every live host in `holders` stores `key` at `seq` or newer.
    func everyoneHas(_ key: PublicKey, seq: UInt64, holders: [Int]) -> Bool {
        holders.allSatisfy { h in
            sim.inspect(h) { node in node.identity.publicKey == key || (node.entry(for: key)?.record.seq ?? 0) >= seq } ?? true
        }
    }

    func fraction(_ holders: [Int], _ predicate: (Node) -> Bool) -> Double {
        let live = holders.compactMap { sim.inspect($0, predicate) }
        return live.isEmpty ? 0 : Double(live.filter { $0 }.count) / Double(live.count)
    }
}

/// Reference models of convergence, for the report.
public enum GossipModel {
    /// Push-pull rumour spreading (Karp et al. 2000): ≈ log₃ N + ln ln N rounds.
    public static func pushPullRounds(_ n: Int) -> Double {
        let x = Double(max(n, 3))
        return log(x) / log(3) + log(log(x))
    }

    /// memberlist/Serf's convergence for their defaults (gossip fanout 3 every 200 ms, push-pull
    /// every 30 s): the published simulator puts full convergence at 9–12 gossip rounds for
    /// 64–512 nodes; interpolated on log N.
    public static func memberlistRounds(_ n: Int) -> Double {
        let lo = log(64.0), hi = log(512.0)
        let t = min(max((log(Double(max(n, 2))) - lo) / (hi - lo), 0), 1)
        return 9 + 3 * t
    }
}

/// The scenario implementations.
public enum Scenarios {
    /// Runs one scenario. - Returns: Its measurements.
    public static func run(_ name: ScenarioName, _ p: ScenarioParams) -> ScenarioResult {
        switch name {
        case .federation: federation(p)
        case .addressChange: addressChange(p)
        case .steady: steady(p)
        case .growth: growth(p)
        case .churn: churn(p)
        case .partition: partition(p)
        case .loss: loss(p)
        case .scale: scale(p)
        case .flood: flood(p)
        case .eclipse: eclipse(p)
        case .equivocate: equivocate(p)
        case .replay: replay(p)
        }
    }

    /// Starts a roster federation and runs it to convergence.
    /// - Returns: The bench and the time it took (nil if it never converged in `limit`).
    static func convergedFederation(_ name: ScenarioName, nodes n: Int, _ p: ScenarioParams,
                                    limit: TimeSpan = .minutes(30), link: LinkModel = LinkModel(),
                                    configure: (Int, inout NodeConfig) -> Void = { _, _ in }) -> (Bench, TimeSpan?) {
        let bench = Bench(name, nodes: n, params: p, roster: true, configure: configure)
        bench.sim.link = link
        bench.start()
        let all = Array(0..<n)
        let sampleEvery = n > 256 ? 5 : 1
        var tick = 0
        let took = bench.run(until: { bench.sim.converged(among: all) }, limit: limit, series: "coverage") {
            tick += 1
            return tick % sampleEvery == 1 || sampleEvery == 1 ? bench.sim.coverage(holders: all, subjects: all) : .nan
        }
        bench.result.series["coverage"] = bench.result.series["coverage"]?.filter { !$0[1].isNaN }
        if took == nil { bench.result.notes += ["not converged:"] + bench.sim.diagnose(among: all) }
        return (bench, took)
    }

    // MARK: Federation convergence

    static func federation(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 64 : 512)
        let (bench, took) = convergedFederation(.federation, nodes: n, p)
        bench.result.metrics["seconds"] = took?.seconds ?? -1
        bench.result.metrics["rounds"] = took.map(bench.rounds) ?? -1
        bench.result.metrics["push_pull_bound_rounds"] = GossipModel.pushPullRounds(n)
        bench.result.metrics["memberlist_rounds"] = GossipModel.memberlistRounds(n)
        bench.result.metrics["links"] = Double(bench.sim.connectionCount)
        if n >= 512 { bench.result.targets.append(TargetCheck("convergence_rounds_n512", bound: 8, measured: took.map(bench.rounds))) }
        bench.result.notes.append("roster mode, targetOutbound 8, 3 bootstrap nodes, all nodes started within 1 s; "
                                  + "converged = every node holds every member's current record")
        return bench.finish()
    }

    // MARK: Address change

    static func addressChange(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 64 : 512)
        let (bench, took) = convergedFederation(.addressChange, nodes: n, p)
        bench.result.metrics["initial_convergence_rounds"] = took.map(bench.rounds) ?? -1
        bench.run(for: bench.round)  // settle
        let mover = n - 1
        let key = bench.sim.hosts[mover].identity.publicKey
        let seq = bench.changeAddress(mover, to: IPAddress(ipv4: 60, 1, 2, 3))
        let all = Array(0..<n)
        let spread = bench.run(until: { bench.everyoneHas(key, seq: seq, holders: all) }, limit: .minutes(10),
                               step: .milliseconds(100), series: "holders") {
            bench.fraction(all) { ($0.entry(for: key)?.record.seq ?? 0) >= seq || $0.identity.publicKey == key }
        }
        bench.result.metrics["seconds"] = spread?.seconds ?? -1
        bench.result.metrics["rounds"] = spread.map(bench.rounds) ?? -1
        if n >= 512 { bench.result.targets.append(TargetCheck("address_change_rounds_n512", bound: 6, measured: spread.map(bench.rounds))) }
        bench.result.notes.append("host \(mover) moves to 60.1.2.3 by Command.reload; measured until every node holds the new seq")
        return bench.finish()
    }

    // MARK: Steady state

    static func steady(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 64 : 512)
        let measureRounds: UInt64 = p.short ? 4 : 10
        var combined = ScenarioResult(scenario: ScenarioName.steady.rawValue, nodes: n, seed: p.seed, crypto: p.crypto,
                                      roundSeconds: SimTiming.standard.syncInterval.seconds)
        var hashes: [String] = []
        for delta in [true, false] {
            let (bench, _) = convergedFederation(.steady, nodes: n, p) { _, c in c.offerDeltaSync = delta }
            bench.run(for: bench.round * 3)  // let the first full exchanges and feelers settle
            let before = bench.sim.bytesSentByNodes
            let framesBefore = framesOut(bench.sim)
            let links = bench.sim.connectionCount
            let counts = { (sim: SimNetwork) -> (Int, Int) in
                sim.hosts.indices.reduce((0, 0)) { acc, i in
                    let m = sim.inspect(i) { ($0.metrics.recordsAccepted, $0.metrics.recordsDuplicate) } ?? (0, 0)
                    return (acc.0 + m.0, acc.1 + m.1)
                }
            }
            let recordsBefore = counts(bench.sim)
            bench.run(for: bench.round * measureRounds)
            let recordsAfter = counts(bench.sim)
            let bytes = Double(bench.sim.bytesSentByNodes - before)
            let perLink = bytes / Double(max(links, 1)) / Double(measureRounds)
            let label = delta ? "delta" : "full"
            let res = bench.finish()
            combined.metrics["\(label)_bytes_per_link_per_interval"] = perLink
            combined.metrics["\(label)_bytes_per_node_per_interval"] = bytes / Double(n) / Double(measureRounds)
            combined.metrics["\(label)_links"] = Double(links)
            // Records received in the window: new or newer (accepted) vs already held (duplicate).
            combined.metrics["\(label)_records_accepted_per_node_per_interval"] = Double(recordsAfter.0 - recordsBefore.0) / Double(n) / Double(measureRounds)
            combined.metrics["\(label)_records_duplicate_per_node_per_interval"] = Double(recordsAfter.1 - recordsBefore.1) / Double(n) / Double(measureRounds)
            let frames = framesOut(bench.sim).merging(framesBefore) { $0 - $1 }
            for (kind, count) in frames.sorted(by: { $0.key < $1.key }) where count > 0 {
                combined.metrics["\(label)_frames_\(kind)_per_link_per_interval"] = Double(count) / Double(max(links, 1)) / Double(measureRounds)
            }
            combined.violations += res.violations
            combined.wallSeconds += res.wallSeconds
            combined.steps += res.steps
            hashes.append(res.traceHash)
            if delta, n >= 512 { combined.targets.append(TargetCheck("steady_bytes_per_link_n512", bound: 256, measured: perLink)) }
        }
        combined.traceHash = hashes.joined(separator: "/")
        combined.notes.append("bytes = every frame every node sent (TCP payload incl. the 1–3 byte length prefix), "
                              + "over \(measureRounds) intervals after convergence; links = established connections")
        return combined
    }

    static func framesOut(_ sim: SimNetwork) -> [String: Int] {
        var total: [String: Int] = [:]
        for i in sim.hosts.indices {
            let frames: [String: Int] = sim.inspect(i) { $0.metrics.framesOut } ?? [:]
            for (k, v) in frames { total[k, default: 0] += v }
        }
        return total
    }

    // MARK: Open network growth

    /// Per-node sizes for runs of more than 2 000 nodes: the simulator holds every node's tables
    /// in one process (10 000 × 5 000 records would not fit in memory). A smaller address book
    /// and responses, and caches sized to that book: seen (key, seq) pairs and keys known per
    /// connection to 2 048 and 512, signatures to 256 (that cache only saves CPU, and the fake
    /// signatures cost next to nothing). Frames go uncompressed: zlib was a fifth of the
    /// simulator's time, and signed records barely compress.
    static let largeRunNote = "address book 32 new + 8 tried buckets, 250 records per response, seen cache 2048, "
        + "512 known records per connection, signature cache 256, frames uncompressed (memory and time of the simulator)"

    static func largeRun(_ c: inout NodeConfig) {
        c.offerCompression = false
        c.addressBook.newBucketCount = 32
        c.addressBook.triedBucketCount = 8
        c.maxPeersPerResponse = 250
        c.seenCacheCapacity = 2048
        c.knownRecordsPerConnection = 512
        c.signatureCacheCapacity = 256
    }

    static func growth(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 200 : 1000)
        let totalRounds = UInt64(p.rounds ?? (p.short ? 10 : 50))
        let small = n > 2000
        let bench = Bench(.growth, nodes: n, params: p, roster: false) { _, c in
            if small { largeRun(&c) }
        }
        if small { bench.sampleStructuralChecks() }
        // Joins spread over the first half of the run.
        let window = bench.round * (totalRounds / 2)
        bench.start(spread: window)
        let sampleHolders = (0..<min(n, 100)).map { $0 * max(1, n / 100) }
        var lastWork = Bench.WorkTotals()
        var t: UInt64 = 0
        while t < totalRounds {
            bench.run(for: bench.round)
            t += 1
            let live = bench.sim.hosts.indices.filter { bench.sim.isAlive($0) }
            let now = Double(t) * bench.round.seconds
            let holders = sampleHolders.filter { bench.sim.isAlive($0) }
            bench.result.series["coverage", default: []].append([now, bench.sim.coverage(holders: holders, subjects: live)])
            bench.result.series["live", default: []].append([now, Double(live.count)])
            bench.result.series["table_size", default: []].append(
                [now, holders.isEmpty ? 0 : Double(holders.reduce(0) { $0 + (bench.sim.hosts[$1].store.state.peers.count) }) / Double(holders.count)])
            bench.result.series["maintenance", default: []].append([now, bench.fraction(live) { $0.state == .maintenance }])
            // Counters of nodes that crashed drop out of the sum; growth has no crashes.
            let work = bench.workTotals()
            bench.result.series["accepted", default: []].append([now, Double((work - lastWork).accepted)])
            if small || ProcessInfo.processInfo.environment["PEXSIM_PROGRESS"] != nil {
                bench.progress("round \(t)/\(totalRounds): \(live.count) live, coverage \(bench.result.series["coverage"]?.last?[1] ?? 0); "
                               + "this round: " + (work - lastWork).summary)
            }
            lastWork = work
        }
        bench.result.metrics["rounds"] = Double(totalRounds)
        bench.result.metrics["final_coverage"] = bench.result.series["coverage"]?.last?[1] ?? 0
        bench.result.metrics["final_table_size"] = bench.result.series["table_size"]?.last?[1] ?? 0
        bench.result.metrics["final_maintenance_share"] = bench.result.series["maintenance"]?.last?[1] ?? 0
        // Past about book × maxInbound / targetOutbound nodes, the outbound connections of all
        // nodes outnumber the inbound slots of the nodes the books can hold (PERFORMANCE.md).
        // The last host: bootstrap nodes come first and may have another `maxInbound`.
        let config = bench.sim.hosts[bench.sim.hosts.count - 1].config
        let book = config.addressBook.bucketSize * (config.addressBook.newBucketCount + config.addressBook.triedBucketCount)
        bench.result.metrics["book_capacity"] = Double(book)
        bench.result.metrics["inbound_supply_nodes"] = Double(book * config.maxInbound / max(1, config.targetOutbound))
        bench.result.notes.append("open network, nodes join uniformly over the first \(totalRounds / 2) rounds from 3 bootstrap nodes; "
                                  + "coverage = share of live nodes whose current record a sample of ≤ 100 nodes holds"
                                  + (small ? "; " + largeRunNote : "")
                                  + (p.newBuckets != nil || p.triedBuckets != nil ? "; book buckets set on the command line" : ""))
        var res = bench.finish()
        if n >= 10_000 {
            res.targets.append(TargetCheck("wall_seconds_10000x50", bound: 60, measured: totalRounds == 50 ? res.wallSeconds : nil))
        }
        return res
    }

    // MARK: Churn

    static func churn(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 64 : 128)
        let (bench, took) = convergedFederation(.churn, nodes: n, p)
        bench.result.metrics["initial_convergence_rounds"] = took.map(bench.rounds) ?? -1
        let churnRounds: UInt64 = p.short ? 4 : 10
        let all = Array(0..<n)
        var minCoverage = 1.0
        var sum = 0.0
        for round in 0..<churnRounds {
            // 10 % of the members leave this interval; last interval's leavers come back with their store.
            let down = all.filter { !bench.sim.isAlive($0) }
            let candidates = all.filter { bench.sim.isAlive($0) && !bench.bootstrap.contains($0) }.shuffled(using: &bench.r)
            for i in candidates.prefix(max(1, n / 10)) { bench.sim.crash(i) }
            for i in down { bench.sim.start(i) }
            bench.run(for: bench.round)
            let live = all.filter { bench.sim.isAlive($0) }
            let c = bench.sim.coverage(holders: live, subjects: live)
            bench.result.series["coverage", default: []].append([Double(round + 1) * bench.round.seconds, c])
            minCoverage = min(minCoverage, c)
            sum += c
        }
        for i in all where !bench.sim.isAlive(i) { bench.sim.start(i) }
        let heal = bench.run(until: { bench.sim.converged(among: all) }, limit: .minutes(30))
        bench.result.metrics["churn_min_coverage"] = minCoverage
        bench.result.metrics["churn_mean_coverage"] = sum / Double(churnRounds)
        bench.result.metrics["reconvergence_rounds"] = heal.map(bench.rounds) ?? -1
        bench.result.notes.append("roster federation; each interval 10 % of members crash and last interval's crashed restart with their store; "
                                  + "coverage = share of (live, live) pairs holding the current record")
        return bench.finish()
    }

    // MARK: Partition

    static func partition(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 64 : 128)
        let (bench, took) = convergedFederation(.partition, nodes: n, p)
        bench.result.metrics["initial_convergence_rounds"] = took.map(bench.rounds) ?? -1
        let all = Array(0..<n)
        let shuffled = all.shuffled(using: &bench.r)
        let a = Array(shuffled.prefix(n / 2)), b = Array(shuffled.dropFirst(n / 2))
        bench.sim.partition([a, b])
        bench.run(for: bench.round)
        // While cut off, 10 % of each half move: each half learns only its own changes.
        var moved: [(PublicKey, UInt64)] = []
        for (k, i) in (Array(a.prefix(max(1, n / 20))) + Array(b.prefix(max(1, n / 20)))).enumerated() {
            moved.append((bench.sim.hosts[i].identity.publicKey, bench.changeAddress(i, to: IPAddress(ipv4: 61, UInt8(k / 250), UInt8(k % 250), 1))))
        }
        let partitionRounds: UInt64 = p.short ? 3 : 5
        bench.run(for: bench.round * partitionRounds)
        bench.result.metrics["coverage_during_partition"] = bench.sim.coverage(holders: all, subjects: all)
        bench.sim.heal()
        let healed = bench.run(until: { bench.sim.converged(among: all) }, limit: .minutes(30), series: "coverage") {
            bench.sim.coverage(holders: all, subjects: all)
        }
        if healed == nil { bench.result.notes += ["not healed:"] + bench.sim.diagnose(among: all) }
        bench.result.metrics["partition_rounds"] = Double(partitionRounds)
        bench.result.metrics["heal_seconds"] = healed?.seconds ?? -1
        bench.result.metrics["heal_rounds"] = healed.map(bench.rounds) ?? -1
        bench.result.notes.append("two halves for \(partitionRounds) rounds; one in 20 of all nodes from each half (10 % of the half) change address meanwhile; "
                                  + "heal = all nodes hold all current records")
        return bench.finish()
    }

    // MARK: Loss

    static func loss(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 64 : 256)
        var link = LinkModel()
        link.loss = 0.2
        let (bench, took) = convergedFederation(.loss, nodes: n, p, link: link)
        bench.result.metrics["rounds"] = took.map(bench.rounds) ?? -1
        bench.result.metrics["seconds"] = took?.seconds ?? -1
        bench.result.metrics["retransmit_resets"] = Double(bench.sim.retransmitResets)
        // The same seed without loss, for the comparison.
        let (baseline, baseTook) = convergedFederation(.loss, nodes: n, p)
        bench.result.metrics["baseline_rounds"] = baseTook.map(baseline.rounds) ?? -1
        let base = baseline.finish()
        bench.result.violations += base.violations
        bench.result.notes.append("20 % of TCP segment transmissions lost: each loss costs a 200 ms RTO, doubling per "
                                  + "consecutive loss; 7 losses in a row reset the connection")
        return bench.finish()
    }

    // MARK: Simulator scale

    /// The simulator's own target: 10 000 nodes × 50 rounds in at most 60 s of wall time. An open
    /// network whose nodes join over the first rounds; reports what the run cost (wall, CPU, peak
    /// memory, events) next to the coverage reached, so a slow run is still a measurement.
    static func scale(_ p: ScenarioParams) -> ScenarioResult {
        let n = p.nodes ?? (p.short ? 200 : 10_000)
        let totalRounds = UInt64(max(1, p.rounds ?? (p.short ? 10 : 50)))
        let cpuStart = ProcessCost.cpuSeconds()
        let small = n > 2000
        let bench = Bench(.scale, nodes: n, params: p, roster: false) { _, c in
            if small { largeRun(&c) }
        }
        if small { bench.sampleStructuralChecks() }
        // Joins spread over the first tenth of the run (at least one round).
        let joinRounds = max(1, totalRounds / 10)
        bench.start(spread: bench.round * joinRounds)
        let sampleHolders = (0..<min(n, 100)).map { $0 * max(1, n / 100) }
        for t in 1...totalRounds {
            bench.run(for: bench.round)
            let at = Double(t) * bench.round.seconds
            bench.result.series["wall_seconds", default: []].append([at, Date().timeIntervalSince(bench.started)])
            bench.result.series["events", default: []].append([at, Double(bench.sim.steps)])
            if small { bench.progress("round \(t)/\(totalRounds): \(bench.sim.steps) events") }
        }
        let live = bench.sim.hosts.indices.filter { bench.sim.isAlive($0) }
        let holders = sampleHolders.filter { bench.sim.isAlive($0) }
        bench.result.metrics["rounds"] = Double(totalRounds)
        bench.result.metrics["join_rounds"] = Double(joinRounds)
        bench.result.metrics["final_coverage"] = bench.sim.coverage(holders: holders, subjects: live)
        bench.result.metrics["final_maintenance_share"] = bench.fraction(live) { $0.state == .maintenance }
        bench.result.metrics["links"] = Double(bench.sim.connectionCount)
        var res = bench.finish()
        let cpu = ProcessCost.cpuSeconds() - cpuStart
        res.metrics["wall_seconds"] = res.wallSeconds
        res.metrics["cpu_seconds"] = cpu
        res.metrics["max_rss_mb"] = ProcessCost.maxResidentMegabytes()
        res.metrics["events"] = Double(res.steps)
        res.metrics["events_per_second"] = res.wallSeconds > 0 ? Double(res.steps) / res.wallSeconds : 0
        res.notes.append("open network, \(n) nodes joining uniformly over the first \(joinRounds) round(s) from 3 bootstrap nodes "
                         + "(room for every node), \(totalRounds) rounds; coverage = share of live nodes whose current record "
                         + "a sample of ≤ 100 nodes holds" + (small ? "; " + largeRunNote : ""))
        res.targets.append(TargetCheck("wall_seconds_10000x50", bound: 60,
                                       measured: n >= 10_000 && totalRounds >= 50 ? res.wallSeconds : nil))
        return res
    }
}

/// What the simulator process has cost so far (getrusage).
enum ProcessCost {
    #if canImport(Glibc)
    static let selfWho = __rusage_who_t(RUSAGE_SELF.rawValue)
    #else
    static let selfWho = RUSAGE_SELF
    #endif

    /// User plus system CPU seconds of this process.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        guard getrusage(Self.selfWho, &usage) == 0 else { return 0 }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Peak resident memory in MB (`ru_maxrss` is in kilobytes on Linux).
    static func maxResidentMegabytes() -> Double {
        var usage = rusage()
        guard getrusage(Self.selfWho, &usage) == 0 else { return 0 }
        return Double(usage.ru_maxrss) / 1024
    }
}
