import PexCore
import PexWire

/// What the honest side of an attack run did, from the nodes' own outputs: the victim's
/// scores, bans and outbound connections, equivocation detections anywhere, and every stored
/// record that went backwards (which must never happen).
final class AttackTracker {
    let victim: Int
    /// Offences the victim charged, by offence; `honest` when the subject is an honest key.
    var offences: [String: Int] = [:]
    var honestOffences: [String: Int] = [:]
    var victimBans: [BanSubject] = []
    /// The victim's ready outbound connections (not feelers) and their keys.
    var outbound: [ConnectionID: PublicKey] = [:]
    /// Honest hosts that saw an equivocation, with the first time.
    var detectors: [Int: Instant] = [:]
    var evidence = 0
    /// Highest seq each host stored per key; a lower one later is a displacement.
    var stored: [Int: [PublicKey: UInt64]] = [:]
    var displacements = 0
    let honestKeys: Set<PublicKey>

    init(victim: Int, honestKeys: Set<PublicKey>) {
        self.victim = victim
        self.honestKeys = honestKeys
    }

    /// Chains the tracker after the network's current output observer (the invariant checker).
    func attach(to sim: SimNetwork) {
        let inner = sim.outputObserver
        sim.outputObserver = { [unowned self] sim, i, output in
            inner?(sim, i, output)
            self.observe(sim, i, output)
        }
    }

    func observe(_ sim: SimNetwork, _ i: Int, _ output: Output) {
        switch output {
        case let .persist(.upsertPeer(peer)):
            guard let unverified = try? peer.record.parse(networkID: sim.hosts[i].config.networkID) else { return }
            let key = unverified.publicKeyBytes
            guard let pk = sim.crypto.publicKey(key) else { return }
            let seq = unverified.record.seq
            if let previous = stored[i]?[pk], seq < previous { displacements += 1 }
            stored[i, default: [:]][pk] = max(seq, stored[i]?[pk] ?? 0)
        case let .persist(.removePeer(key)):
            stored[i]?[key] = nil
        case .persist(.equivocation):
            evidence += 1
        case let .event(event):
            switch event {
            case .equivocation:
                if detectors[i] == nil { detectors[i] = sim.now }
            case let .misbehaviour(subject, offence, _) where i == victim:
                if case let .key(key) = subject, honestKeys.contains(key) {
                    honestOffences[offence.rawValue, default: 0] += 1
                } else {
                    offences[offence.rawValue, default: 0] += 1
                }
            case let .banned(subject, _, _) where i == victim:
                victimBans.append(subject)
            case let .connected(id, key, direction, _) where i == victim && direction == .outbound:
                outbound[id] = key
            case let .disconnected(id, _, _) where i == victim:
                outbound[id] = nil
            default:
                break
            }
        default:
            break
        }
    }
}

/// Where an attacker's records sit in one node's address book.
struct BookShare {
    var total = 0, attacker = 0
    var new = 0, newAttacker = 0
    var tried = 0, triedAttacker = 0
    var protected = 0, protectedAttacker = 0

    init(_ node: Node, attacker: (PublicKey) -> Bool) {
        for record in node.knownRecords {
            guard let entry = node.entry(for: record.publicKey) else { continue }
            let bad = attacker(record.publicKey)
            total += 1
            if bad { self.attacker += 1 }
            switch entry.location {
            case .new: new += 1; if bad { newAttacker += 1 }
            case .tried: tried += 1; if bad { triedAttacker += 1 }
            case .protected: protected += 1; if bad { protectedAttacker += 1 }
            }
        }
    }

    static func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
    var share: Double { Self.ratio(attacker, total) }
}

/// One attack run: an honest network, a victim, and adversary hosts that may or may not be started.
final class AttackRun {
    let bench: Bench
    let n: Int
    let victim: Int
    let honest: [Int]
    var adversaries: [(host: Int, adversary: Adversary)] = []
    let tracker: AttackTracker
    /// Keys the attacker controls beyond its hosts' own (fake records it relays).
    var extraKeys: Set<PublicKey> = []
    var attackStart: Instant?

