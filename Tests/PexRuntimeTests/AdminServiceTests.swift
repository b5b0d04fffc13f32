import PexCore
import PexRuntime
import PexWire
import XCTest

final class AdminServiceTests: XCTestCase {
    private func fixture() throws -> (AdminSnapshot, [VerifiedPeerRecord]) {
        let records = try (0..<3).map { try AdminFixtures.record(seq: UInt64($0 + 1), port: 4001 + $0) }
        let entries = [
            AdminSnapshot.Entry(record: records[0], table: .tried, lastSeen: .unix(seconds: 10),
                                lastSuccess: .unix(seconds: 9), attempts: 0),
            AdminSnapshot.Entry(record: records[1], table: .new, lastSeen: nil, lastSuccess: nil, attempts: 3),
            AdminSnapshot.Entry(record: records[2], table: .protected, lastSeen: .unix(seconds: 11), lastSuccess: nil,
                                attempts: Int.max),
        ]
        return (try AdminFixtures.snapshot(entries: entries, ready: [records[0].publicKey]), records)
    }

    func testStatus() throws {
        let (snapshot, _) = try fixture()
        let reply = AdminService.handle(.status, snapshot: snapshot)
        XCTAssertNil(reply.command)
        XCTAssertEqual(reply.response, .status(AdminStatus(
            state: .maintenance, publicKey: snapshot.publicKey, networkID: "fed", readyPeers: 1, knownRecords: 3,
            uptimeSeconds: 125, inbound: 2, outbound: 3, ownSeq: 42, listenAddresses: snapshot.listenAddresses,
            agent: "pex/0.1.0")))
        var other = snapshot
        for (state, expected) in [(NodeState.bootstrapping, AdminNodeState.bootstrapping), (.initialSync, .initialSync),
                                  (.stopped, .stopped)] {
            other.state = state
            guard case let .status(status) = AdminService.handle(.status, snapshot: other).response else {
                return XCTFail()
            }
            XCTAssertEqual(status.state, expected)
        }
    }

    func testPeersListAndFilter() throws {
        let (snapshot, records) = try fixture()
        guard case let .peers(all) = AdminService.handle(.peers(connectedOnly: false), snapshot: snapshot).response else {
            return XCTFail()
        }
        XCTAssertEqual(all, [
            AdminPeer(publicKey: records[0].publicKey, seq: 1, addresses: records[0].addresses,
                      expiresAt: AdminFixtures.now + 3600, connected: true, table: .tried, lastSeen: 10,
                      lastSuccess: 9, attempts: 0),
            AdminPeer(publicKey: records[1].publicKey, seq: 2, addresses: records[1].addresses,
                      expiresAt: AdminFixtures.now + 3600, connected: false, table: .new, lastSeen: 0, lastSuccess: 0,
                      attempts: 3),
            AdminPeer(publicKey: records[2].publicKey, seq: 3, addresses: records[2].addresses,
                      expiresAt: AdminFixtures.now + 3600, connected: false, table: .protected, lastSeen: 11,
                      lastSuccess: 0, attempts: UInt32.max),
        ])
        guard case let .peers(connected) = AdminService.handle(.peers(connectedOnly: true), snapshot: snapshot).response
        else { return XCTFail() }
        XCTAssertEqual(connected.map(\.publicKey), [records[0].publicKey])
    }

    func testExportReturnsTheSignedRecords() throws {
        let (snapshot, records) = try fixture()
        XCTAssertEqual(AdminService.handle(.exportPeers, snapshot: snapshot).response, .exportPeers(records.map(\.signed)))
    }

