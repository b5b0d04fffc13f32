import Foundation
import PexCore
import PexWire
import XCTest

@testable import PexRuntime

final class StoreTests: XCTestCase {
    // MARK: - Opening

    func testFreshStoreIsEmptyVersionedAndInWALMode() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        XCTAssertEqual(try store.load(), PersistedState())
        store.close()

        let raw = try SQLiteDatabase(path: scratch.path())
        XCTAssertEqual(try raw.integer("PRAGMA user_version"), Int64(Store.schemaVersion))
        XCTAssertEqual(Store.schemaVersion, 1)
        // WAL is a persistent property of the file.
        XCTAssertEqual(try raw.texts("PRAGMA journal_mode"), ["wal"])
        XCTAssertEqual(try raw.texts("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"),
                       ["bans", "cursors", "evidence", "own_state", "peers"])
    }

    func testUnopenablePathIsAnOpenErrorAndNothingIsMoved() throws {
        let scratch = try StoreScratch()
        let path = scratch.path("missing-directory/pex.db")
        XCTAssertStoreError(try Store(path: path)) { if case .open = $0 { true } else { false } }
        XCTAssertStoreError(try Store.open(path: path)) { if case .open = $0 { true } else { false } }
        XCTAssertEqual(try scratch.files(), [])
    }

    func testClosedStoreRefusesWork() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        store.close()
        store.close()
        XCTAssertStoreError(try store.load()) { $0 == .closed }
        XCTAssertStoreError(try store.apply([.ownSeq(1)])) { $0 == .closed }
    }

    // MARK: - Round trips

    func testEveryChangeKindRoundTrips() throws {
        let scratch = try StoreScratch()
        let alice = KeyPair.generate(), bob = KeyPair.generate(), carol = KeyPair.generate()
        let alicePeer = StoreFixtures.peer(try StoreFixtures.signed(alice), index: 0, optionals: true)
        var bobPeer = StoreFixtures.peer(try StoreFixtures.signed(bob), index: 1, optionals: false)
        bobPeer.sourceGroup = []
        let keyBan = BanEntry(subject: .key(carol.publicKey), until: Instant(nanoseconds: .max), reason: "invalid-signature")
        let v4Ban = BanEntry(subject: .address(IPAddress(ipv4: 198, 51, 100, 7)), until: .unix(seconds: 1_800_000_000),
                             reason: "manual: \"quoted\" \u{0} nul")
        let v6Ban = BanEntry(subject: .address(IPAddress("2001:db8::42")!), until: .unix(seconds: 1_800_000_001), reason: "")
        let evidence = [try StoreFixtures.signed(carol, seq: 5, port: 1), try StoreFixtures.signed(carol, seq: 5, port: 2)]

        var store: Store? = try Store(path: scratch.path())
        try store?.apply([
            .upsertPeer(alicePeer), .upsertPeer(bobPeer),
            .ban(keyBan), .ban(v4Ban), .ban(v6Ban),
            .cursor(alice.publicKey, SyncCursor(epoch: .max, position: 1 << 63)),
            .cursor(bob.publicKey, SyncCursor(epoch: 3, position: 0)),
            .ownSeq(1_700_000_000), .bucketKey(Array(0..<32)),
            .equivocation(carol.publicKey, evidence),
        ])
        store = nil  // deinit closes

        var expected = PersistedState()
        expected.peers = sortedByKey([alicePeer, bobPeer])
        expected.bans = [keyBan, v4Ban, v6Ban]
        expected.cursors = [alice.publicKey: SyncCursor(epoch: .max, position: 1 << 63),
                            bob.publicKey: SyncCursor(epoch: 3, position: 0)]
        expected.ownSeq = 1_700_000_000
        expected.bucketKey = Array(0..<32)

        let reopened = try Store(path: scratch.path())
        var loaded = try reopened.load()
        loaded.bans.sort { $0.subject < $1.subject }
        XCTAssertEqual(loaded, expected)
        XCTAssertEqual(try reopened.evidence(for: carol.publicKey), evidence)
        XCTAssertEqual(try reopened.evidence(for: alice.publicKey), [])

        // Second batch: updates, removals, overwrites.
        var aliceUpdated = StoreFixtures.peer(try StoreFixtures.signed(alice, seq: 2), index: 4, optionals: false)
        aliceUpdated.attempts = 0
        try reopened.apply([
            .upsertPeer(aliceUpdated), .removePeer(bob.publicKey), .removePeer(carol.publicKey),
            .unban(.key(carol.publicKey)), .unban(.address(IPAddress(ipv4: 198, 51, 100, 7))),
            .ban(BanEntry(subject: v6Ban.subject, until: .unix(seconds: 1_900_000_000), reason: "extended")),
            .cursor(bob.publicKey, SyncCursor(epoch: 4, position: 9)),
            .bucketKey([]),
            .equivocation(carol.publicKey, [evidence[1], evidence[0]]),
        ])
        reopened.close()

        let third = try Store(path: scratch.path())
        let after = try third.load()
        XCTAssertEqual(after.peers, [aliceUpdated])
        XCTAssertEqual(after.bans, [BanEntry(subject: v6Ban.subject, until: .unix(seconds: 1_900_000_000), reason: "extended")])
        XCTAssertEqual(after.cursors[bob.publicKey], SyncCursor(epoch: 4, position: 9))
        XCTAssertEqual(after.cursors.count, 2)
        XCTAssertEqual(after.bucketKey, [], "an empty key is stored as empty, not as absent")
        XCTAssertEqual(after.ownSeq, 1_700_000_000)
        XCTAssertEqual(try third.evidence(for: carol.publicKey), evidence, "duplicate evidence is not stored twice")
    }

    func testLaterChangesInOneBatchWin() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        let (key, record) = StoreFixtures.unsignedRecord(index: 1)
        let (_, newer) = StoreFixtures.unsignedRecord(index: 1, seq: 2)
        let (otherKey, other) = StoreFixtures.unsignedRecord(index: 2)
        let subject = BanSubject.key(key)
        try store.apply([
            .upsertPeer(StoreFixtures.peer(record)), .upsertPeer(StoreFixtures.peer(newer)),
            .upsertPeer(StoreFixtures.peer(other)), .removePeer(otherKey),
            .ban(BanEntry(subject: subject, until: .unix(seconds: 5), reason: "a")), .unban(subject),
            .bucketKey([1]), .bucketKey([2]),
        ])
        let state = try store.load()
        XCTAssertEqual(state.peers.map(\.record), [newer])
        XCTAssertEqual(state.bans, [])
        XCTAssertEqual(state.bucketKey, [2])
    }

    func testEvidenceIsBoundedPerKeyKeepingTheNewest() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        let (key, _) = StoreFixtures.unsignedRecord(index: 9)
        let records = (0..<(Store.maxEvidencePerKey + 5)).map { i in
            SignedPeerRecord(record: [UInt8(i)], signature: [UInt8](repeating: UInt8(i), count: 64))
        }
        for pair in stride(from: 0, to: records.count, by: 2) {
            try store.apply([.equivocation(key, Array(records[pair..<min(pair + 2, records.count)]))])
        }
        XCTAssertEqual(try store.evidence(for: key), Array(records.suffix(Store.maxEvidencePerKey)))
    }

    func testExportListsStoredKeysAndAddresses() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        let pairs = (0..<3).map { _ in KeyPair.generate() }
        try store.apply(pairs.enumerated().map { i, pair in .upsertPeer(StoreFixtures.peer(try! StoreFixtures.signed(pair, seq: UInt64(i + 1)))) })
        let exported = try store.exportPeers()
        let expected = try pairs.enumerated().map { i, pair in
            PeersFile.Peer(publicKey: pair.publicKey, addresses: [
                try Multiaddr("/ip4/192.0.2.\(i + 2)/tcp/4001"), try Multiaddr("/ip6/2001:db8::1/tcp/4001"),
            ])
        }
        XCTAssertEqual(Set(exported), Set(expected))
        XCTAssertEqual(exported.map(\.publicKey.bytes), exported.map(\.publicKey.bytes).sorted { $0.lexicographicallyPrecedes($1) })
        XCTAssertEqual(try PeersFile.parse(PeersFile.render(exported)), exported)
    }

    // MARK: - Batches

    func testFailingBatchLeavesNothingApplied() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        let (key, record) = StoreFixtures.unsignedRecord(index: 1)
        try store.apply([.upsertPeer(StoreFixtures.peer(record)), .ownSeq(10)])
        let before = try store.load()

        let (key2, record2) = StoreFixtures.unsignedRecord(index: 2)
        var garbage = StoreFixtures.peer(record2)
        garbage.record.record = [0xff, 0xff, 0xff]
        XCTAssertStoreError(try store.apply([
            .removePeer(key), .upsertPeer(StoreFixtures.peer(record2)), .ownSeq(99), .bucketKey([1, 2]),
            .cursor(key2, SyncCursor(epoch: 1, position: 1)), .upsertPeer(garbage),
        ])) { if case .invalidChange(let reason) = $0 { reason.contains("does not decode") } else { false } }
        XCTAssertEqual(try store.load(), before)

        var negative = StoreFixtures.peer(record2)
        negative.attempts = -1
        XCTAssertStoreError(try store.apply([.ownSeq(50), .upsertPeer(negative)])) {
            if case .invalidChange(let reason) = $0 { reason.contains("negative attempts") } else { false }
        }
        XCTAssertEqual(try store.load(), before)

        // The connection is usable again after a rollback.
        try store.apply([.ownSeq(11)])
        XCTAssertEqual(try store.load().ownSeq, 11)
    }

    func testEmptyBatchIsANoOp() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        try store.apply([])
        XCTAssertEqual(try store.load(), PersistedState())
    }

    func testOwnSeqOnlyIncreases() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        func apply(_ seqs: UInt64...) throws -> UInt64 {
            try store.apply(seqs.map { .ownSeq($0) })
            return try store.load().ownSeq
        }
        XCTAssertEqual(try apply(10), 10)
        XCTAssertEqual(try apply(5), 10)
        XCTAssertEqual(try apply(20), 20)
        XCTAssertEqual(try apply(30, 25), 30)
        // Values beyond Int64.max are stored by bit pattern and still compared as unsigned.
        let huge = UInt64(1) << 63 + 5
        XCTAssertEqual(try apply(huge), huge)
        XCTAssertEqual(try apply(7), huge)
        XCTAssertEqual(try apply(huge - 1), huge)
        XCTAssertEqual(try apply(.max), .max)
        XCTAssertEqual(try apply(0), .max)
    }

    func testTenThousandPeersInOneBatch() throws {
        let scratch = try StoreScratch()
        let store = try Store(path: scratch.path())
        let peers = (0..<10_000).map { StoreFixtures.peer(StoreFixtures.unsignedRecord(index: $0).1, index: $0) }
        let start = Date()
        try store.apply(peers.map { .upsertPeer($0) })
        let written = Date()
        let loaded = try store.load()
        print("10000 peers: apply \(written.timeIntervalSince(start))s, load \(Date().timeIntervalSince(written))s")
        XCTAssertEqual(loaded.peers, sortedByKey(peers))

        // Update every one of them, then remove every other one.
        var updated = peers
        for i in updated.indices { updated[i].attempts += 1 }
        try store.apply(updated.map { .upsertPeer($0) })
        try store.apply(stride(from: 0, to: 10_000, by: 2).map { .removePeer(StoreFixtures.unsignedRecord(index: $0).0) })
        let remaining = try store.load().peers
        XCTAssertEqual(remaining, sortedByKey(stride(from: 1, to: 10_000, by: 2).map { updated[$0] }))
    }

    // MARK: - Crash safety

    /// A child process writes batches and is killed with SIGKILL (no close, no checkpoint): every
    /// committed batch is found, from the write-ahead log, by the next open.
    func testCommittedBatchesSurviveKill9() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        let pid = fork()
        if pid == 0 {
            // Child: only plain store work, then die without any clean-up.
            guard let store = try? Store(path: path) else { _exit(3) }
            for batch in 0..<20 {
                let changes: [PersistChange] = (0..<50).map { i in
                    .upsertPeer(StoreFixtures.peer(StoreFixtures.unsignedRecord(index: batch * 50 + i).1, index: i))
                } + [.ownSeq(UInt64(batch + 1))]
                guard (try? store.apply(changes)) != nil else { _exit(4) }
            }
            kill(getpid(), SIGKILL)
            _exit(5)
        }
        XCTAssertGreaterThan(pid, 0)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(60)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return XCTFail("child did not finish")
            }
            usleep(10_000)
        }
        // WIFSIGNALED / WTERMSIG are macros: the low 7 bits hold the terminating signal.
        XCTAssertEqual(status & 0x7f, SIGKILL, "child exit status \(status)")
        let walSize = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        XCTAssertGreaterThan(walSize, 0, "the data is still in the log, not checkpointed")

        let state = try Store(path: path).load()
        XCTAssertEqual(state.peers.count, 1000)
        XCTAssertEqual(state.ownSeq, 20)
    }

    // MARK: - Migrations

    func testLegacyUnversionedFileIsMigrated() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        do {
            let legacy = try SQLiteDatabase(path: path)
            try legacy.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept')", operation: "legacy")
            XCTAssertEqual(try legacy.integer("PRAGMA user_version"), 0)
        }
        let store = try Store(path: path)
        try store.apply([.ownSeq(3)])
        store.close()

        let raw = try SQLiteDatabase(path: path)
        XCTAssertEqual(try raw.integer("PRAGMA user_version"), 1)
        XCTAssertEqual(try raw.texts("SELECT text FROM notes"), ["kept"])
        XCTAssertEqual(try raw.integer("SELECT own_seq FROM own_state"), 3)
    }

    func testLaterMigrationRunsInOrderAndKeepsData() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        let (_, record) = StoreFixtures.unsignedRecord(index: 1)
        let peer = StoreFixtures.peer(record)
        try Store(path: path).apply([.upsertPeer(peer), .ownSeq(8)])

        let v2 = StoreMigration(version: 2, summary: "test column", sql: """
            ALTER TABLE peers ADD COLUMN note TEXT NOT NULL DEFAULT 'none';
            CREATE TABLE extra (x INTEGER);
            """)
        let v3 = StoreMigration(version: 3, summary: "uses v2", sql: "INSERT INTO extra SELECT count(*) FROM peers WHERE note = 'none'")
        let store = try Store(path: path, migrations: StoreSchema.migrations + [v2, v3])
        XCTAssertEqual(try store.load().peers, [peer])
        XCTAssertEqual(try store.load().ownSeq, 8)
        store.close()

        let raw = try SQLiteDatabase(path: path)
        XCTAssertEqual(try raw.integer("PRAGMA user_version"), 3)
        XCTAssertEqual(try raw.integer("SELECT x FROM extra"), 1)
    }

    func testFailingMigrationRollsBackToThePreviousVersion() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        try Store(path: path).apply([.ownSeq(4)])
        let broken = StoreMigration(version: 2, summary: "broken", sql: "CREATE TABLE half (x); CREATE TABLE peers (x)")
        XCTAssertStoreError(try Store(path: path, migrations: StoreSchema.migrations + [broken])) {
            if case .step(let operation, _, let message) = $0 {
                operation.contains("migration to v2") && message.contains("already exists")
            } else { false }
        }
        let raw = try SQLiteDatabase(path: path)
        XCTAssertEqual(try raw.integer("PRAGMA user_version"), 1)
        XCTAssertEqual(try raw.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'half'"), 0)
        raw.close()
        XCTAssertEqual(try Store(path: path).load().ownSeq, 4)
    }

    func testNewerSchemaIsRefusedAndLeftAlone() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        try Store(path: path).apply([.ownSeq(4)])
        try SQLiteDatabase(path: path).exec("PRAGMA user_version = 7", operation: "bump")

        let tooNew = StoreError.schemaTooNew(path: path, found: 7, supported: 1)
        XCTAssertStoreError(try Store(path: path)) { $0 == tooNew }
        XCTAssertStoreError(try Store.open(path: path)) { $0 == tooNew }
        XCTAssertFalse(try scratch.files().contains { $0.contains("corrupt") })
        XCTAssertEqual(try SQLiteDatabase(path: path).integer("SELECT own_seq FROM own_state"), 4)
    }

    // MARK: - Damaged files

    private let fixedNow = Instant.unix(seconds: 1_704_164_645)  // 2024-01-02 03:04:05 UTC

    func testUTCStamp() {
        XCTAssertEqual(Store.utcStamp(fixedNow), "20240102T030405Z")
        XCTAssertEqual(Store.utcStamp(Instant(nanoseconds: 0)), "19700101T000000Z")
    }

    func testGarbageFileIsMovedAsideAndAFreshStoreStarts() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))

        XCTAssertStoreError(try Store(path: path)) { if case .corrupt(path, _) = $0 { true } else { false } }

        let opened = try Store.open(path: path, now: fixedNow)
        let destination = path + ".corrupt-20240102T030405Z"
        XCTAssertEqual(opened.movedTo, destination)
        XCTAssertEqual(opened.state, PersistedState())
        let notice = try XCTUnwrap(opened.notice)
        XCTAssertTrue(notice.contains(path) && notice.contains(destination), notice)
        XCTAssertTrue(notice.contains("not a database"), notice)
        XCTAssertTrue(notice.contains("bootstraps again"), notice)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), garbage, "the damaged file is kept as it was")

        try opened.store.apply([.ownSeq(2)])
        XCTAssertEqual(try opened.store.load().ownSeq, 2)
    }

    func testTruncatedDatabaseIsMovedAside() throws {
        for keep in [0.5, 0.02] {
            let scratch = try StoreScratch()
            let path = scratch.path()
            let store = try Store(path: path)
            try store.apply((0..<3000).map { .upsertPeer(StoreFixtures.peer(StoreFixtures.unsignedRecord(index: $0).1, index: $0)) })
            store.close()  // checkpoints: everything is in the main file now
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))

            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            let size = try handle.seekToEnd()
            try handle.truncate(atOffset: UInt64(Double(size) * keep))
            try handle.close()

            let opened = try Store.open(path: path, now: fixedNow)
            XCTAssertNotNil(opened.notice, "kept \(keep)")
            XCTAssertEqual(opened.movedTo, path + ".corrupt-20240102T030405Z")
            XCTAssertEqual(opened.state.peers, [])
        }
    }

    func testCompanionFilesMoveTooAndNamesNeverClash() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        try Data("not sqlite at all, just text".utf8).write(to: URL(fileURLWithPath: path))
        try Data("wal".utf8).write(to: URL(fileURLWithPath: path + "-wal"))
        try Data("shm".utf8).write(to: URL(fileURLWithPath: path + "-shm"))
        try Data("taken".utf8).write(to: URL(fileURLWithPath: path + ".corrupt-20240102T030405Z"))

        let opened = try Store.open(path: path, now: fixedNow)
        let destination = path + ".corrupt-20240102T030405Z-2"
        XCTAssertEqual(opened.movedTo, destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination + "-wal")), Data("wal".utf8))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination + "-shm")), Data("shm".utf8))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path + ".corrupt-20240102T030405Z")), Data("taken".utf8))
        XCTAssertEqual(try opened.store.load(), PersistedState())
    }

    func testTablesNotMatchingTheVersionCountAsDamage() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        try SQLiteDatabase(path: path).exec("CREATE TABLE peers (x); PRAGMA user_version = 1", operation: "fake v1")
        XCTAssertStoreError(try Store(path: path)) {
            if case .corrupt(_, let reason) = $0 { reason.contains("do not match schema v1") } else { false }
        }
        let opened = try Store.open(path: path, now: fixedNow)
        XCTAssertNotNil(opened.movedTo)
        XCTAssertEqual(try opened.store.load(), PersistedState())
    }

    func testNegativeSchemaVersionCountsAsDamage() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        try SQLiteDatabase(path: path).exec("PRAGMA user_version = -3", operation: "negative")
        XCTAssertStoreError(try Store(path: path)) {
            if case .corrupt(_, let reason) = $0 { reason.contains("negative schema version") } else { false }
        }
    }

    /// Rows that break the CHECK constraints (a file edited by hand) fail `quick_check` at open.
    func testRowsBreakingConstraintsCountAsDamage() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        try Store(path: path).apply([.ownSeq(1)])
        try SQLiteDatabase(path: path).exec("PRAGMA ignore_check_constraints = ON; INSERT INTO cursors VALUES (x'01', 1, 1)",
                                            operation: "tamper")
        XCTAssertStoreError(try Store(path: path)) {
            if case .corrupt(_, let reason) = $0 { reason.contains("quick_check") && reason.contains("CHECK") } else { false }
        }
        let opened = try Store.open(path: path, now: fixedNow)
        XCTAssertNotNil(opened.movedTo)
        XCTAssertEqual(opened.state, PersistedState())
    }

    /// A file made by something else, with the right tables but no constraints: rows that cannot
    /// be turned back into values are reported by `load`, and `open` treats them as damage rather
    /// than dropping them one by one.
    func testRowsThatCannotBeReadBackCountAsDamage() throws {
        let schema = """
            CREATE TABLE peers (key, record, signature, source_group, added_at, last_seen, last_try, last_success,
                                attempts, tried, protected, PRIMARY KEY (key));
            CREATE TABLE bans (kind, subject, until, reason, PRIMARY KEY (kind, subject));
            CREATE TABLE cursors (key PRIMARY KEY, epoch, position);
            CREATE TABLE own_state (id INTEGER PRIMARY KEY, own_seq, bucket_key);
            CREATE TABLE evidence (id INTEGER PRIMARY KEY, key, record, signature, UNIQUE (key, record, signature));
            PRAGMA user_version = 1;
            """
        let cases = [
            "INSERT INTO bans VALUES ('bogus', x'00', 1, 'r')",
            "INSERT INTO bans VALUES ('key', x'0102', 1, 'r')",
            "INSERT INTO bans VALUES ('address', x'0102', 1, 'r')",
            "INSERT INTO cursors VALUES (x'0102', 1, 1)",
        ]
        for sql in cases {
            let scratch = try StoreScratch()
            let path = scratch.path()
            try SQLiteDatabase(path: path).exec(schema + sql, operation: "hand-made file")

            let store = try Store(path: path)
            XCTAssertStoreError(try store.load()) { if case .corrupt = $0 { true } else { false } }
            store.close()
            let opened = try Store.open(path: path, now: fixedNow)
            XCTAssertNotNil(opened.movedTo, sql)
            XCTAssertEqual(opened.state, PersistedState(), sql)
        }
    }

    func testExportReportsARecordThatNoLongerDecodes() throws {
        let scratch = try StoreScratch()
        let path = scratch.path()
        let (_, record) = StoreFixtures.unsignedRecord(index: 1)
        try Store(path: path).apply([.upsertPeer(StoreFixtures.peer(record))])
        try SQLiteDatabase(path: path).exec("UPDATE peers SET record = x'ffff'", operation: "tamper")
        XCTAssertStoreError(try Store(path: path).exportPeers()) {
            if case .corrupt(_, let reason) = $0 { reason.contains("does not decode") } else { false }
        }
    }

    func testMovingAsideAMissingFileIsAnIOError() {
        XCTAssertStoreError(try Store.moveAside(path: "/nonexistent-dir/pex.db", now: fixedNow)) {
            if case .io(let path, let reason) = $0 { path == "/nonexistent-dir/pex.db" && reason.contains("No such file") } else { false }
        }
    }

    func testStatementErrorsCarrySQLiteMessages() throws {
        let scratch = try StoreScratch()
        let db = try SQLiteDatabase(path: scratch.path())
        XCTAssertStoreError(try db.prepare("SELEC 1")) {
            if case .prepare(let sql, _, let message) = $0 { sql == "SELEC 1" && message.contains("syntax error") } else { false }
        }
        try db.exec("CREATE TABLE t (x INTEGER NOT NULL)", operation: "create")
        let insert = try db.statement("INSERT INTO t VALUES (?1)")
        XCTAssertStoreError(try insert.run("insert null")) {
            if case .step("insert null", _, let message) = $0 { message.contains("NOT NULL") } else { false }
        }
        XCTAssertStoreError(try db.exec("INSERT INTO nowhere VALUES (1)", operation: "bad exec")) {
            if case .step("bad exec", _, let message) = $0 { message.contains("no such table") } else { false }
        }
        db.close()
        XCTAssertEqual(db.lastMessage, "closed")
        XCTAssertStoreError(try db.exec("SELECT 1", operation: "after close")) { $0 == .closed }
        XCTAssertStoreError(try db.prepare("SELECT 1")) { $0 == .closed }
    }

    func testErrorDescriptionsNameTheirDetails() {
        let cases: [(StoreError, [String])] = [
            (.open(path: "/p", code: 14, message: "unable"), ["/p", "unable", "14"]),
            (.prepare(sql: "SELECT", code: 1, message: "syntax"), ["SELECT", "syntax"]),
            (.step(operation: "store peer", code: 13, message: "full"), ["store peer", "full", "13"]),
            (.corrupt(path: "/p", reason: "malformed"), ["/p", "malformed"]),
            (.schemaTooNew(path: "/p", found: 9, supported: 1), ["/p", "9", "1"]),
            (.io(path: "/p", reason: "denied"), ["/p", "denied"]),
            (.invalidChange("bad record"), ["bad record"]),
            (.closed, ["closed"]),
        ]
        for (error, parts) in cases {
            for part in parts { XCTAssertTrue(error.description.contains(part), "\(error.description) lacks \(part)") }
        }
    }
}