    init(_ name: ScenarioName, _ p: ScenarioParams, nodes n: Int, roster: Bool, members: Int = 0) {
        self.n = n
        let bench = Bench(name, nodes: n, params: p, roster: roster, rosterExtra: members)
        let victim = min(5, n - 1)
        let honest = Array(0..<n)
        let keys = Set(honest.map { bench.sim.hosts[$0].identity.publicKey })
        tracker = AttackTracker(victim: victim, honestKeys: keys)
        tracker.attach(to: bench.sim)
        self.bench = bench
        self.victim = victim
        self.honest = honest
    }

    var sim: SimNetwork { bench.sim }

    /// Adds an adversary host at `ip`; its key is the host's own (a roster member when the run
    /// reserved `members` roster slots and this is one of the first hosts added).
    @discardableResult
    func addAdversary(ip: IPAddress, plan: AdversaryPlan = AdversaryPlan()) -> Adversary {
        let i = sim.addHost(ip: ip)
        let adversary = Adversary(identity: sim.hosts[i].identity, address: sim.address(of: i),
                                  networkID: sim.hosts[i].config.networkID, crypto: sim.crypto, plan: plan,
                                  seed: UInt64(i) &* 0x9e37_79b9, now: sim.now)
        adversaries.append((i, adversary))
        return adversary
    }

    /// Every key the attacker has used or relayed.
    var attackerKeys: Set<PublicKey> {
        var keys = extraKeys
        for (_, a) in adversaries { keys.formUnion(a.keys) }
        return keys
    }

    /// Starts the honest hosts now and, when `attack`, the adversaries `delay` later.
    func start(attack: Bool, delay: TimeSpan = .seconds(2)) {
        bench.start(honest)
        guard attack else { return }
        attackStart = sim.now + delay
        let list = adversaries
        sim.at(sim.now + delay) { [sim] in for (i, a) in list { sim.start(i, script: a) } }
    }

    /// Runs until every honest host holds every honest record, sampling the victim's attacker share.
    /// - Returns: The time it took, nil when `limit` passed first.
    func converge(limit: TimeSpan) -> TimeSpan? {
        let keys = attackerKeys
        return bench.run(until: { sim.converged(among: honest) }, limit: limit, step: .seconds(1),
                         series: "victim_attacker_share") { [self] in
            sim.inspect(victim) { BookShare($0) { keys.contains($0) }.share } ?? 0
        }
    }

    /// Runs `rounds` more rounds, sampling the victim's shares once per round.
    /// - Returns: The largest table share and outbound share seen.
    func observe(rounds: Int) -> (table: Double, outbound: Double) {
        var maxTable = 0.0, maxOutbound = 0.0
        let start = sim.now
        for _ in 0..<rounds {
            bench.run(for: bench.round)
            let keys = attackerKeys
            let t = (sim.now - start).seconds
            let share = sim.inspect(victim) { BookShare($0) { keys.contains($0) } }
            let outbound = outboundShare(keys)
            maxTable = max(maxTable, share?.share ?? 0)
            maxOutbound = max(maxOutbound, outbound.share)
            bench.result.series["observe_table_share", default: []].append([t, share?.share ?? 0])
            bench.result.series["observe_outbound_share", default: []].append([t, outbound.share])
        }
        return (maxTable, maxOutbound)
    }

    func outboundShare(_ keys: Set<PublicKey>) -> (attacker: Int, total: Int, share: Double) {
        let a = tracker.outbound.values.filter { keys.contains($0) }.count
        let t = tracker.outbound.count
        return (a, t, BookShare.ratio(a, t))
    }