    func testCommands() throws {
        let (snapshot, records) = try fixture()
        let seed = try Multiaddr("/dns4/seed.example/tcp/4001")
        var reply = AdminService.handle(.addBootstrap(seed), snapshot: snapshot)
        XCTAssertEqual(reply.response, .accepted)
        guard case .addBootstrapPeer(seed) = reply.command else { return XCTFail("\(String(describing: reply.command))") }
        reply = AdminService.handle(.removeBootstrap(seed), snapshot: snapshot)
        guard case .removeBootstrapPeer(seed) = reply.command else { return XCTFail() }
        reply = AdminService.handle(.connect(seed), snapshot: snapshot)
        guard case .connect(seed) = reply.command else { return XCTFail() }
        reply = AdminService.handle(.disconnect(records[1].publicKey), snapshot: snapshot)
        XCTAssertEqual(reply.response, .accepted)
        guard case .disconnect(records[1].publicKey) = reply.command else { return XCTFail() }

        // Refusals carry no command.
        for request in [AdminRequest.addBootstrap(try Multiaddr("/ip4/1.2.3.4")),
                        .connect(try Multiaddr("/ip4/1.2.3.4/udp/1/quic-v1")), .disconnect(snapshot.publicKey)] {
            let refused = AdminService.handle(request, snapshot: snapshot)
            guard case let .error(text) = refused.response else { return XCTFail("\(request)") }
            XCTAssertFalse(text.isEmpty)
            XCTAssertNil(refused.command, "\(request)")
        }
    }

    func testRequestBytes() throws {
        let (snapshot, _) = try fixture()
        XCTAssertEqual(AdminService.handle(requestBytes: AdminRequest.metrics.encoded(), snapshot: snapshot).response,
                       .metrics(PrometheusExporter.render(snapshot)))
        let bad = AdminService.handle(requestBytes: [0xff], snapshot: snapshot)
        XCTAssertEqual(bad.response, .error("bad request: malformed AdminRequest"))
        XCTAssertNil(bad.command)
    }

    // MARK: Prometheus

