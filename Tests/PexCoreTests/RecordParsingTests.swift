import XCTest
import PexWire
@testable import PexCore

final class RecordParsingTests: XCTestCase {
    let network = "pex-test"
    let expiry: UInt64 = 1_800_003_600
    let crypto = InsecureFakeCrypto()

    func signed(seed: UInt8, seq: UInt64 = 1, network: String? = nil) throws -> SignedPeerRecord {
        let key = try KeyPair(seed: [UInt8](repeating: seed, count: 32))
        let bytes = PeerRecord(publicKey: key.publicKey.bytes, seq: seq, addresses: [try Multiaddr("/ip4/8.8.8.8/tcp/4001").bytes],
                               networkID: network ?? self.network, expiresAt: expiry).encoded()
        return SignedPeerRecord(record: bytes, signature: crypto.sign(payload: bytes, domain: .peerRecord, keyPair: key))
    }

    func testMemoizedParseEqualsDirectParseAndSharesOneCopy() throws {
        let parser = MemoizingRecordParser()
        let record = try signed(seed: 1)
        let first = try parser.parse(record, networkID: network)
        // Same bytes in fresh buffers, as a second node would receive them.
        let again = try parser.parse(SignedPeerRecord(record: Array(record.record), signature: Array(record.signature)), networkID: network)
        XCTAssertEqual(first, try DirectRecordParser().parse(record, networkID: network))
        XCTAssertEqual(again, first)
        XCTAssertEqual([parser.hits, parser.misses, parser.count], [1, 1, 1])
        // The second caller gets the first parse's buffers, not its own.
        first.signed.record.withUnsafeBufferPointer { a in
            again.signed.record.withUnsafeBufferPointer { b in XCTAssertEqual(a.baseAddress, b.baseAddress) }
        }
        XCTAssertEqual(parser.remembered(record)?.publicKeyBytes, first.publicKeyBytes)
        XCTAssertNil(parser.remembered(try signed(seed: 2)))
    }

    func testFailuresAreNotRememberedAndOtherNetworksAreParsedDirectly() throws {
        let parser = MemoizingRecordParser()
        let foreign = try signed(seed: 3, network: "other")
        XCTAssertThrowsError(try parser.parse(foreign, networkID: network)) { error in
            XCTAssertEqual(error as? WireError, .wrongNetwork(expected: network, actual: "other"))
        }
        XCTAssertEqual(parser.count, 0)
        _ = try parser.parse(try signed(seed: 4), networkID: network)
        // A second network: still parsed right, never mixed into the first network's memory.
        XCTAssertEqual(try parser.parse(foreign, networkID: "other").record.networkID, "other")
        XCTAssertEqual(parser.count, 1)
        XCTAssertThrowsError(try parser.parse(try signed(seed: 4), networkID: "other"))
    }

    func testCapacityClearsTheMemoryAndParsingGoesOn() throws {
        let parser = MemoizingRecordParser(capacity: 2)
        for seed: UInt8 in 1...5 { _ = try parser.parse(try signed(seed: seed), networkID: network) }
        XCTAssertLessThanOrEqual(parser.count, 2)
        XCTAssertEqual(parser.misses, 5)
        XCTAssertEqual(try parser.parse(try signed(seed: 5), networkID: network).record.seq, 1)
        XCTAssertEqual(parser.hits, 1)
    }

    func testValidatorOutcomesAreTheSameWithASharedParser() throws {
        let policy = ValidationPolicy(networkID: network)
        let now = Instant.unix(seconds: expiry - 3600)
        var direct = RecordValidator(policy: policy, crypto: crypto)
        var shared = RecordValidator(policy: policy, crypto: crypto, parser: MemoizingRecordParser())
        let v1 = try signed(seed: 7, seq: 1), v2 = try signed(seed: 7, seq: 2)
        let known = try v1.verify(networkID: network, now: now.unixSeconds, crypto: crypto)
        for (record, stored) in [(v1, nil), (v1, known), (v2, known), (try signed(seed: 8, network: "x"), nil)] {
            XCTAssertEqual(shared.validate(shared.parse(record), now: now, known: stored),
                           direct.validate(record, known: stored, now: now))
        }
    }
}