    /// The victim's book, scores and costs, as metrics prefixed with `prefix`.
    func record(into m: inout [String: Double], prefix: String) {
        let keys = attackerKeys
        if let s = sim.inspect(victim, { BookShare($0) { keys.contains($0) } }) {
            m[prefix + "victim_table_entries"] = Double(s.total)
            m[prefix + "victim_attacker_entries"] = Double(s.attacker)
            m[prefix + "victim_attacker_share"] = s.share
            m[prefix + "victim_attacker_share_new"] = BookShare.ratio(s.newAttacker, s.new)
            m[prefix + "victim_attacker_share_tried"] = BookShare.ratio(s.triedAttacker, s.tried)
            m[prefix + "victim_new_entries"] = Double(s.new)
            m[prefix + "victim_tried_entries"] = Double(s.tried)
            m[prefix + "victim_protected_entries"] = Double(s.protected)
        }
        // Pollution of the rest of the network (mean share over honest hosts other than the victim).
        let shares = honest.filter { $0 != victim }.compactMap { h in sim.inspect(h) { BookShare($0) { keys.contains($0) }.share } }
        m[prefix + "honest_mean_attacker_share"] = shares.isEmpty ? 0 : shares.reduce(0, +) / Double(shares.count)
        m[prefix + "honest_max_attacker_share"] = shares.max() ?? 0
        let out = outboundShare(keys)
        m[prefix + "victim_outbound"] = Double(out.total)
        m[prefix + "victim_outbound_attacker"] = Double(out.attacker)
        m[prefix + "victim_bans"] = Double(tracker.victimBans.count)
        m[prefix + "victim_bans_of_honest"] = Double(tracker.victimBans.filter {
            if case let .key(k) = $0 { tracker.honestKeys.contains(k) } else { false }
        }.count)
        for (offence, count) in tracker.offences { m[prefix + "victim_offences_" + offence] = Double(count) }
        m[prefix + "victim_offences_by_honest"] = Double(tracker.honestOffences.values.reduce(0, +))
        if let metrics = sim.inspect(victim, { $0.metrics }) {
            m[prefix + "victim_bytes_out"] = Double(metrics.bytesOut)
            m[prefix + "victim_bytes_in"] = Double(metrics.bytesIn)
            m[prefix + "victim_records_stale"] = Double(metrics.recordsStale)
            m[prefix + "victim_handshakes_failed"] = Double(metrics.handshakesFailed)
        }
        m[prefix + "bytes_victim_sent_to_attacker"] = Double(adversaries.reduce(0) { $0 + $1.adversary.stats.bytesReceived })
        m[prefix + "stale_displacements"] = Double(tracker.displacements)
        m[prefix + "honest_records_stale"] = Double(honest.reduce(0) { $0 + (sim.inspect($1) { $0.metrics.recordsStale } ?? 0) })
    }
}

extension Scenarios {
    /// How long an attack run observes after convergence, in rounds.
    static func observeRounds(_ p: ScenarioParams, _ override: Int? = nil) -> Int { override ?? (p.short ? 8 : 40) }

    static func attackNodes(_ p: ScenarioParams) -> Int { p.nodes ?? (p.short ? 32 : 64) }

    /// Runs `setup` twice on the same seed, with and without the attack, and merges the results:
    /// attacked metrics unprefixed, the baseline's as `baseline_*`, and the slow-down.
    static func compare(_ name: ScenarioName, _ p: ScenarioParams, variant: String,
                        _ body: (Bool) -> (AttackRun, TimeSpan?)) -> ScenarioResult {
        let (attacked, took) = body(true)
        let (baseline, baseTook) = body(false)
        var m = attacked.bench.result.metrics
        for (k, v) in baseline.bench.result.metrics { m["baseline_" + k] = v }
        attacked.record(into: &m, prefix: "")
        baseline.record(into: &m, prefix: "baseline_")
        m["convergence_seconds"] = took?.seconds ?? -1
        m["baseline_convergence_seconds"] = baseTook?.seconds ?? -1
        m["convergence_slowdown_seconds"] = took.flatMap { t in baseTook.map { t.seconds - $0.seconds } } ?? -1
        attacked.bench.result.metrics = m
        attacked.bench.result.notes.append("variant: \(variant); victim = host \(attacked.victim); baseline = the same seed without starting the attacker")
        var res = attacked.bench.finish()
        let base = baseline.bench.finish()
        res.violations += base.violations.map { "baseline: " + $0 }
        if m["stale_displacements"] != 0 { res.violations.append("a stored record was replaced by a lower seq") }
        return res
    }

