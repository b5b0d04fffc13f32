@testable import PexCore
import PexWire
import XCTest

/// Inbound eviction (which peer makes room when every inbound slot is taken) and bootstrap
/// connections as address fetches (one at a time, released once the book is filled).
final class InboundEvictionTests: XCTestCase {
    static let t0 = Instant.unix(seconds: 1_800_000_000)

    /// Candidate `i`, connected `i` seconds after t0, in network group `group`.
    func candidate(_ i: Int, group: UInt8 = 0, rtt: UInt64? = nil, useful: UInt64? = nil) -> EvictionCandidate {
        EvictionCandidate(
            id: ConnectionID(raw: UInt64(i + 1)), netGroup: [1, group, 0], keyedGroup: [group],
            connectedAt: Self.t0 + .seconds(UInt64(i)), minRoundTrip: rtt.map { .milliseconds($0) },
            lastUsefulAt: useful.map { Self.t0 + .seconds($0) })
    }

    func id(_ i: Int) -> ConnectionID { ConnectionID(raw: UInt64(i + 1)) }

    func testNothingToEvictWhenEveryoneIsProtected() {
        XCTAssertNil(InboundEviction.select([], slots: 32))
        // Four peers in four groups: each is the protected representative of its group.
        XCTAssertNil(InboundEviction.select((0..<4).map { candidate($0, group: UInt8($0)) }, slots: 32))
        // One group (lab mode): one protected by group, then the older half of the rest.
        XCTAssertNil(InboundEviction.select([candidate(0)], slots: 32))
        XCTAssertEqual(InboundEviction.select([candidate(0), candidate(1)], slots: 32), id(1))
        XCTAssertEqual(InboundEviction.select([candidate(0), candidate(1), candidate(2)], slots: 32), id(2))
    }

    func testOneGroupEvictsTheYoungestAfterProtections() {
        // Lab mode: every peer in one group, nothing measured. The oldest is protected for its
        // group, the older half of the rest by age; the youngest connection goes.
        let all = (0..<32).map { candidate($0) }
        XCTAssertEqual(InboundEviction.select(all, slots: 32), id(31))
        // Deterministic: input order does not matter.
        var r = SeededRandom(seed: 3)
        for _ in 0..<5 { XCTAssertEqual(InboundEviction.select(all.shuffled(using: &r), slots: 32), id(31)) }
    }

    func testFastAndUsefulPeersAreProtected() {
        // The three youngest are the fastest and the most recently useful ones: protected.
        var all = (0..<20).map { candidate($0, rtt: 100) }
        for i in 17..<20 { all[i].minRoundTrip = .milliseconds(5) }
        all[16].lastUsefulAt = Self.t0 + .seconds(100)
        // Latency protects 8: 17, 18, 19, then the five oldest of equal latency after the group
        // representative (1…5); usefulness protects 16; half of 6…15 by age (6…10).
        XCTAssertEqual(InboundEviction.select(all, slots: 32), id(15))
        // Without the measurements the youngest goes.
        XCTAssertEqual(InboundEviction.select((0..<20).map { candidate($0) }, slots: 32), id(19))
    }

    func testLargestGroupLosesItsYoungest() {
        // 12 peers in their own groups (the oldest), then 8 from group 200, then 4 singletons
        // that are younger than all of them.
        var all = (0..<12).map { candidate($0, group: UInt8($0 + 1)) }
        all += (12..<20).map { candidate($0, group: 200) }
        all += (20..<24).map { candidate($0, group: UInt8($0 + 1)) }
        // Protected: 4 groups by keyed hash (groups 1…4, i.e. peers 0…3); nobody by latency or
        // usefulness (unmeasured); the older half of the 20 left by age (4…13). Left: 14…19 of
        // group 200 and the four young singletons: group 200 is the largest, 19 its youngest.
        XCTAssertEqual(InboundEviction.select(all, slots: 32), id(19))
    }