// MARK: - Support

func sortedByKey(_ peers: [StoredPeer]) -> [StoredPeer] {
    func key(_ peer: StoredPeer) -> [UInt8] { (try? PeerRecord(decoding: peer.record.record))?.publicKey ?? [] }
    return peers.sorted { key($0).lexicographicallyPrecedes(key($1)) }
}

/// A fresh directory per test, removed afterwards.
final class StoreScratch {
    let directory: String

    init(_ name: String = #function) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pex-store-tests")
        let url = base.appendingPathComponent("\(name.filter(\.isLetter))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String = "pex.db") -> String { directory + "/" + name }

    func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory).sorted() }
}

enum StoreFixtures {
    static let network = "pex-test"

    /// A signed record under a real key, as the node would persist it.
    static func signed(_ keyPair: KeyPair, seq: UInt64 = 1, port: Int = 4001) throws -> SignedPeerRecord {
        try SignedPeerRecord.create(
            keyPair: keyPair, seq: seq,
            addresses: [try Multiaddr("/ip4/192.0.2.\(seq % 250 + 1)/tcp/\(port)"), try Multiaddr("/ip6/2001:db8::1/tcp/\(port)")],
            networkID: network, expiresAt: 2_000_000_000)
    }

    /// A record for a made-up key: the store never verifies signatures, so large tests skip signing.
    static func unsignedRecord(index: Int, seq: UInt64 = 1) -> (PublicKey, SignedPeerRecord) {
        var key = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: UInt64(index).bigEndian) { key.replaceSubrange(24..<32, with: $0) }
        key[0] = 0x5a
        let record = PeerRecord(publicKey: key, seq: seq, addresses: [[4, 192, 0, 2, 1, 6, 0x0f, 0xa1]],
                                networkID: network, expiresAt: 2_000_000_000)
        return (PublicKey(unvalidated: key)!, SignedPeerRecord(record: record.encoded(), signature: [UInt8](repeating: 7, count: 64)))
    }

    static func peer(_ record: SignedPeerRecord, index: Int = 0, optionals: Bool = true) -> StoredPeer {
        StoredPeer(
            record: record, sourceGroup: [4, 192, 0, UInt8(index & 0xff)],
            addedAt: Instant(nanoseconds: 1_700_000_000_000_000_000 + UInt64(index)),
            lastSeen: Instant(nanoseconds: 1_700_000_100_000_000_123),
            lastTry: optionals ? Instant(nanoseconds: 1_700_000_050_000_000_000) : nil,
            lastSuccess: optionals ? Instant(nanoseconds: 1_700_000_060_000_000_000) : nil,
            attempts: index % 7, tried: index % 2 == 0, protected: index % 3 == 0)
    }
}

extension SQLiteDatabase {
    /// The single integer a query returns, for inspecting files in tests.
    func integer(_ sql: String) throws -> Int64 {
        try query(sql) { (row) throws(StoreError) -> Int64 in
            guard try row.step(sql) else { return -1 }
            return row.int64(0)
        }
    }

    func texts(_ sql: String) throws -> [String] {
        try query(sql) { (row) throws(StoreError) -> [String] in
            var out: [String] = []
            while try row.step(sql) { out.append(row.text(0)) }
            return out
        }
    }
}

/// Asserts that `body` throws a `StoreError` matching `check`.
func XCTAssertStoreError<T>(_ body: @autoclosure () throws(StoreError) -> T, file: StaticString = #filePath, line: UInt = #line,
                            _ check: (StoreError) -> Bool) {
    do {
        _ = try body()
        XCTFail("expected a StoreError", file: file, line: line)
    } catch {
        XCTAssertTrue(check(error), "unexpected error: \(error)", file: file, line: line)
    }
}