    /// Merges per-variant results into one, prefixing each variant's metrics.
    static func merge(_ name: ScenarioName, _ p: ScenarioParams, _ parts: [(String, ScenarioResult)]) -> ScenarioResult {
        var out = ScenarioResult(scenario: name.rawValue, nodes: parts.first?.1.nodes ?? 0, seed: p.seed, crypto: p.crypto,
                                 roundSeconds: SimTiming.standard.syncInterval.seconds)
        for (label, r) in parts {
            for (k, v) in r.metrics { out.metrics["\(label)_\(k)"] = v }
            for (k, v) in r.series { out.series["\(label)_\(k)"] = v }
            out.targets += r.targets
            out.violations += r.violations.map { "\(label): \($0)" }
            out.notes += r.notes.map { "\(label): \($0)" }
            out.wallSeconds += r.wallSeconds
            out.steps += r.steps
        }
        out.traceHash = parts.map(\.1.traceHash).joined(separator: "/")
        return out
    }

    // MARK: Eclipse

    /// Many identities from one network group feed the victim records of many fake identities.
    static func eclipse(_ p: ScenarioParams) -> ScenarioResult {
        let n = attackNodes(p)
        let sybils = 16
        let fakes = p.short ? 256 : 1024
        let open = eclipseRun(p, nodes: n, roster: false, sybils: sybils, fakes: fakes)
        let roster = eclipseRun(p, nodes: n, roster: true, sybils: sybils, fakes: fakes)
        var res = merge(.eclipse, p, [("open", open), ("roster", roster)])
        res.targets.append(TargetCheck("eclipse_open_victim_attacker_share", bound: 0.10,
                                       measured: open.metrics["max_victim_attacker_share"]))
        res.targets.append(TargetCheck("eclipse_roster_victim_attacker_share", bound: 0.10,
                                       measured: roster.metrics["max_victim_attacker_share"]))
        return res
    }

    /// One eclipse run pair (attacked and baseline).
    /// - Parameters:
    ///   - sybils: Attacker hosts in one /24 that dial the victim, announce and serve fake records.
    ///   - fakes: Further attacker hosts in the same /16 that only answer dials (so the fake
    ///     records are reachable and can be tried) and serve fake records.
    static func eclipseRun(_ p: ScenarioParams, nodes n: Int, roster: Bool, sybils: Int, fakes: Int,
                           observe: Int? = nil) -> ScenarioResult {
        compare(.eclipse, p, variant: roster ? "roster mode (attackers are not members)" : "open network") { attack in
            let run = AttackRun(.eclipse, p, nodes: n, roster: roster)
            let victimAddress = run.sim.address(of: run.victim)
            var plan = AdversaryPlan()
            plan.dial = [victimAddress]
            plan.redialDelay = .seconds(5)
            plan.trickleInterval = .seconds(10)
            var connectors: [Adversary] = []
            for k in 0..<sybils {
                connectors.append(run.addAdversary(ip: IPAddress(ipv4: 66, 77, 0, UInt8(1 + k)), plan: plan))
            }
            var passive: [Adversary] = []
            for k in 0..<fakes {
                let ip = IPAddress(ipv4: 66, 77, UInt8(1 + k / 250), UInt8(1 + k % 250))
                passive.append(run.addAdversary(ip: ip))
            }
            let records = (connectors + passive).map(\.record)
            for a in connectors + passive {
                a.plan.serve = records
            }
            for (k, a) in connectors.enumerated() {
                var mine = records
                var r = SeededRandom(seed: p.seed &+ UInt64(k))
                mine.shuffle(using: &r)
                a.plan.announce = mine
            }
            run.start(attack: attack)
            let took = run.converge(limit: .minutes(30))
            let seen = run.observe(rounds: observeRounds(p, observe))
            run.bench.result.metrics["max_victim_attacker_share"] = seen.table
            run.bench.result.metrics["max_victim_outbound_attacker_share"] = seen.outbound
            run.bench.result.metrics["attacker_hosts"] = Double(sybils + fakes)
            run.bench.result.metrics["attacker_handshakes"] = Double(connectors.reduce(0) { $0 + $1.stats.handshakes })
            run.bench.result.metrics["attacker_records_sent"] = Double((connectors + passive).reduce(0) { $0 + $1.stats.recordsSent })
            run.bench.result.metrics["attacker_dialled_by_honest"] = Double(passive.reduce(0) { $0 + $1.stats.accepted })
            if attack {
                run.bench.result.notes.append("\(sybils) attacker hosts in 66.77.0.0/24 dial the victim, announce \(records.count) attacker "
                    + "records (1000 at once, then 1 per 10 s) and serve them to every PeerRequest; \(fakes) more attacker hosts in "
                    + "66.77.0.0/16 answer dials with real handshakes; share = attacker records / all records in the victim's book")
            }
            return (run, took)
        }
    }

