import PexCore
import PexWire

/// An in-memory store that applies a node's `PersistChange`s exactly as the SQLite store does,
/// so a simulated crash and restart "with its store" replays what a real node would load.
public struct SimStore: Sendable {
    public private(set) var state = PersistedState()
    private var peerIndex: [PublicKey: Int] = [:]

    public init() {}

    public mutating func apply(_ change: PersistChange) {
        switch change {
        case let .upsertPeer(peer):
            guard let key = Self.key(of: peer.record) else { return }
            if let i = peerIndex[key] { state.peers[i] = peer } else {
                peerIndex[key] = state.peers.count
                state.peers.append(peer)
            }
        case let .removePeer(key):
            guard let i = peerIndex.removeValue(forKey: key) else { return }
            state.peers.remove(at: i)
            for (k, index) in peerIndex where index > i { peerIndex[k] = index - 1 }
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

    static func key(of signed: SignedPeerRecord) -> PublicKey? {
        guard let record = try? PeerRecord(decoding: signed.record) else { return nil }
        return PublicKey(unvalidated: record.publicKey)
    }
}