    func testProtectionsScaleWithTheSlots() {
        XCTAssertTrue(InboundEviction.protections(slots: 32) == (4, 8, 4))
        XCTAssertTrue(InboundEviction.protections(slots: 8) == (1, 2, 1))
        XCTAssertTrue(InboundEviction.protections(slots: 2) == (1, 1, 1))
        // Eight slots, eight peers in eight groups, equally fast: fixed counts (4 groups, 8
        // fastest) would protect them all. Here: one group, two fastest, half of the other five
        // by age; of the three left, each alone in its group, the youngest goes.
        let all = (0..<8).map { candidate($0, group: UInt8($0 + 1), rtt: 20) }
        XCTAssertEqual(InboundEviction.select(all, slots: 8), id(7))
    }

    func testGroupsAreProtectedByTheirKeyedHash() {
        // Five groups of one peer each, four group slots: the group whose keyed hash ranks
        // last is not protected, whatever its raw bytes or age.
        func five(unluckyIndex: Int) -> [EvictionCandidate] {
            (0..<5).map { i in
                var c = candidate(i, group: UInt8(i + 1))
                c.keyedGroup = i == unluckyIndex ? [0xff] : [UInt8(i)]
                return c
            }
        }
        XCTAssertEqual(InboundEviction.select(five(unluckyIndex: 4), slots: 32), id(4))
        XCTAssertEqual(InboundEviction.select(five(unluckyIndex: 0), slots: 32), id(0), "the oldest, when its group ranks last")
    }
}

