import Foundation
import PexCore
import PexWire

/// Where the driver writes what the core asks to persist, and reads it back at start.
///
/// The SQLite `Store` conforms; `MemoryStore` serves tests and nodes that need no disk.
/// Called only on the loop thread.
public protocol PersistSink: AnyObject {
    /// Applies one loop turn's changes, in order, atomically where the sink can.
    ///
    /// - Parameter changes: The changes, oldest first.
    /// - Throws: Any error of the sink; the driver keeps the batch and retries it next turn.
    func apply(_ changes: [PersistChange]) throws

    /// Everything stored, for `Input.loaded` at start.
    ///
    /// - Returns: The stored state.
    /// - Throws: Any error of the sink; the node then does not start.
    func load() throws -> PersistedState
}

/// A `PersistSink` that keeps the state in memory: for tests, and for nodes that may forget
/// everything at exit. Reading it from another thread is safe.
public final class MemoryStore: PersistSink, @unchecked Sendable {
    private let lock = NSLock()
    private var table: PersistedStateTable
    private var batches = 0
    private var evidence: [PublicKey: [SignedPeerRecord]] = [:]

    /// A store holding `initial`.
    ///
    /// - Parameter initial: What `load()` returns until changes arrive.
    public init(_ initial: PersistedState = PersistedState()) {
        table = PersistedStateTable(initial, keyOf: Self.keyOf)
    }

    /// The current contents.
    public var contents: PersistedState { lock.withLock { table.state } }

    /// Number of `apply` calls so far (one per loop turn with changes).
    public var batchCount: Int { lock.withLock { batches } }

    /// Equivocation evidence stored so far, by key.
    public var equivocations: [PublicKey: [SignedPeerRecord]] { lock.withLock { evidence } }

    /// Applies the changes in order.
    ///
    /// - Parameter changes: The batch.
    public func apply(_ changes: [PersistChange]) {
        lock.withLock {
            batches += 1
            for change in changes { apply(change) }
        }
    }

    /// The contents.
    ///
    /// - Returns: The stored state.
    public func load() -> PersistedState { contents }

    private func apply(_ change: PersistChange) {
        if case let .equivocation(key, records) = change { evidence[key] = records }
        table.apply(change, keyOf: Self.keyOf)
    }

    /// The key a stored record is filed under: the record's own, read without verification
    /// (the core verifies every stored record again at start).
    private static func keyOf(_ signed: SignedPeerRecord) -> PublicKey? {
        (try? PeerRecord(decoding: signed.record)).flatMap { PublicKey(unvalidated: $0.publicKey) }
    }
}