    // MARK: Flood

    /// A peer floods requests, pings and announcements far beyond the rate limits, and comes
    /// back under a fresh key each time it is cut off.
    static func flood(_ p: ScenarioParams) -> ScenarioResult {
        let n = attackNodes(p)
        let open = floodRun(p, nodes: n, roster: false, rotate: true)
        let fixed = floodRun(p, nodes: n, roster: false, rotate: false)
        let roster = floodRun(p, nodes: n, roster: true, rotate: true)
        return merge(.flood, p, [("open", open), ("open_one_key", fixed), ("roster", roster)])
    }

    /// One flood run pair (attacked and baseline).
    /// - Parameters:
    ///   - rotate: The flooder comes back under a fresh key after each disconnection (else under the same key).
    ///   - observe: Rounds observed after convergence (default per `short`).
    static func floodRun(_ p: ScenarioParams, nodes n: Int, roster: Bool, rotate: Bool, observe: Int? = nil) -> ScenarioResult {
        let variant = (roster ? "roster mode (the flooder is a member; fresh keys are not)" : "open network")
            + (rotate ? ", a fresh key after each disconnection" : ", always the same key")
        return compare(.flood, p, variant: variant) { attack in
            let run = AttackRun(.flood, p, nodes: n, roster: roster, members: roster ? 1 : 0)
            let pool = (0..<2000).map { k -> SignedPeerRecord in
                let key = Adversary.key(0xf1, k)
                return Adversary.sign(key, seq: run.sim.now.unixSeconds,
                                      addresses: [SimNetwork.address(IPAddress(ipv4: 67, UInt8(k / 250), UInt8(k % 250), 1), 4001)],
                                      networkID: "pex-sim", now: run.sim.now, crypto: run.sim.crypto)
            }
            run.extraKeys = Set((0..<2000).map { Adversary.key(0xf1, $0).publicKey })
            var plan = AdversaryPlan()
            plan.dial = [run.sim.address(of: run.victim)]
            plan.floodInterval = .milliseconds(100)
            plan.floodRequests = 1
            plan.floodPings = 1
            plan.floodRecords = 100
            plan.floodPool = pool
            plan.rotateIdentity = rotate
            let flooder = run.addAdversary(ip: IPAddress(ipv4: 66, 77, 0, 1), plan: plan)
            run.start(attack: attack)
            let took = run.converge(limit: .minutes(30))
            let seen = run.observe(rounds: observeRounds(p, observe))
            let m = flooder.stats
            let t0 = run.attackStart ?? run.sim.now
            let rel = { (t: Instant?) -> Double in t.map { ($0 - t0).seconds } ?? -1 }
            var metrics = run.bench.result.metrics
            metrics["max_victim_attacker_share"] = seen.table
            metrics["flooder_requests_sent"] = Double(m.requestsSent)
            metrics["flooder_records_sent"] = Double(m.recordsSent)
            metrics["flooder_pings_sent"] = Double(m.pingsSent)
            metrics["flooder_identities"] = Double(m.identities)
            metrics["flooder_handshakes"] = Double(m.handshakes)
            metrics["flooder_closed_by_victim"] = Double(m.closedByPeer)
            metrics["flooder_first_rate_limited_seconds"] = rel(m.firstRateLimited)
            metrics["flooder_first_cut_off_seconds"] = rel(m.firstClosedByPeer)
            metrics["flooder_first_banned_error_seconds"] = rel(m.firstBanned)
            metrics["flooder_responses_received"] = Double(m.framesReceived["peer_response"] ?? 0)
            metrics["flooder_pongs_received"] = Double(m.framesReceived["pong"] ?? 0)
            for (code, count) in m.errorsReceived { metrics["flooder_errors_\(code)"] = Double(count) }
            run.bench.result.metrics = metrics
            if attack {
                run.bench.result.notes.append("flooder at 66.77.0.1 dials the victim; every 100 ms: 1 PeerRequest, 1 Ping, 1 PeerAnnouncement "
                    + "of 100 records (pool of 2000 fresh keys, addresses in 8 /16s); after each disconnection it comes back 1 s later"
                + (rotate ? " under a fresh key" : ""))
            }
            return (run, took)
        }
    }

