import PexWire

/// The records one peer is known to hold, as the highest `seq` seen per key (Bitcoin Core's
/// per-peer `m_addr_known`).
///
/// A peer holds a record when it sent it to us (its `Hello`, a response, an announcement or an
/// update) or when we sent it on this connection. A node skips such records when it answers
/// the peer's `PeerRequest` and when it picks relay targets: without this, every record a node
/// learned by relay came back once from each of its peers in their next delta answer, because
/// a responder's change log cannot tell which of its changes the requester got elsewhere
/// (docs/PROTOCOL.md §17.2, §18.2).
///
/// Bounded: when `capacity` keys are held, the key noted longest ago is forgotten first. A
/// forgotten key only costs one redundant record. Keys are held by their first 8 bytes (every
/// connection of every node has one of these tables): two keys sharing them would make a
/// record look known when it is not, and finding such a pair for a given member's key takes
/// about 2^64 key generations.
struct KnownRecords: Sendable {
    /// The most keys held at once.
    let capacity: Int
    private var seqs: [UInt64: UInt64] = [:]
    /// Keys in the order they were first noted, as a ring once full: `ring[next]` is the oldest.
    private var ring: [UInt64] = []
    private var next = 0

    /// - Parameter capacity: The most keys held; values below 1 count as 1.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Number of keys held.
    var count: Int { seqs.count }

    /// Notes that the peer holds `key`'s record at `seq` (and therefore nothing older matters).
    ///
    /// - Parameters:
    ///   - key: The record's key.
    ///   - seq: The record's `seq`; a lower one than already noted changes nothing.
    mutating func note(_ key: PublicKey, seq: UInt64) {
        let key = Self.short(key)
        if let held = seqs[key] {
            if seq > held { seqs[key] = seq }
            return
        }
        if ring.count < capacity {
            ring.append(key)
        } else {
            seqs[ring[next]] = nil
            ring[next] = key
            next = next + 1 == capacity ? 0 : next + 1
        }
        seqs[key] = seq
    }

    /// Whether the peer is known to hold `key`'s record at `seq` or a later one.
    ///
    /// - Parameters:
    ///   - key: The record's key.
    ///   - seq: The `seq` we would send.
    /// - Returns: `true` when sending the record would tell the peer nothing new.
    func holds(_ key: PublicKey, seq: UInt64) -> Bool {
        guard let held = seqs[Self.short(key)] else { return false }
        return held >= seq
    }

    /// The key's first 8 bytes as a number.
    private static func short(_ key: PublicKey) -> UInt64 {
        key.bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
