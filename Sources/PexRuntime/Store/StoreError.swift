/// Everything that can go wrong in the embedded store. Each case carries SQLite's own message
/// (from `sqlite3_errmsg`) or the system's, so that a log line says what actually failed.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database file could not be opened or set up (missing directory, permissions, WAL refused).
    case open(path: String, code: Int32, message: String)
    /// A statement did not compile: a schema that does not match the code, or a bug.
    case prepare(sql: String, code: Int32, message: String)
    /// A statement failed while running (constraint, disk full, I/O error, busy after the timeout).
    case step(operation: String, code: Int32, message: String)
    /// The file is not a usable database: not SQLite at all, damaged pages, or rows that break the
    /// schema's rules. `Store.open(path:now:)` moves such a file aside and starts empty.
    case corrupt(path: String, reason: String)
    /// The file was written by a newer version of pex; it is left untouched.
    case schemaTooNew(path: String, found: Int, supported: Int)
    /// A file-system operation around the database (moving a damaged file aside) failed.
    case io(path: String, reason: String)
    /// A change cannot be stored, for example a peer whose record does not decode. The batch it
    /// belongs to is rolled back.
    case invalidChange(String)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case let .open(path, code, message): "cannot open store \(path): \(message) (SQLite code \(code))"
        case let .prepare(sql, code, message): "cannot prepare `\(sql)`: \(message) (SQLite code \(code))"
        case let .step(operation, code, message): "\(operation) failed: \(message) (SQLite code \(code))"
        case let .corrupt(path, reason): "store \(path) is damaged: \(reason)"
        case let .schemaTooNew(path, found, supported):
            "store \(path) has schema version \(found), newer than the \(supported) this version understands"
        case let .io(path, reason): "\(path): \(reason)"
        case let .invalidChange(reason): "change not stored: \(reason)"
        case .closed: "the store is closed"
        }
    }
}
