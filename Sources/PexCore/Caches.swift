import PexWire

/// A set with a fixed capacity that forgets its oldest element to make room for a new one.
///
/// Insertion order is kept in a ring buffer next to a `Set`, so `insert` and `contains` are O(1)
/// and eviction is first in, first out: re-inserting an element that is still present does not
/// refresh its age. A capacity of 0 keeps nothing.
public struct BoundedSet<Element: Hashable> {
    /// The most elements kept at once.
    public let capacity: Int
    private var members: Set<Element> = []
    /// The elements in insertion order once the buffer has wrapped; `ring[next]` is the oldest.
    private var ring: [Element] = []
    /// Where the next element goes once the ring is full.
    private var next = 0

    /// An empty set.
    ///
    /// - Parameter capacity: The most elements kept at once; negative values count as 0.
    public init(capacity: Int) {
        self.capacity = Swift.max(0, capacity)
        // Reserve up front only for modest capacities; a large cap should not cost memory until used.
        let reserved = Swift.min(self.capacity, 1024)
        members.reserveCapacity(reserved)
        ring.reserveCapacity(reserved)
    }

    /// The number of elements held, at most `capacity`.
    public var count: Int { members.count }

    /// Whether the set holds nothing.
    public var isEmpty: Bool { members.isEmpty }

    /// Whether `element` is held.
    ///
    /// - Parameter element: The element to look up.
    /// - Returns: `true` when it was inserted and not yet evicted.
    public func contains(_ element: Element) -> Bool { members.contains(element) }

    /// Adds `element`, evicting the oldest element when the set is full.
    ///
    /// - Parameter element: The element to add.
    /// - Returns: `true` when `element` was not held before (it is held now, unless the capacity
    ///   is 0); `false` when it was already held, in which case nothing changes.
    @discardableResult
    public mutating func insert(_ element: Element) -> Bool {
        // A set of capacity 0 holds nothing, so every element is new to it.
        guard capacity > 0 else { return true }
        // One lookup for the common answers (held, or new with room); elements hash their bytes.
        guard members.insert(element).inserted else { return false }
        if ring.count < capacity {
            ring.append(element)
        } else {
            members.remove(ring[next])
            ring[next] = element
            next = next + 1 == capacity ? 0 : next + 1
        }
        return true
    }

    /// The held elements, oldest first.
    public var elements: [Element] {
        Array(ring[next...] + ring[..<next])
    }

    /// Forgets every element.
    public mutating func removeAll() {
        members.removeAll()
        ring.removeAll()
        next = 0
    }
}

extension BoundedSet: Sendable where Element: Sendable {}

/// The (key, seq) pairs of records already seen, so that a record is relayed at most once.
///
/// Keyed by key and seq rather than by bytes: two different records with the same key and seq
/// are an equivocation, which the `RecordValidator` reports; relaying the second would only
/// spread the conflict. Bounded and FIFO like `BoundedSet`.
public struct SeenCache: Sendable {
    private struct Key: Hashable, Sendable {
        let publicKey: PublicKey
        let seq: UInt64
    }

    private var entries: BoundedSet<Key>

    /// An empty cache.
    ///
    /// - Parameter capacity: The most (key, seq) pairs remembered; the oldest is forgotten first.
    public init(capacity: Int) {
        entries = BoundedSet(capacity: capacity)
    }

    /// The most pairs remembered at once.
    public var capacity: Int { entries.capacity }

    /// The number of pairs remembered.
    public var count: Int { entries.count }

    /// Whether the record `seq` of `publicKey` was seen (and not yet forgotten).
    ///
    /// - Parameters:
    ///   - publicKey: The record's key.
    ///   - seq: The record's seq.
    /// - Returns: `true` when the pair was inserted before.
    public func contains(publicKey: PublicKey, seq: UInt64) -> Bool {
        entries.contains(Key(publicKey: publicKey, seq: seq))
    }

    /// Remembers the record `seq` of `publicKey`.
    ///
    /// - Parameters:
    ///   - publicKey: The record's key.
    ///   - seq: The record's seq.
    /// - Returns: `true` when the pair is new, i.e. the record should be relayed.
    @discardableResult
    public mutating func insert(publicKey: PublicKey, seq: UInt64) -> Bool {
        entries.insert(Key(publicKey: publicKey, seq: seq))
    }

    /// Remembers `record` by its key and seq.
    ///
    /// - Parameter record: A verified record.
    /// - Returns: `true` when no record with this key and seq was seen before.
    @discardableResult
    public mutating func insert(_ record: VerifiedPeerRecord) -> Bool {
        insert(publicKey: record.publicKey, seq: record.seq)
    }

    /// Whether a record with the key and seq of `record` was seen.
    ///
    /// - Parameter record: A verified record.
    /// - Returns: `true` when its (key, seq) pair was inserted before.
    public func contains(_ record: VerifiedPeerRecord) -> Bool {
        contains(publicKey: record.publicKey, seq: record.seq)
    }

    /// Forgets everything.
    public mutating func removeAll() { entries.removeAll() }
}
