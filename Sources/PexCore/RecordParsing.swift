import PexWire

/// Opens a signed record's envelope and decodes its fields: the first step of validation, before
/// any signature check (`SignedPeerRecord.parse(networkID:)`).
///
/// A real node uses `DirectRecordParser`. Parsing is a pure function of the bytes, so a caller
/// that runs many nodes in one process may share one memoizing parser among them
/// (`MemoizingRecordParser`): each distinct record is then decoded once, and every node's copy
/// shares its buffers. Outcomes are identical either way.
public protocol RecordParser: Sendable {
    /// The parsed record, or the reason the bytes are not a well-formed record of `networkID`.
    ///
    /// - Parameters:
    ///   - signed: The record as received.
    ///   - networkID: The network it must belong to.
    /// - Returns: The decoded, not yet verified record.
    /// - Throws: `WireError` naming the first defect.
    func parse(_ signed: SignedPeerRecord, networkID: String) throws(WireError) -> UnverifiedPeerRecord
}

/// Parses every record afresh: what a real node does.
public struct DirectRecordParser: RecordParser {
    /// A parser.
    public init() {}

    /// The parsed record (`SignedPeerRecord.parse(networkID:)`).
    ///
    /// - Parameters:
    ///   - signed: The record as received.
    ///   - networkID: The network it must belong to.
    /// - Returns: The decoded record.
    /// - Throws: `WireError` naming the first defect.
    public func parse(_ signed: SignedPeerRecord, networkID: String) throws(WireError) -> UnverifiedPeerRecord {
        try signed.parse(networkID: networkID)
    }
}

/// Remembers the records it parsed successfully, so that many nodes in one process (the
/// simulator) decode each distinct record once and hold one shared copy of its buffers.
///
/// Not thread-safe: share it only among nodes driven by one thread. Failures are not
/// remembered (they are rare and carry per-input detail); when `capacity` distinct records are
/// held the memory is cleared and refilled, which costs time, never correctness.
public final class MemoizingRecordParser: RecordParser, @unchecked Sendable {
    private var parsed: [Key: UnverifiedPeerRecord] = [:]

    /// A signed record as a dictionary key, hashed by its signature only (64 bytes that differ
    /// for every record) instead of all of its bytes; equality still compares every byte.
    private struct Key: Hashable {
        let signed: SignedPeerRecord

        static func == (lhs: Key, rhs: Key) -> Bool { lhs.signed == rhs.signed }

        func hash(into hasher: inout Hasher) {
            signed.signature.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
    private let capacity: Int
    private var rememberedNetwork: String?
    /// Parses answered from memory.
    public private(set) var hits = 0
    /// Parses that decoded the bytes.
    public private(set) var misses = 0

    /// A parser that remembers up to `capacity` records.
    ///
    /// - Parameter capacity: Distinct records held before the memory is cleared.
    public init(capacity: Int = 1 << 20) {
        self.capacity = max(1, capacity)
    }

    /// Distinct records held.
    public var count: Int { parsed.count }

    /// The record parsed earlier from exactly these bytes, if it is still held.
    ///
    /// - Parameter signed: The record's bytes.
    /// - Returns: The parsed record, or nil.
    public func remembered(_ signed: SignedPeerRecord) -> UnverifiedPeerRecord? {
        parsed[Key(signed: signed)]
    }

    /// The parsed record, from memory when these exact bytes were parsed before for `networkID`.
    ///
    /// - Parameters:
    ///   - signed: The record as received.
    ///   - networkID: The network it must belong to.
    /// - Returns: The decoded record.
    /// - Throws: `WireError` naming the first defect.
    public func parse(_ signed: SignedPeerRecord, networkID: String) throws(WireError) -> UnverifiedPeerRecord {
        // Remembers records of one network (the first asked for); others are parsed directly.
        guard networkID == (rememberedNetwork ?? networkID) else { return try signed.parse(networkID: networkID) }
        rememberedNetwork = networkID
        if let known = parsed[Key(signed: signed)] {
            hits += 1
            return known
        }
        misses += 1
        let fresh = try signed.parse(networkID: networkID)
        if parsed.count >= capacity { parsed.removeAll(keepingCapacity: true) }
        parsed[Key(signed: signed)] = fresh
        return fresh
    }
}
