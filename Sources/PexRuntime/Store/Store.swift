import CSQLite
import PexCore
import PexWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's embedded store: one SQLite file mirroring what `PexCore.Node` asks to persist.
///
/// The runtime opens it at start (`Store.open(path:now:)`, which also recovers from a damaged
/// file), feeds `load()`'s result to the node as `Input.loaded`, and calls `apply(_:)` once per
/// loop turn with that turn's `Output.persist` changes.
///
/// Durability: the file runs in WAL mode with `synchronous=NORMAL`. A commit is appended to the
/// write-ahead log without waiting for `fsync`; the log is synced at checkpoints. The database can
/// never be corrupted this way, and a killed process (`kill -9`, a crash) loses nothing that was
/// committed, because the log is in the OS's page cache. Only a power loss or kernel crash may
/// drop the last few transactions. That is the right trade for this data: it is a cache of
/// gossip that peers hand back at the next sync, and the own-record seq is time-based, so a lost
/// tail costs a little re-sync, never correctness, while saving an `fsync` on every loop turn.
///
/// Not thread-safe: use it from one thread (the runtime's loop thread). `deinit` closes it.
public final class Store {
    /// The schema version this code writes (`PRAGMA user_version`).
    public static var schemaVersion: Int { StoreSchema.latest }

    /// Evidence kept per key: a few conflicting records prove equivocation; more only fill the disk.
    public static let maxEvidencePerKey = 16

    /// How long a write waits for another connection's lock before failing with `SQLITE_BUSY`.
    public static let busyTimeoutMilliseconds: Int32 = 5000

    /// The database file.
    public let path: String

    private let db: SQLiteDatabase

    /// Opens the store at `path`, creating the file if needed, and brings its schema up to date.
    ///
    /// - Parameter path: The database file; its directory must exist.
    /// - Throws: `StoreError.corrupt` when the file is not a healthy pex database (see
    ///   `open(path:now:)` to recover), `.schemaTooNew` for a file from a newer release,
    ///   `.open` when the file cannot be opened or WAL cannot be enabled, or the failing
    ///   statement's error.
    public convenience init(path: String) throws(StoreError) {
        try self.init(path: path, migrations: StoreSchema.migrations)
    }

    /// Opens with an explicit migration list, so tests can exercise later schema steps.
    init(path: String, migrations: [StoreMigration]) throws(StoreError) {
        self.path = path
        try Self.checkHeader(path: path)
        db = try SQLiteDatabase(path: path)
        do {
            try Self.configure(db)
            try Self.quickCheck(db)
            try StoreSchema.migrate(db, migrations: migrations)
            try Self.prepareAll(db)
        } catch {
            db.close()
            throw error
        }
    }

    deinit { db.close() }

    /// Closes the connection (SQLite checkpoints the log into the main file). Later calls throw
    /// `StoreError.closed`. Idempotent.
    public func close() { db.close() }

    // MARK: - Opening with recovery

    /// What `open(path:now:)` found.
    public struct Opened {
        /// The open store.
        public let store: Store
        /// Its contents, for `Input.loaded`.
        public let state: PersistedState
        /// Set when the file at `path` was unusable and has been moved aside: a sentence for the
        /// log that says what happened, where the old file went and what was lost.
        public let notice: String?
        /// Where the unusable file went (`<path>.corrupt-<UTC timestamp>`), when it was moved.
        public let movedTo: String?
    }

