/// One step of the store's schema history: the SQL that takes a database from `version - 1`
/// to `version`.
struct StoreMigration: Sendable {
    let version: Int
    let summary: String
    let sql: String
}

/// The schema and how to reach it. The version lives in `PRAGMA user_version` (0 for a new or
/// unversioned file); each migration runs in its own transaction together with the version bump,
/// so a crash mid-migration leaves the previous version intact.
enum StoreSchema {
    /// Every migration, in order. Append only: a released migration is never edited, since
    /// existing files already went through it.
    static let migrations: [StoreMigration] = [v1]

    /// The version this code reads and writes.
    static var latest: Int { migrations.last?.version ?? 0 }

    /// v1: the first schema. Instants are Unix nanoseconds and seqs/epochs/positions are
    /// unsigned 64-bit values stored by bit pattern in SQLite's signed INTEGER. `WITHOUT ROWID`
    /// keeps key-addressed rows in a single B-tree.
    static let v1 = StoreMigration(version: 1, summary: "initial schema", sql: """
        CREATE TABLE peers (
            key          BLOB PRIMARY KEY CHECK (length(key) = 32),
            record       BLOB NOT NULL,
            signature    BLOB NOT NULL,
            source_group BLOB NOT NULL,
            added_at     INTEGER NOT NULL,
            last_seen    INTEGER NOT NULL,
            last_try     INTEGER,
            last_success INTEGER,
            attempts     INTEGER NOT NULL CHECK (attempts >= 0),
            tried        INTEGER NOT NULL CHECK (tried IN (0, 1)),
            protected    INTEGER NOT NULL CHECK (protected IN (0, 1))
        ) WITHOUT ROWID;
        CREATE TABLE bans (
            kind    TEXT NOT NULL,
            subject BLOB NOT NULL,
            until   INTEGER NOT NULL,
            reason  TEXT NOT NULL,
            PRIMARY KEY (kind, subject),
            CHECK ((kind = 'key' AND length(subject) = 32) OR (kind = 'address' AND length(subject) = 16))
        ) WITHOUT ROWID;
        CREATE TABLE cursors (
            key      BLOB PRIMARY KEY CHECK (length(key) = 32),
            epoch    INTEGER NOT NULL,
            position INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE own_state (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            own_seq    INTEGER NOT NULL,
            bucket_key BLOB
        );
        INSERT INTO own_state (id, own_seq, bucket_key) VALUES (1, 0, NULL);
        CREATE TABLE evidence (
            id        INTEGER PRIMARY KEY,
            key       BLOB NOT NULL CHECK (length(key) = 32),
            record    BLOB NOT NULL,
            signature BLOB NOT NULL,
            UNIQUE (key, record, signature)
        );
        """)

    /// Reads the file's version and runs every later migration in order.
    ///
    /// - Returns: The version the file had before.
    /// - Throws: `StoreError.schemaTooNew` for a file from a newer release (left untouched), or
    ///   the failing migration's error (its transaction rolled back).
    @discardableResult
    static func migrate(_ db: SQLiteDatabase, migrations: [StoreMigration]) throws(StoreError) -> Int {
        // The list is code, not input: a gap or reordering is a programming error.
        for (index, migration) in migrations.enumerated() {
            precondition(migration.version == index + 1, "migrations must be numbered 1, 2, 3…")
        }
        let latest = migrations.last?.version ?? 0
        let found = try userVersion(db)
        guard found >= 0 else {
            throw .corrupt(path: db.path, reason: "negative schema version \(found)")
        }
        guard found <= latest else {
            throw .schemaTooNew(path: db.path, found: found, supported: latest)
        }
        for migration in migrations where migration.version > found {
            try db.exec("BEGIN IMMEDIATE", operation: "begin migration to v\(migration.version)")
            do {
                try db.exec(migration.sql, operation: "migration to v\(migration.version) (\(migration.summary))")
                try db.exec("PRAGMA user_version = \(migration.version)", operation: "set schema version")
                try db.exec("COMMIT", operation: "commit migration to v\(migration.version)")
            } catch {
                try? db.exec("ROLLBACK", operation: "roll back migration")
                throw error
            }
        }
        return found
    }

    static func userVersion(_ db: SQLiteDatabase) throws(StoreError) -> Int {
        try db.query("PRAGMA user_version") { (statement) throws(StoreError) -> Int in
            guard try statement.step("read schema version") else { return 0 }
            return Int(truncatingIfNeeded: statement.int64(0))
        }
    }
}
