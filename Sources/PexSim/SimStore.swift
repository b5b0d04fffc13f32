import PexCore
import PexWire

/// An in-memory store that applies a node's `PersistChange`s exactly as the SQLite store does,
/// so a simulated crash and restart "with its store" replays what a real node would load.
public struct SimStore: Sendable {
    private var table = PersistedStateTable(keyOf: SimStore.key(of:))

    /// What the node would load.
    public var state: PersistedState { table.state }

    public init() {}

    /// Applies one change; `parser` finds a record's key without decoding it again.
    public mutating func apply(_ change: PersistChange, parser: MemoizingRecordParser? = nil) {
        table.apply(change) { Self.key(of: $0, parser: parser) }
    }

    static func key(of signed: SignedPeerRecord, parser: MemoizingRecordParser?) -> PublicKey? {
        parser?.remembered(signed).flatMap { PublicKey(unvalidated: $0.publicKeyBytes) } ?? key(of: signed)
    }

    static func key(of signed: SignedPeerRecord) -> PublicKey? {
        guard let record = try? PeerRecord(decoding: signed.record) else { return nil }
        return PublicKey(unvalidated: record.publicKey)
    }
}