    /// Opens and loads the store at `path`; a damaged file is moved aside and replaced by an
    /// empty store instead of stopping the node.
    ///
    /// A file counts as damaged when SQLite says it is not a database or is malformed, when
    /// `PRAGMA quick_check` reports problems, or when its tables do not match its schema version.
    /// The file and its `-wal`, `-shm` and `-journal` companions are renamed to
    /// `<path>.corrupt-<YYYYMMDDTHHMMSSZ>` (plus the same suffixes), so nothing is deleted.
    /// A file from a newer release is not damaged: that error is thrown and the file is left alone.
    ///
    /// - Parameters:
    ///   - path: The database file.
    ///   - now: The instant used for the timestamp in the new name; the wall clock when `nil`.
    /// - Returns: The store, its contents and, after a recovery, the notice to log.
    /// - Throws: Any `StoreError` other than `.corrupt` from opening; `.io` when the damaged file
    ///   cannot be moved; errors from creating the fresh store.
    public static func open(path: String, now: Instant? = nil) throws(StoreError) -> Opened {
        let reason: String
        do {
            let (store, state) = try openAndLoad(path: path)
            return Opened(store: store, state: state, notice: nil, movedTo: nil)
        } catch {
            guard case let .corrupt(_, why) = error else { throw error }
            reason = why
        }
        let destination = try moveAside(path: path, now: now ?? wallClock())
        let (store, state) = try openAndLoad(path: path)
        let notice = "store \(path) was unusable (\(reason)); moved it to \(destination) and started an empty "
            + "store: known peers, bans and sync cursors start over and the node bootstraps again"
        return Opened(store: store, state: state, notice: notice, movedTo: destination)
    }

    private static func openAndLoad(path: String) throws(StoreError) -> (Store, PersistedState) {
        let store = try Store(path: path)
        do {
            return (store, try store.load())
        } catch {
            store.close()
            throw error
        }
    }

    /// Renames `path` and its companions to a free `<path>.corrupt-<stamp>[-n]` name.
    static func moveAside(path: String, now: Instant) throws(StoreError) -> String {
        let stamp = utcStamp(now)
        var destination = "\(path).corrupt-\(stamp)"
        var attempt = 1
        while exists(destination) {
            attempt += 1
            destination = "\(path).corrupt-\(stamp)-\(attempt)"
        }
        // The main file first: once it is gone, a leftover companion can no longer be mistaken
        // for part of the fresh store by a human, and the loop below reports any that stick.
        for suffix in ["", "-wal", "-shm", "-journal"] where suffix.isEmpty || exists(path + suffix) {
            guard rename(path + suffix, destination + suffix) == 0 else {
                let reason = String(cString: strerror(errno))
                throw .io(path: path + suffix, reason: "cannot move damaged store to \(destination + suffix): \(reason)")
            }
        }
        return destination
    }

    private static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    static func utcStamp(_ instant: Instant) -> String {
        var seconds = time_t(truncatingIfNeeded: Int64(clamping: instant.unixSeconds))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z"
    }