    // MARK: Equivocation

    /// A member signs two different records with the same seq and shows one to each of two nodes.
    static func equivocate(_ p: ScenarioParams) -> ScenarioResult { equivocateRun(p, nodes: attackNodes(p)) }

    static func equivocateRun(_ p: ScenarioParams, nodes n: Int, observe: Int? = nil) -> ScenarioResult {
        var res = compare(.equivocate, p, variant: "roster mode, the equivocator is a member") { attack in
            let run = AttackRun(.equivocate, p, nodes: n, roster: true, members: 1)
            let a = run.victim, b = n - 1
            let e = run.addAdversary(ip: IPAddress(ipv4: 66, 77, 0, 1))
            // Same key and seq as the record it shows everyone else, another address.
            let second = Adversary.sign(e.identity, seq: run.sim.now.unixSeconds,
                                        addresses: [SimNetwork.address(IPAddress(ipv4: 66, 78, 0, 1), 4001)],
                                        networkID: "pex-sim", now: run.sim.now, crypto: run.sim.crypto)
            e.plan.dial = [run.sim.address(of: a), run.sim.address(of: b)]
            e.plan.helloRecord = [run.sim.hosts[b].ip: second]
            e.plan.redialDelay = .seconds(30)
            run.start(attack: attack)
            let took = run.converge(limit: .minutes(30))
            _ = run.observe(rounds: observeRounds(p, observe))
            let key = e.identity.publicKey
            let t0 = run.attackStart ?? run.sim.now
            var m = run.bench.result.metrics
            m["equivocation_detectors"] = Double(run.tracker.detectors.count)
            m["equivocation_first_detection_seconds"] = run.tracker.detectors.values.min().map { ($0 - t0).seconds } ?? -1
            m["equivocation_last_detection_seconds"] = run.tracker.detectors.values.max().map { ($0 - t0).seconds } ?? -1
            m["equivocation_evidence_persisted"] = Double(run.tracker.evidence)
            m["honest_banning_equivocator"] = Double(run.honest.filter { run.sim.inspect($0) { $0.isBanned(.key(key)) } ?? false }.count)
            m["honest_holding_equivocator"] = Double(run.honest.filter { run.sim.inspect($0) { $0.entry(for: key) != nil } ?? false }.count)
            m["honest_holding_second_version"] = Double(run.honest.filter { h in
                run.sim.inspect(h) { $0.entry(for: key)?.record.signed == second } ?? false
            }.count)
            m["equivocator_handshakes"] = Double(e.stats.handshakes)
            m["equivocator_banned_errors"] = Double(e.stats.errorsReceived["banned"] ?? 0)
            run.bench.result.metrics = m
            if attack {
                run.bench.result.notes.append("member at 66.77.0.1 dials hosts \(a) and \(b); its Hello shows record R1 to \(a) and R2 (same seq, "
                    + "other address) to \(b); detectors = honest nodes that emitted an equivocation event")
            }
            return (run, took)
        }
        res.scenario = ScenarioName.equivocate.rawValue
        return res
    }

