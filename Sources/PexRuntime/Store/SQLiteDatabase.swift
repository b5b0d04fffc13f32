import CSQLite

/// `SQLITE_TRANSIENT` (a cast of -1 in the C header, so not imported): SQLite copies bound bytes
/// before `sqlite3_bind_*` returns, which lets Swift release its temporary buffers.
private let sqliteTransient = unsafeBitCast(-1 as Int, to: sqlite3_destructor_type.self)

/// A thin owner of one `sqlite3*` connection and its prepared statements.
///
/// Not thread-safe: the runtime uses the store from its single loop thread (the connection is
/// opened with `SQLITE_OPEN_NOMUTEX`).
final class SQLiteDatabase {
    let path: String
    private var handle: OpaquePointer?
    /// Compiled once and reused: the runtime writes every loop turn, and re-parsing the same SQL
    /// each time would cost more than the writes themselves for small batches.
    private var cache: [String: SQLiteStatement] = [:]

    /// Opens (creating if needed) the file at `path`.
    init(path: String) throws(StoreError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw Self.classify(path: path, code: rc, message: message) { .open(path: path, code: $0, message: $1) }
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    var isOpen: Bool { handle != nil }

    /// Finalises every cached statement, then closes the connection. Idempotent.
    func close() {
        for statement in cache.values { statement.finalize() }
        cache.removeAll()
        guard let db = handle else { return }
        handle = nil
        // close_v2 never fails for "busy": it defers until the last statement is finalised, and
        // every statement was finalised above.
        sqlite3_close_v2(db)
    }

    /// The last error's message on this connection.
    var lastMessage: String {
        guard let handle else { return "closed" }
        return String(cString: sqlite3_errmsg(handle))
    }

    /// Runs one or more statements that return no rows needed by the caller.
    func exec(_ sql: String, operation: String) throws(StoreError) {
        guard let handle else { throw .closed }
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        let message = errorMessage.map { String(cString: $0) } ?? lastMessage
        sqlite3_free(errorMessage)
        guard rc == SQLITE_OK else {
            throw Self.classify(path: path, code: rc, message: message) { .step(operation: operation, code: $0, message: $1) }
        }
    }

    /// The cached statement for `sql`, reset and with its bindings cleared.
    func statement(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let cached = cache[sql] {
            cached.reset()
            return cached
        }
        let statement = try prepare(sql, persistent: true)
        cache[sql] = statement
        return statement
    }

    /// Compiles `sql`; the caller owns the result unless it came through `statement(_:)`.
    func prepare(_ sql: String, persistent: Bool = false) throws(StoreError) -> SQLiteStatement {
        guard let handle else { throw .closed }
        var raw: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sqlite3_prepare_v3(handle, sql, -1, flags, &raw, nil)
        guard rc == SQLITE_OK, let raw else {
            sqlite3_finalize(raw)
            throw Self.classify(path: path, code: rc, message: lastMessage) { .prepare(sql: sql, code: $0, message: $1) }
        }
        return SQLiteStatement(raw: raw, database: self)
    }

    /// Runs `body` with rows of a one-off query, then finalises it.
    func query<T>(_ sql: String, _ body: (SQLiteStatement) throws(StoreError) -> T) throws(StoreError) -> T {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        return try body(statement)
    }

    /// Maps SQLite's "this is not a (healthy) database" codes to `.corrupt`, which is what
    /// `Store.open` recovers from; everything else becomes the caller's case.
    static func classify(path: String, code: Int32, message: String,
                         otherwise: (Int32, String) -> StoreError) -> StoreError {
        switch code & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB: .corrupt(path: path, reason: message)
        default: otherwise(code, message)
        }
    }
}

/// One prepared statement. Columns and parameters are 0- and 1-based as in the C API.
struct SQLiteStatement {
    let raw: OpaquePointer
    unowned let database: SQLiteDatabase

    func finalize() { sqlite3_finalize(raw) }

    /// Makes the statement runnable again and drops its bindings.
    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(raw, index, value)
    }

    /// Binds a `UInt64` by its bit pattern: SQLite integers are signed, and a value above
    /// `Int64.max` (a saturated `Instant`, say) must round-trip exactly.
    func bind(_ index: Int32, _ value: UInt64) {
        sqlite3_bind_int64(raw, index, Int64(bitPattern: value))
    }

    func bind(_ index: Int32, _ value: UInt64?) {
        if let value { bind(index, value) } else { sqlite3_bind_null(raw, index) }
    }

    func bind(_ index: Int32, _ value: Bool) {
        sqlite3_bind_int64(raw, index, value ? 1 : 0)
    }

    /// Binds bytes as a BLOB. An empty array is bound as a zero-length blob, not NULL (an empty
    /// buffer has no base address, which SQLite would read as NULL).
    func bind(_ index: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress, raw.count > 0 {
                sqlite3_bind_blob64(self.raw, index, base, sqlite3_uint64(raw.count), sqliteTransient)
            } else {
                sqlite3_bind_zeroblob(self.raw, index, 0)
            }
        }
    }

    /// Binds text with its explicit UTF-8 length, so that a NUL inside the string is kept.
    func bind(_ index: Int32, _ text: String) {
        let length = sqlite3_uint64(text.utf8.count)
        text.withCString { chars in
            _ = sqlite3_bind_text64(raw, index, chars, length, sqliteTransient, UInt8(SQLITE_UTF8))
        }
    }

    /// Steps once: `true` when a row is available, `false` when done.
    func step(_ operation: String) throws(StoreError) -> Bool {
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let message = database.lastMessage
            sqlite3_reset(raw)
            throw SQLiteDatabase.classify(path: database.path, code: rc, message: message) {
                .step(operation: operation, code: $0, message: $1)
            }
        }
    }

    /// Runs a statement that returns no rows.
    func run(_ operation: String) throws(StoreError) {
        while try step(operation) {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func uint64(_ column: Int32) -> UInt64 { UInt64(bitPattern: sqlite3_column_int64(raw, column)) }

    func optionalUInt64(_ column: Int32) -> UInt64? { isNull(column) ? nil : uint64(column) }

    func bytes(_ column: Int32) -> [UInt8] {
        // Ask for the pointer first: column_bytes after column_blob reports the size of that
        // representation (the documented safe order).
        guard let pointer = sqlite3_column_blob(raw, column) else { return [] }
        let count = Int(sqlite3_column_bytes(raw, column))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(raw, column) else { return "" }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The type SQLite holds in `column` (`SQLITE_INTEGER`, `SQLITE_BLOB`…), for row validation.
    func type(_ column: Int32) -> Int32 { sqlite3_column_type(raw, column) }
}