    private static func wallClock() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(nanoseconds: UInt64(max(0, spec.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, spec.tv_nsec)))
    }

    // MARK: - Set-up

    /// Refuses a non-empty file that does not start with SQLite's magic string before SQLite
    /// touches it: SQLite would otherwise adopt a `-wal` file lying next to it and delete that
    /// file on close, so the damaged set could not be moved aside as it was found.
    private static func checkHeader(path: String) throws(StoreError) {
        // A missing or empty file is a new store; other open failures are SQLite's to report.
        guard let header = readPrefix(of: path, count: 16), !header.isEmpty else { return }
        guard header == Array("SQLite format 3\0".utf8) else {
            throw .corrupt(path: path, reason: "file is not a database (no SQLite header)")
        }
    }

    private static func configure(_ db: SQLiteDatabase) throws(StoreError) {
        try db.exec("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)", operation: "set busy timeout")
        let mode = try db.query("PRAGMA journal_mode = WAL") { (statement) throws(StoreError) -> String in
            try statement.step("enable WAL") ? statement.text(0) : ""
        }
        guard mode.lowercased() == "wal" else {
            throw .open(path: db.path, code: SQLITE_ERROR, message: "WAL mode refused (journal_mode is '\(mode)')")
        }
        try db.exec("""
            PRAGMA synchronous = NORMAL;
            PRAGMA foreign_keys = ON;
            PRAGMA journal_size_limit = 16777216;
            """, operation: "configure connection")
    }

    /// `quick_check` reads every page and checks the B-trees (not index contents), which is
    /// cheap at this size and catches truncated or overwritten files before they are trusted.
    private static func quickCheck(_ db: SQLiteDatabase) throws(StoreError) {
        let problems = try db.query("PRAGMA quick_check(5)") { (statement) throws(StoreError) -> [String] in
            var rows: [String] = []
            while try statement.step("quick_check") { rows.append(statement.text(0)) }
            return rows
        }
        guard problems == ["ok"] else {
            throw .corrupt(path: db.path, reason: "quick_check: " + problems.joined(separator: "; "))
        }
    }

    /// Compiles every write statement now: a file whose tables do not match its version fails
    /// here, at open, rather than on the first write hours later.
    private static func prepareAll(_ db: SQLiteDatabase) throws(StoreError) {
        for sql in SQL.all {
            do {
                _ = try db.statement(sql)
            } catch {
                guard case let .prepare(_, _, message) = error else { throw error }
                throw .corrupt(path: db.path, reason: "tables do not match schema v\(StoreSchema.latest): \(message)")
            }
        }
    }

    // MARK: - Reading

    /// Reads everything the node needs at start.
    ///
    /// - Returns: Peers (ordered by key), bans, cursors, the own-record seq and the bucketing key.
    /// - Throws: `StoreError.corrupt` for a row that cannot be turned back into its value, or the
    ///   failing statement's error.
    public func load() throws(StoreError) -> PersistedState {
        var state = PersistedState()
        state.peers = try db.query("""
            SELECT record, signature, source_group, added_at, last_seen, last_try, last_success, attempts, tried, protected
            FROM peers ORDER BY key
            """) { (row) throws(StoreError) -> [StoredPeer] in
            var peers: [StoredPeer] = []
            while try row.step("load peers") {
                peers.append(StoredPeer(
                    record: SignedPeerRecord(record: row.bytes(0), signature: row.bytes(1)),
                    sourceGroup: row.bytes(2),
                    addedAt: Instant(nanoseconds: row.uint64(3)),
                    lastSeen: Instant(nanoseconds: row.uint64(4)),
                    lastTry: row.optionalUInt64(5).map(Instant.init(nanoseconds:)),
                    lastSuccess: row.optionalUInt64(6).map(Instant.init(nanoseconds:)),
                    attempts: Int(truncatingIfNeeded: row.int64(7)),
                    tried: row.int64(8) != 0,
                    protected: row.int64(9) != 0))
            }
            return peers
        }
        state.bans = try db.query("SELECT kind, subject, until, reason FROM bans ORDER BY kind, subject") {
            (row) throws(StoreError) -> [BanEntry] in
            var bans: [BanEntry] = []
            while try row.step("load bans") {
                let subject = try banSubject(kind: row.text(0), bytes: row.bytes(1))
                bans.append(BanEntry(subject: subject, until: Instant(nanoseconds: row.uint64(2)), reason: row.text(3)))
            }
            return bans
        }
        state.cursors = try db.query("SELECT key, epoch, position FROM cursors") {
            (row) throws(StoreError) -> [PublicKey: SyncCursor] in
            var cursors: [PublicKey: SyncCursor] = [:]
            while try row.step("load cursors") {
                let key = try storedKey(row.bytes(0), table: "cursors")
                cursors[key] = SyncCursor(epoch: row.uint64(1), position: row.uint64(2))
            }
            return cursors
        }
        try db.query("SELECT own_seq, bucket_key FROM own_state WHERE id = 1") { (row) throws(StoreError) in
            guard try row.step("load own state") else { return }
            state.ownSeq = row.uint64(0)
            state.bucketKey = row.isNull(1) ? nil : row.bytes(1)
        }
        return state
    }

    /// The conflicting records kept as evidence that `key` equivocated, oldest first.
    ///
    /// - Parameter key: The equivocating key.
    /// - Returns: Up to `maxEvidencePerKey` signed records; empty when none are stored.
    /// - Throws: The failing statement's error.
    public func evidence(for key: PublicKey) throws(StoreError) -> [SignedPeerRecord] {
        let row = try db.statement(SQL.selectEvidence)
        row.bind(1, key.bytes)
        var records: [SignedPeerRecord] = []
        while try row.step("read evidence") {
            records.append(SignedPeerRecord(record: row.bytes(0), signature: row.bytes(1)))
        }
        return records
    }

    /// Every stored peer's key and addresses, as `PeersFile.render(_:)` writes them.
    ///
    /// - Returns: One entry per stored record, ordered by key.
    /// - Throws: `StoreError.corrupt` when a stored record no longer decodes, or the failing
    ///   statement's error.
    public func exportPeers() throws(StoreError) -> [PeersFile.Peer] {
        var peers: [PeersFile.Peer] = []
        for stored in try load().peers {
            do {
                peers.append(try PeersFile.Peer(record: stored.record))
            } catch {
                throw .corrupt(path: path, reason: "a stored peer record does not decode: \(error)")
            }
        }
        return peers
    }

    private func banSubject(kind: String, bytes: [UInt8]) throws(StoreError) -> BanSubject {
        switch kind {
        case "key": return .key(try storedKey(bytes, table: "bans"))
        case "address":
            guard let address = IPAddress(bytes: bytes) else {
                throw .corrupt(path: path, reason: "bans: an address of \(bytes.count) bytes")
            }
            return .address(address)
        default: throw .corrupt(path: path, reason: "bans: unknown subject kind '\(kind)'")
        }
    }

    /// Keys were validated before they were stored; the length check guards against a file
    /// edited by hand (the schema's CHECK constraints already refuse other lengths).
    private func storedKey(_ bytes: [UInt8], table: String) throws(StoreError) -> PublicKey {
        guard let key = PublicKey(unvalidated: bytes) else {
            throw .corrupt(path: path, reason: "\(table): a key of \(bytes.count) bytes")
        }
        return key
    }

    // MARK: - Writing

    /// Applies a batch of changes in one transaction: all of them or, on any error, none.
    ///
    /// Later changes win over earlier ones in the same batch, as if applied one by one.
    /// `.ownSeq` only ever raises the stored value; `.equivocation` adds to the evidence kept
    /// for the key (duplicates ignored, at most `maxEvidencePerKey` newest kept).
    ///
    /// - Parameter changes: The changes, in the order the node emitted them. Empty is a no-op.
    /// - Throws: `StoreError.invalidChange` for a change that cannot be stored (an upserted
    ///   record that does not decode, negative attempts), or the failing statement's error;
    ///   the transaction is rolled back either way.
    public func apply(_ changes: [PersistChange]) throws(StoreError) {
        guard !changes.isEmpty else { return }
        try db.statement(SQL.begin).run("begin transaction")
        do {
            for change in changes { try write(change) }
            try db.statement(SQL.commit).run("commit")
        } catch {
            // A failed COMMIT leaves the transaction open; ROLLBACK ends it in every case.
            try? db.statement(SQL.rollback).run("rollback")
            throw error
        }
    }

    private func write(_ change: PersistChange) throws(StoreError) {
        switch change {
        case let .upsertPeer(peer):
            let record: PeerRecord
            do {
                record = try PeerRecord(decoding: peer.record.record)
            } catch {
                throw .invalidChange("upsertPeer: the record does not decode: \(error)")
            }
            guard peer.attempts >= 0 else { throw .invalidChange("upsertPeer: negative attempts \(peer.attempts)") }
            let statement = try db.statement(SQL.upsertPeer)
            statement.bind(1, record.publicKey)
            statement.bind(2, peer.record.record)
            statement.bind(3, peer.record.signature)
            statement.bind(4, peer.sourceGroup)
            statement.bind(5, peer.addedAt.nanoseconds)
            statement.bind(6, peer.lastSeen.nanoseconds)
            statement.bind(7, peer.lastTry?.nanoseconds)
            statement.bind(8, peer.lastSuccess?.nanoseconds)
            statement.bind(9, Int64(peer.attempts))
            statement.bind(10, peer.tried)
            statement.bind(11, peer.protected)
            try statement.run("store peer")
        case let .removePeer(key):
            let statement = try db.statement(SQL.removePeer)
            statement.bind(1, key.bytes)
            try statement.run("remove peer")
        case let .ban(entry):
            let statement = try db.statement(SQL.upsertBan)
            bind(entry.subject, to: statement)
            statement.bind(3, entry.until.nanoseconds)
            statement.bind(4, entry.reason)
            try statement.run("store ban")
        case let .unban(subject):
            let statement = try db.statement(SQL.removeBan)
            bind(subject, to: statement)
            try statement.run("remove ban")
        case let .cursor(key, cursor):
            let statement = try db.statement(SQL.upsertCursor)
            statement.bind(1, key.bytes)
            statement.bind(2, cursor.epoch)
            statement.bind(3, cursor.position)
            try statement.run("store cursor")
        case let .ownSeq(seq):
            let statement = try db.statement(SQL.raiseOwnSeq)
            statement.bind(1, seq)
            try statement.run("store own seq")
        case let .bucketKey(key):
            let statement = try db.statement(SQL.setBucketKey)
            statement.bind(1, key)
            try statement.run("store bucket key")
        case let .equivocation(key, records):
            for record in records {
                let insert = try db.statement(SQL.insertEvidence)
                insert.bind(1, key.bytes)
                insert.bind(2, record.record)
                insert.bind(3, record.signature)
                try insert.run("store evidence")
            }
            let trim = try db.statement(SQL.trimEvidence)
            trim.bind(1, key.bytes)
            trim.bind(2, Int64(Self.maxEvidencePerKey))
            try trim.run("trim evidence")
        }
    }

    private func bind(_ subject: BanSubject, to statement: SQLiteStatement) {
        switch subject {
        case let .key(key):
            statement.bind(1, "key")
            statement.bind(2, key.bytes)
        case let .address(address):
            statement.bind(1, "address")
            statement.bind(2, address.bytes)
        }
    }

    /// Every cached statement's text.
    private enum SQL {
        static let begin = "BEGIN IMMEDIATE"
        static let commit = "COMMIT"
        static let rollback = "ROLLBACK"
        static let upsertPeer = """
            INSERT INTO peers (key, record, signature, source_group, added_at, last_seen, last_try, last_success,
                               attempts, tried, protected)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            ON CONFLICT (key) DO UPDATE SET
                record = excluded.record, signature = excluded.signature, source_group = excluded.source_group,
                added_at = excluded.added_at, last_seen = excluded.last_seen, last_try = excluded.last_try,
                last_success = excluded.last_success, attempts = excluded.attempts, tried = excluded.tried,
                protected = excluded.protected
            """
        static let removePeer = "DELETE FROM peers WHERE key = ?1"
        static let upsertBan = """
            INSERT INTO bans (kind, subject, until, reason) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (kind, subject) DO UPDATE SET until = excluded.until, reason = excluded.reason
            """
        static let removeBan = "DELETE FROM bans WHERE kind = ?1 AND subject = ?2"
        static let upsertCursor = """
            INSERT INTO cursors (key, epoch, position) VALUES (?1, ?2, ?3)
            ON CONFLICT (key) DO UPDATE SET epoch = excluded.epoch, position = excluded.position
            """
        /// Keeps the larger of the stored and new seq, compared as unsigned 64-bit values: both
        /// are stored by bit pattern, so a value of 2^63 or more reads as negative in SQL.
        static let raiseOwnSeq = """
            INSERT INTO own_state (id, own_seq, bucket_key) VALUES (1, ?1, NULL)
            ON CONFLICT (id) DO UPDATE SET own_seq = CASE
                WHEN (own_seq < 0) = (excluded.own_seq < 0) THEN max(own_seq, excluded.own_seq)
                WHEN own_seq < 0 THEN own_seq
                ELSE excluded.own_seq
            END
            """
        static let setBucketKey = """
            INSERT INTO own_state (id, own_seq, bucket_key) VALUES (1, 0, ?1)
            ON CONFLICT (id) DO UPDATE SET bucket_key = excluded.bucket_key
            """
        static let insertEvidence = "INSERT OR IGNORE INTO evidence (key, record, signature) VALUES (?1, ?2, ?3)"
        static let trimEvidence = """
            DELETE FROM evidence WHERE key = ?1
            AND id NOT IN (SELECT id FROM evidence WHERE key = ?1 ORDER BY id DESC LIMIT ?2)
            """
        static let selectEvidence = "SELECT record, signature FROM evidence WHERE key = ?1 ORDER BY id"

        static let all = [begin, commit, rollback, upsertPeer, removePeer, upsertBan, removeBan, upsertCursor,
                          raiseOwnSeq, setBucketKey, insertEvidence, trimEvidence, selectEvidence]
    }
}

/// Up to `count` bytes from the start of the file at `path`, or `nil` when it cannot be opened.
/// (At file scope so that `open`/`close` are the C functions, not `Store`'s members.)
private func readPrefix(of path: String, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
    return Array(bytes.prefix(max(0, got)))
}