    func testPrometheusExposition() throws {
        let (base, _) = try fixture()
        var metrics = NodeMetrics()
        metrics.framesIn = ["ping": 5, "hello": 2]
        metrics.framesOut = ["pong": 5]
        metrics.bytesIn = 1000
        metrics.bytesOut = 2000
        metrics.rejections = ["bad-signature": 4, "expired": 1, "odd\"label\\\n": 1]
        metrics.recordsAccepted = 10
        metrics.recordsDuplicate = 3
        metrics.recordsStale = 1
        metrics.recordsNotStored = 6
        metrics.syncRounds = 7
        metrics.syncRecords = 70
        metrics.connectionsOpened = ["outbound": 3, "inbound": 2, "refused": 1]
        metrics.connectionsClosedBy = ["feeler-done": 3, "peer-too-many-connections": 1]
        metrics.handshakesFailed = 1
        metrics.bans = 2
        metrics.stateChanges = 3
        metrics.relays = 9
        metrics.inboundEvictions = 2
        metrics.addressFetchesReleased = 4
        metrics.refreshSyncs = 5
        metrics.refreshDialBacks = 1
        var snapshot = base
        snapshot.metrics = metrics
        let text = PrometheusExporter.render(snapshot)
        let expected = """
            # HELP pex_node_state 1 for the node's current state, 0 for the others.
            # TYPE pex_node_state gauge
            pex_node_state{state="bootstrapping"} 0
            pex_node_state{state="initial-sync"} 0
            pex_node_state{state="maintenance"} 1
            pex_node_state{state="stopped"} 0
            # HELP pex_uptime_seconds Seconds since the node started.
            # TYPE pex_uptime_seconds gauge
            pex_uptime_seconds 125
            # HELP pex_connections Open connections by direction, handshakes included.
            # TYPE pex_connections gauge
            pex_connections{direction="inbound"} 2
            pex_connections{direction="outbound"} 3
            # HELP pex_ready_peers Peers with an authenticated connection.
            # TYPE pex_ready_peers gauge
            pex_ready_peers 1
            # HELP pex_records Records in the address book by table.
            # TYPE pex_records gauge
            pex_records{table="new"} 1
            pex_records{table="protected"} 1
            pex_records{table="tried"} 1
            # HELP pex_own_record_seq Seq of this node's current record.
            # TYPE pex_own_record_seq gauge
            pex_own_record_seq 42
            # HELP pex_messages_total Frames received and sent by type.
            # TYPE pex_messages_total counter
            pex_messages_total{direction="in",type="hello"} 2
            pex_messages_total{direction="in",type="ping"} 5
            pex_messages_total{direction="out",type="pong"} 5
            # HELP pex_bytes_total Bytes received and sent.
            # TYPE pex_bytes_total counter
            pex_bytes_total{direction="in"} 1000
            pex_bytes_total{direction="out"} 2000
            # HELP pex_records_received_total Valid records received, by outcome.
            # TYPE pex_records_received_total counter
            pex_records_received_total{outcome="accepted"} 10
            pex_records_received_total{outcome="duplicate"} 3
            pex_records_received_total{outcome="stale"} 1
            # HELP pex_records_not_stored_total Valid records of new keys the address book had no slot for.
            # TYPE pex_records_not_stored_total counter
            pex_records_not_stored_total 6
            # HELP pex_rejections_total Records and frames rejected, by reason.
            # TYPE pex_rejections_total counter
            pex_rejections_total{reason="bad-signature"} 4
            pex_rejections_total{reason="expired"} 1
            pex_rejections_total{reason="odd\\"label\\\\\\n"} 1
            # HELP pex_connections_opened_total Connections opened or refused, by kind.
            # TYPE pex_connections_opened_total counter
            pex_connections_opened_total{kind="inbound"} 2
            pex_connections_opened_total{kind="outbound"} 3
            pex_connections_opened_total{kind="refused"} 1
            # HELP pex_connections_closed_total Connections closed, by cause.
            # TYPE pex_connections_closed_total counter
            pex_connections_closed_total{cause="feeler-done"} 3
            pex_connections_closed_total{cause="peer-too-many-connections"} 1
            # HELP pex_handshakes_failed_total Handshakes that failed.
            # TYPE pex_handshakes_failed_total counter
            pex_handshakes_failed_total 1
            # HELP pex_bans_total Bans imposed.
            # TYPE pex_bans_total counter
            pex_bans_total 2
            # HELP pex_sync_rounds_total Sync exchanges completed.
            # TYPE pex_sync_rounds_total counter
            pex_sync_rounds_total 7
            # HELP pex_sync_records_total Records received in sync exchanges.
            # TYPE pex_sync_records_total counter
            pex_sync_records_total 70
            # HELP pex_relays_total Records relayed to peers.
            # TYPE pex_relays_total counter
            pex_relays_total 9
            # HELP pex_state_changes_total Changes of the node's overall state.
            # TYPE pex_state_changes_total counter
            pex_state_changes_total 3
            # HELP pex_inbound_evictions_total Inbound peers evicted to admit a new one.
            # TYPE pex_inbound_evictions_total counter
            pex_inbound_evictions_total 2
            # HELP pex_address_fetches_released_total Bootstrap connections closed after their address fetch.
            # TYPE pex_address_fetches_released_total counter
            pex_address_fetches_released_total 4
            # HELP pex_refresh_syncs_total Refresh feelers that synced because the handshake showed the node behind.
            # TYPE pex_refresh_syncs_total counter
            pex_refresh_syncs_total 5
            # HELP pex_refresh_dial_backs_total Refresh feelers dialled back to an inbound peer that showed the node behind.
            # TYPE pex_refresh_dial_backs_total counter
            pex_refresh_dial_backs_total 1

            """
        XCTAssertEqual(text, expected)
        try assertValidExposition(text)
        try assertValidExposition(PrometheusExporter.render(base))
    }