final class ConnectionSlotsScenarioTests: XCTestCase {
    /// A node whose inbound slots (16) are filled by peers of one /16, one every 100 ms.
    func fullNode(maxInbound: Int = 16, stored: PersistedState = PersistedState()) -> (NodeHarness, [RawPeer]) {
        let h = NodeHarness(config: NodeHarness.config { $0.maxInbound = maxInbound }, crypto: InsecureFakeCrypto(), stored: stored)
        var peers: [RawPeer] = []
        for i in 0..<maxInbound {
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(100 + i), ip: "12.0.\(i).1")
            peer.handshake()
            peer.service()
            peers.append(peer)
            h.advance(by: .milliseconds(100))
        }
        return (h, peers)
    }

    func testNewcomerEvictsTheYoungestUnprotectedPeer() {
        let (h, peers) = fullNode()
        XCTAssertEqual(h.node.connectionCount(.inbound), 16)
        let newcomer = RawPeer.connect(to: h, identity: RawPeer.key(200), ip: "12.0.99.1")
        // Accepted (someone can be evicted), but nobody is evicted before the newcomer's Auth.
        XCTAssertEqual(newcomer.received.map(\.kind), ["hello"])
        XCTAssertTrue(peers.allSatisfy { !$0.closedByNode })
        newcomer.handshake()
        // 16 slots protect 2 groups, 4 fastest, 2 useful. One group here: 0 protected for it,
        // 1…4 by latency (all equal), 5…9 by age; 15 is the youngest of the rest.
        XCTAssertTrue(peers[15].closedByNode)
        peers[15].pump()
        XCTAssertEqual(peers[15].errors.map(\.code), [.tooManyConnections])
        XCTAssertTrue(peers.prefix(15).allSatisfy { !$0.closedByNode })
        XCTAssertTrue(h.node.readyPeers.contains(newcomer.publicKey))
        XCTAssertFalse(h.node.readyPeers.contains(peers[15].publicKey))
        XCTAssertEqual(h.node.connectionCount(.inbound), 16)
        XCTAssertEqual(h.node.metrics.inboundEvictions, 1)
        XCTAssertEqual(h.node.checkInvariants(), [])
    }

    func testRecentlyUsefulPeerIsKept() {
        let (h, peers) = fullNode()
        // The youngest peer tells the node something new: it is protected (0 for its group,
        // 1…4 fastest, 15 useful, 5…9 by age), the next youngest goes.
        let other = RawPeer.key(300)
        let record = RawPeer.record(other, seq: h.now.unixSeconds, addresses: ["/ip4/30.0.0.1/tcp/4001"],
                                    expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        peers[15].send(.peerAnnouncement(PeerAnnouncement(records: [record])))
        XCTAssertNotNil(h.node.entry(for: other.publicKey))
        let newcomer = RawPeer.connect(to: h, identity: RawPeer.key(200), ip: "12.0.99.1")
        newcomer.handshake()
        XCTAssertFalse(peers[15].closedByNode)
        XCTAssertTrue(peers[14].closedByNode)
        XCTAssertEqual(h.node.metrics.inboundEvictions, 1)
    }

    func testFastPeerIsKept() {
        let h = NodeHarness(config: NodeHarness.config { $0.maxInbound = 16 }, crypto: InsecureFakeCrypto())
        var peers: [RawPeer] = []
        for i in 0..<16 {
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(100 + i), ip: "12.0.\(i).1")
            // Every peer takes 50 ms to answer our Hello but the youngest, which answers at once.
            if i < 15 { h.advance(by: .milliseconds(50)) }
            peer.handshake()
            peers.append(peer)
            h.advance(by: .milliseconds(100))
        }
        let newcomer = RawPeer.connect(to: h, identity: RawPeer.key(200), ip: "12.0.99.1")
        newcomer.handshake()
        XCTAssertFalse(peers[15].closedByNode, "the fastest peer is protected")
        XCTAssertTrue(peers[14].closedByNode)
    }

    /// A peer from `ip` that has told the node one new record (so it counts as useful).
    func usefulPeer(_ h: NodeHarness, _ n: Int, ip: String) -> RawPeer {
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(100 + n), ip: ip)
        peer.handshake()
        let news = RawPeer.record(RawPeer.key(400 + n), seq: h.now.unixSeconds, addresses: ["/ip4/\(50 + n).0.0.1/tcp/4001"],
                                  expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        peer.send(.peerAnnouncement(PeerAnnouncement(records: [news])))
        return peer
    }

    func testFullOfProtectedPeersRefusesAtAccept() {
        // Three slots protect one group, one fastest and one useful peer: three useful peers
        // of three groups are all protected.
        let h = NodeHarness(config: NodeHarness.config { $0.maxInbound = 3 }, crypto: InsecureFakeCrypto())
        let peers = (0..<3).map { usefulPeer(h, $0, ip: "\(12 + $0).0.0.1") }
        let newcomer = RawPeer.connect(to: h, identity: RawPeer.key(200), ip: "40.0.0.1")
        XCTAssertEqual(newcomer.received.map(\.kind), ["error"], "refused instead of the Hello")
        XCTAssertEqual(newcomer.errors.first?.code, .tooManyConnections)
        XCTAssertEqual(newcomer.errors.first?.message, "inbound connections full")
        XCTAssertTrue(peers.allSatisfy { !$0.closedByNode })
        XCTAssertEqual(h.node.metrics.inboundEvictions, 0)
    }

    func testNewcomerRefusedAtAuthWhenNobodyCanMakeRoom() {
        // Three slots, two taken: two newcomers are accepted (a slot is free). The first to
        // authenticate takes the slot and proves useful; for the second, every peer is now
        // protected, so the second is refused, and nobody is evicted.
        let h = NodeHarness(config: NodeHarness.config { $0.maxInbound = 3 }, crypto: InsecureFakeCrypto())
        let peers = (0..<2).map { usefulPeer(h, $0, ip: "\(12 + $0).0.0.1") }
        let first = RawPeer.connect(to: h, identity: RawPeer.key(102), ip: "40.0.0.1")
        let second = RawPeer.connect(to: h, identity: RawPeer.key(201), ip: "41.0.0.1")
        XCTAssertEqual(second.received.map(\.kind), ["hello"])
        first.handshake()
        let news = RawPeer.record(RawPeer.key(499), seq: h.now.unixSeconds, addresses: ["/ip4/59.0.0.1/tcp/4001"],
                                  expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
        first.send(.peerAnnouncement(PeerAnnouncement(records: [news])))
        second.sendHello()
        second.sendAuth()
        XCTAssertTrue(second.closedByNode)
        XCTAssertEqual(second.errors.map(\.code), [.tooManyConnections])
        XCTAssertFalse(h.node.readyPeers.contains(second.publicKey))
        XCTAssertTrue((peers + [first]).allSatisfy { !$0.closedByNode })
        XCTAssertEqual(h.node.metrics.inboundEvictions, 0)
        XCTAssertEqual(h.node.connectionCount(.inbound), 3)
    }

    func testBannedKeyNeverEvicts() {
        var stored = PersistedState()
        let banned = RawPeer.key(200)
        stored.bans = [BanEntry(subject: .key(banned.publicKey), until: NodeHarness.start + .hours(1), reason: "test")]
        let (h, peers) = fullNode(stored: stored)
        let newcomer = RawPeer.connect(to: h, identity: banned, ip: "12.0.99.1")
        newcomer.sendHello()
        XCTAssertEqual(newcomer.errors.map(\.code), [.banned])
        XCTAssertTrue(peers.allSatisfy { !$0.closedByNode })
        XCTAssertEqual(h.node.metrics.inboundEvictions, 0)
        XCTAssertEqual(h.node.connectionCount(.inbound), 16)
    }
}