final class ConnectionTableTests: XCTestCase {
    func connection(_ id: UInt64) throws -> Connection {
        Connection(id: ConnectionID(raw: id), direction: .outbound, purpose: .regular, remote: try Multiaddr("/ip4/8.8.8.8/tcp/4001"),
                   phase: .dialing, decoder: FrameDecoder(maxFrameSize: WireLimits.minFrameSize), openedAt: Instant(nanoseconds: 0),
                   ourNonce: [], lastReceived: Instant(nanoseconds: 0), limits: PeerRateLimits(now: Instant(nanoseconds: 0)), knownRecords: 16)
    }

    func testKeepsCreationOrderThroughRemovalsAndChangesInPlace() throws {
        var table = ConnectionTable()
        for id: UInt64 in [5, 2, 9, 7] { table[ConnectionID(raw: id)] = try connection(id) }
        table[ConnectionID(raw: 2)] = nil
        table[ConnectionID(raw: 3)] = nil  // absent: no effect
        XCTAssertEqual(table.ids, [5, 9, 7].map { ConnectionID(raw: $0) })
        XCTAssertEqual(table.values.map(\.id), table.ids)
        XCTAssertEqual(table.count, 3)
        table[ConnectionID(raw: 9)]?.phase = .ready
        XCTAssertEqual(table[ConnectionID(raw: 9)]?.phase, .ready)
        XCTAssertEqual(table.index(forKey: ConnectionID(raw: 7)).map { table.values[$0].id }, ConnectionID(raw: 7))
        table[ConnectionID(raw: 5)] = nil
        XCTAssertEqual(table.index(forKey: ConnectionID(raw: 7)), 1)
        XCTAssertNil(table[ConnectionID(raw: 5)])
        XCTAssertNil(table.index(forKey: ConnectionID(raw: 5)))
    }
}

final class PersistedStateTableTests: XCTestCase {
    /// Records filed under the key in their first byte (the table never decodes them itself).
    static func keyOf(_ signed: SignedPeerRecord) -> PublicKey? {
        signed.record.first.flatMap { PublicKey(unvalidated: [UInt8](repeating: $0, count: 32)) }
    }

    func peer(_ key: UInt8, _ version: UInt8) -> StoredPeer {
        StoredPeer(record: SignedPeerRecord(record: [key, version], signature: []), sourceGroup: [], addedAt: Instant(nanoseconds: 0),
                   lastSeen: Instant(nanoseconds: 0), lastTry: nil, lastSuccess: nil, attempts: 0, tried: false, protected: false)
    }

    func key(_ byte: UInt8) -> PublicKey { Self.keyOf(SignedPeerRecord(record: [byte], signature: []))! }

    func testAppliesChangesAsTheStoreDoes() {
        var initial = PersistedState()
        initial.peers = [peer(1, 1), peer(2, 1), peer(1, 2)]  // a later row of the same key wins
        var table = PersistedStateTable(initial, keyOf: Self.keyOf)
        XCTAssertEqual(table.state.peers.map(\.record.record), [[1, 2], [2, 1]])
        for change: PersistChange in [.upsertPeer(peer(3, 1)), .upsertPeer(peer(2, 2)), .removePeer(key(1)), .removePeer(key(9)),
                                      .ownSeq(7), .ownSeq(5), .cursor(key(2), SyncCursor(epoch: 1, position: 4)),
                                      .ban(BanEntry(subject: .key(key(4)), until: Instant(nanoseconds: 1), reason: "a")),
                                      .ban(BanEntry(subject: .key(key(4)), until: Instant(nanoseconds: 2), reason: "b")),
                                      .ban(BanEntry(subject: .key(key(5)), until: Instant(nanoseconds: 3), reason: "c")),
                                      .unban(.key(key(5))), .bucketKey([9])] {
            table.apply(change, keyOf: Self.keyOf)
        }
        XCTAssertEqual(Set(table.state.peers.map(\.record.record)), [[2, 2], [3, 1]])
        XCTAssertEqual(table.state.peers.count, 2)
        XCTAssertEqual(table.state.ownSeq, 7)
        XCTAssertEqual(table.state.cursors, [key(2): SyncCursor(epoch: 1, position: 4)])
        XCTAssertEqual(table.state.bans.map(\.reason), ["b"])
        XCTAssertEqual(table.state.bucketKey, [9])
        // The row moved into the removed one's place is still found by its key.
        table.apply(.upsertPeer(peer(3, 2)), keyOf: Self.keyOf)
        table.apply(.removePeer(key(2)), keyOf: Self.keyOf)
        XCTAssertEqual(table.state.peers.map(\.record.record), [[3, 2]])
    }
}