    /// Checks the text format's grammar line by line: HELP then TYPE before each family's
    /// samples, one family block per name, names and labels well formed, values integers.
    private func assertValidExposition(_ text: String) throws {
        XCTAssertTrue(text.hasSuffix("\n"))
        let name = try Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*$"#)
        let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? -?[0-9]+$"#)
        var declared: [String: String] = [:]
        var current: String?
        var seen = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3)
            if line.hasPrefix("# HELP ") {
                let family = String(parts[2])
                XCTAssertNotNil(family.wholeMatch(of: name))
                XCTAssertFalse(seen.contains(family), "family \(family) twice")
                seen.insert(family)
                current = family
            } else if line.hasPrefix("# TYPE ") {
                XCTAssertEqual(String(parts[2]), current)
                XCTAssertTrue(["counter", "gauge"].contains(String(parts[3])))
                declared[String(parts[2])] = String(parts[3])
                if parts[3] == "counter" { XCTAssertTrue(parts[2].hasSuffix("_total"), "\(parts[2])") }
            } else {
                let match = try XCTUnwrap(String(line).wholeMatch(of: sample), "bad sample line: \(line)")
                XCTAssertEqual(match.output[1].substring.map(String.init), current)
                XCTAssertNotNil(declared[current ?? ""])
            }
        }
    }
}

final class AdminSnapshotTests: XCTestCase {
    func testSnapshotOfARunningNode() throws {
        let records = try (0..<3).map { try AdminFixtures.record(seq: UInt64($0 + 1), port: 4001 + $0) }
        var config = NodeConfig(networkID: "fed", advertisedAddresses: [try Multiaddr("/ip4/1.2.3.9/tcp/4001")])
        config.agent = "custody/1"
        let identity = KeyPair.generate()
        let now = Instant.unix(seconds: AdminFixtures.now)
        var node = Node(config: config, identity: identity, crypto: SodiumCrypto(), random: SystemRandomNumberGenerator(),
                        now: now)
        var state = PersistedState()
        state.ownSeq = 5
        state.peers = records.enumerated().map { index, record in
            StoredPeer(record: record.signed, sourceGroup: [], addedAt: now, lastSeen: .unix(seconds: 100 + UInt64(index)),
                       lastTry: nil, lastSuccess: index == 1 ? .unix(seconds: 99) : nil, attempts: index,
                       tried: index == 1, protected: index == 2)
        }
        node.handle(.loaded(state), now: now)
        let listen = [try Multiaddr("/ip4/127.0.0.1/tcp/4001")]
        let snapshot = AdminSnapshot(node: node, listenAddresses: listen, startedAt: now - .seconds(30), now: now)
        XCTAssertEqual(snapshot.state, node.state)
        XCTAssertEqual(snapshot.publicKey, identity.publicKey)
        XCTAssertEqual(snapshot.networkID, "fed")
        XCTAssertEqual(snapshot.agent, "custody/1")
        XCTAssertEqual(snapshot.ownSeq, node.ownSeq)
        XCTAssertGreaterThan(snapshot.ownSeq, 5)
        XCTAssertEqual(snapshot.listenAddresses, listen)
        XCTAssertEqual(snapshot.readyPeers, [])
        XCTAssertEqual(snapshot.inbound, 0)
        XCTAssertEqual(snapshot.outbound, node.connectionCount(.outbound))
        let byKey = Dictionary(uniqueKeysWithValues: snapshot.peers.map { ($0.record.publicKey, $0) })
        XCTAssertEqual(byKey.count, 3)
        XCTAssertEqual(byKey[records[0].publicKey]?.table, .new)
        XCTAssertEqual(byKey[records[1].publicKey]?.table, .tried)
        XCTAssertEqual(byKey[records[2].publicKey]?.table, .protected)
        XCTAssertEqual(byKey[records[1].publicKey]?.lastSuccess, .unix(seconds: 99))
        XCTAssertEqual(byKey[records[1].publicKey]?.attempts, 1)
        XCTAssertEqual(snapshot.recordsByTable, [.new: 1, .tried: 1, .protected: 1])
        guard case let .status(status) = AdminService.handle(.status, snapshot: snapshot).response else {
            return XCTFail()
        }
        XCTAssertEqual(status.uptimeSeconds, 30)
        XCTAssertEqual(status.knownRecords, 3)
    }
}