/// Bootstrap connections are address fetches: one at a time in random order, released once
/// the exchange filled the book and another connection is ready, kept when the outbound
/// selection picks their peer.
final class AddressFetchTests: XCTestCase {
    let addresses = (0..<3).map { try! Multiaddr("/ip4/\(20 + $0).0.0.1/tcp/4001") }

    func testBootstrapPeersAreDialledOneAtATimeInRandomOrder() {
        var firsts: Set<Multiaddr> = []
        for seed in UInt64(1)...8 {
            let h = NodeHarness(config: NodeHarness.config { $0.bootstrapPeers = self.addresses }, crypto: InsecureFakeCrypto(), seed: seed)
            // Unanswered dials: nothing else is dialled while one is in progress.
            h.advance(by: .seconds(5))
            XCTAssertEqual(h.dials.count, 1, "seed \(seed)")
            guard let (_, id, first) = h.dials.first else { continue }
            firsts.insert(first)
            // It fails: the next one follows, still one at a time.
            h.handle(.dialFailed(id, reason: "refused"))
            h.advance(by: .seconds(1))
            XCTAssertEqual(h.dials.count, 2, "seed \(seed)")
            XCTAssertEqual(h.node.connectionCount(.outbound), 1)
        }
        XCTAssertGreaterThan(firsts.count, 1, "the order is random, not the configured one")
    }

    /// Host `n`'s record: key `60 + n`, one address in its own /16.
    func record(_ n: Int, _ h: NodeHarness) -> SignedPeerRecord {
        RawPeer.record(RawPeer.key(60 + n), seq: h.now.unixSeconds, addresses: ["/ip4/\(30 + n).0.0.1/tcp/4001"],
                       expiresAt: h.now.unixSeconds + 86_400, crypto: h.crypto)
    }

    /// A node that reached its only bootstrap peer and sent it its PeerRequest.
    func fetching(seed: UInt64 = 7) -> (NodeHarness, RawPeer, ConnectionID, PeerRequest) {
        let h = NodeHarness(config: NodeHarness.config { $0.bootstrapPeers = [self.addresses[0]] }, crypto: InsecureFakeCrypto(), seed: seed)
        h.advance(by: .seconds(1))
        let id = h.dials[0].1
        let boot = RawPeer.answer(dial: id, of: h, identity: RawPeer.key(50), ip: "20.0.0.1")
        boot.handshake()
        let request = boot.received.compactMap { if case let .peerRequest(r) = $0 { r } else { nil } }.first!
        return (h, boot, id, request)
    }

    func testFetchIsReleasedOnceTheBookIsFilledAndAnotherPeerIsReady() {
        // The selection draws 7 of 11 candidates and may pick the bootstrap peer itself (then
        // its connection is kept, see the next test): take the first seed where it does not.
        var promoted = 0
        for seed in UInt64(1)...20 {
            let (h, boot, id, request) = fetching(seed: seed)
            boot.send(.peerResponse(PeerResponse(requestID: request.requestID, records: (0..<10).map { record($0, h) },
                                                 next: nil, more: false, full: true)))
            h.advance(by: .seconds(1))
            if h.node.connections[id]?.purpose == .regular {
                promoted += 1
                continue
            }
            XCTAssertGreaterThan(promoted, 0, "some seeds pick the bootstrap peer among 11 candidates")
            return checkRelease(h, boot, id)
        }
        XCTFail("every seed picked the bootstrap peer")
    }