    // MARK: Stale-record replay

    /// After members change address, a member keeps replaying their old records to many nodes.
    static func replay(_ p: ScenarioParams) -> ScenarioResult { replayRun(p, nodes: attackNodes(p)) }

    static func replayRun(_ p: ScenarioParams, nodes n: Int, observe: Int? = nil) -> ScenarioResult {
        compare(.replay, p, variant: "roster mode, the replayer is a member") { attack in
            let run = AttackRun(.replay, p, nodes: n, roster: true, members: 1)
            let r = run.addAdversary(ip: IPAddress(ipv4: 66, 77, 0, 1))
            run.start(attack: false)
            let initial = run.converge(limit: .minutes(30))
            run.bench.run(for: run.bench.round)
            // The replayer captures every member's current record, then connects to a quarter of the nodes.
            let old = run.sim.inspect(0) { $0.knownRecords.map(\.signed) } ?? []
            let movers = Array(run.honest.filter { $0 != run.victim && !run.bench.bootstrap.contains($0) }.suffix(max(1, n / 10)))
            let moverKeys = Set(movers.map { run.sim.hosts[$0].identity.publicKey })
            let stale = old.filter { rec in
                (try? rec.parse(networkID: "pex-sim")).flatMap { run.sim.crypto.publicKey($0.publicKeyBytes) }.map(moverKeys.contains) ?? false
            }
            r.plan.dial = Array(run.honest.prefix(max(2, n / 4))).map { run.sim.address(of: $0) }
            r.plan.announce = stale
            r.plan.trickleInterval = .seconds(10)
            r.plan.serve = old
            r.plan.redialDelay = .seconds(5)
            if attack {
                run.attackStart = run.sim.now
                run.sim.start(run.adversaries[0].host, script: r)
                run.bench.run(for: .seconds(5))
            }
            var seqs: [(PublicKey, UInt64)] = []
            for (k, i) in movers.enumerated() {
                seqs.append((run.sim.hosts[i].identity.publicKey, run.bench.changeAddress(i, to: IPAddress(ipv4: 62, 0, UInt8(k), 1))))
            }
            let spread = run.bench.run(until: { seqs.allSatisfy { run.bench.everyoneHas($0.0, seq: $0.1, holders: run.honest) } },
                                       limit: .minutes(10), step: .milliseconds(500))
            _ = run.observe(rounds: observeRounds(p, observe))
            var m = run.bench.result.metrics
            m["initial_convergence_seconds"] = initial?.seconds ?? -1
            m["movers"] = Double(movers.count)
            m["replayed_records_sent"] = Double(r.stats.recordsSent)
            m["replayer_handshakes"] = Double(r.stats.handshakes)
            m["holders_of_old_record_at_end"] = Double(run.honest.filter { h in
                run.sim.inspect(h) { node in seqs.contains { (node.entry(for: $0.0)?.record.seq ?? $0.1) < $0.1 } } ?? false
            }.count)
            run.bench.result.metrics = m
            if attack {
                run.bench.result.notes.append("after convergence a member at 66.77.0.1 captures all records, connects to \(r.plan.dial.count) nodes and "
                    + "replays the old records of the \(movers.count) members that then change address (all at once, then one every 10 s; "
                    + "it also serves the old records to every PeerRequest); convergence = every node holds every mover's new seq")
            }
            return (run, spread)
        }
    }
}
