import PexCore
import PexWire

/// An in-memory store that applies a node's `PersistChange`s exactly as the SQLite store does,
/// so a simulated crash and restart "with its store" replays what a real node would load.
public struct SimStore: Sendable {
    public private(set) var state = PersistedState()
    private var peerIndex: [PublicKey: Int] = [:]

    public init() {}

    public mutating func apply(_ change: PersistChange, parser: MemoizingRecordParser? = nil) {
        switch change {
        case let .upsertPeer(peer):
            guard let key = Self.key(of: peer.record, parser: parser) else { return }
            if let i = peerIndex[key] { state.peers[i] = peer } else {
                peerIndex[key] = state.peers.count
                state.peers.append(peer)
            }
        case let .removePeer(key):
            guard let i = peerIndex.removeValue(forKey: key) else { return }
            // Row order carries no meaning (loading sorts by key): the last row fills the gap.
            let last = state.peers.count - 1
            if i != last {
                state.peers.swapAt(i, last)
                if let moved = Self.key(of: state.peers[i].record, parser: parser) { peerIndex[moved] = i }
            }
            state.peers.removeLast()
        case let .ban(entry):
            state.bans.removeAll { $0.subject == entry.subject }
            state.bans.append(entry)
        case let .unban(subject):
            state.bans.removeAll { $0.subject == subject }
        case let .cursor(key, cursor):
            state.cursors[key] = cursor
        case let .ownSeq(seq):
            state.ownSeq = max(state.ownSeq, seq)
        case let .bucketKey(key):
            state.bucketKey = key
        case .equivocation:
            break
        }
    }

    static func key(of signed: SignedPeerRecord, parser: MemoizingRecordParser?) -> PublicKey? {
        parser?.remembered(signed).flatMap { PublicKey(unvalidated: $0.publicKeyBytes) } ?? key(of: signed)
    }

    static func key(of signed: SignedPeerRecord) -> PublicKey? {
        guard let record = try? PeerRecord(decoding: signed.record) else { return nil }
        return PublicKey(unvalidated: record.publicKey)
    }
}