    func checkRelease(_ h: NodeHarness, _ boot: RawPeer, _ id: ConnectionID) {
        // The book is full enough; regular dials go out, but the fetch stays while it is the
        // only ready connection.
        let regular = h.dials.dropFirst()
        XCTAssertEqual(regular.count, 7, "the fetch counts toward the target of 8")
        XCTAssertFalse(boot.closedByNode)
        // One regular peer answers: the fetch is released, silently, at the next maintenance.
        let (_, dialID, address) = regular.first!
        let n = Int(address.ipAddress!.description.split(separator: ".")[0])! - 30
        let peer = RawPeer.answer(dial: dialID, of: h, identity: RawPeer.key(60 + n), ip: "\(30 + n).0.0.1")
        peer.handshake()
        h.servicedPeers = [peer]
        h.advance(by: .seconds(1))
        XCTAssertTrue(boot.closedByNode)
        boot.pump()
        XCTAssertEqual(boot.errors, [], "no Error: nothing went wrong")
        XCTAssertEqual(h.node.metrics.addressFetchesReleased, 1)
        XCTAssertTrue(h.events.contains(.disconnected(id, boot.publicKey, reason: "address fetch done")))
        // Its slot at the bootstrap peer is free, ours is refilled from the book (where the
        // bootstrap peer is a candidate like any other), and no new address fetch starts
        // while a peer is ready.
        h.advance(by: .seconds(10))
        XCTAssertFalse(h.node.connections.values.contains { if case .bootstrap = $0.purpose { true } else { false } })
        XCTAssertEqual(h.node.state, .maintenance)
        XCTAssertEqual(h.node.checkInvariants(), [])
    }

    func testFetchIsKeptWhileTheBookIsShort() {
        let (h, boot, _, request) = fetching()
        // Five records: fewer than targetOutbound candidates.
        boot.send(.peerResponse(PeerResponse(requestID: request.requestID, records: (0..<5).map { record($0, h) },
                                             next: nil, more: false, full: true)))
        h.advance(by: .seconds(1))
        let regular = h.dials.dropFirst().filter { $0.2 != addresses[0] }
        for (_, dialID, address) in regular {
            let n = Int(address.ipAddress!.description.split(separator: ".")[0])! - 30
            let peer = RawPeer.answer(dial: dialID, of: h, identity: RawPeer.key(60 + n), ip: "\(30 + n).0.0.1")
            peer.handshake()
            h.servicedPeers.append(peer)
        }
        h.advance(by: .seconds(5))
        XCTAssertFalse(boot.closedByNode)
        XCTAssertEqual(h.node.metrics.addressFetchesReleased, 0)
    }

    func testFetchPickedByTheOutboundSelectionIsKept() {
        let (h, boot, id, request) = fetching()
        // Nothing new: the bootstrap peer is the only candidate, so the selection picks it and
        // its connection becomes a regular one instead of a second dial.
        boot.send(.peerResponse(PeerResponse(requestID: request.requestID, records: [], next: nil, more: false, full: true)))
        h.servicedPeers = [boot]
        h.advance(by: .seconds(1))
        XCTAssertEqual(h.node.connections[id]?.purpose, .regular)
        XCTAssertEqual(h.dials.count, 1)
        // Later the book fills and another peer is ready: the promoted connection stays.
        boot.send(.peerAnnouncement(PeerAnnouncement(records: (0..<10).map { record($0, h) })))
        h.advance(by: .seconds(1))
        guard let (_, dialID, address) = h.dials.dropFirst().first else { return XCTFail("no regular dial") }
        let n = Int(address.ipAddress!.description.split(separator: ".")[0])! - 30
        let peer = RawPeer.answer(dial: dialID, of: h, identity: RawPeer.key(60 + n), ip: "\(30 + n).0.0.1")
        peer.handshake()
        h.servicedPeers.append(peer)
        h.advance(by: .seconds(3))
        XCTAssertFalse(boot.closedByNode)
        XCTAssertEqual(h.node.metrics.addressFetchesReleased, 0)
    }
}
