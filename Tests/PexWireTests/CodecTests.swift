import XCTest
@testable import PexWire

// MARK: - CodecFixtures shared by the codec, framing and compression tests

/// Deterministic generator (SplitMix64) so that randomised tests reproduce from their seed.
struct CodecTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum CodecFixtures {
    /// /ip4/192.0.2.<n>/tcp/4001 in binary multiaddr form.
    static func address(_ n: UInt8) -> [UInt8] { [0x04, 192, 0, 2, n, 0x06, 0x0f, 0xa1] }

    static func record(_ n: Int, network: String = "pex-test") -> PeerRecord {
        PeerRecord(
            publicKey: [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 32), seq: UInt64(n) + 1,
            addresses: [address(UInt8(truncatingIfNeeded: n)), address(1)], networkID: network,
            expiresAt: 1_700_000_000 + UInt64(n))
    }

    static func signed(_ n: Int) -> SignedPeerRecord {
        SignedPeerRecord(record: record(n).encoded(), signature: [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 64))
    }

    static func hello(record: SignedPeerRecord? = signed(7), nonce: [UInt8] = [UInt8](repeating: 3, count: 32)) -> Hello {
        Hello(
            networkID: "pex-test", record: record, nonce: nonce, capabilities: [.deflate, .deltaSync],
            maxFrameSize: 65536, agent: "pexd/1.0")
    }

    /// One frame of every kind, with optional and repeated fields both set and unset.
    static let everyKind: [Frame] = [
        .hello(hello()),
        .hello(Hello(networkID: "n", record: signed(1), nonce: [UInt8](repeating: 0, count: 32))),
        .auth(Auth(signature: [UInt8](repeating: 9, count: 64))),
        .peerRequest(PeerRequest(requestID: 0)),
        .peerRequest(PeerRequest(requestID: 42, maxPeers: 100, since: SyncCursor(epoch: 0, position: 0))),
        .peerRequest(PeerRequest(requestID: .max, maxPeers: .max, since: SyncCursor(epoch: .max, position: 7))),
        .peerResponse(PeerResponse(requestID: 1, records: [], next: nil)),
        .peerResponse(PeerResponse(requestID: 2, records: (0..<5).map(signed), next: SyncCursor(epoch: 3, position: 4), more: true, full: true)),
        .peerResponse(PeerResponse(requestID: 3, records: [signed(1)], next: SyncCursor(epoch: 0, position: 0))),
        .peerAnnouncement(PeerAnnouncement(records: [])),
        .peerAnnouncement(PeerAnnouncement(records: [signed(8), signed(9)])),
        .peerUpdate(PeerUpdate(records: [signed(10)])),
        .ping(Ping(nonce: 0)),
        .ping(Ping(nonce: .max)),
        .pong(Pong(nonce: 12345)),
        .error(ErrorMessage(code: .rateLimited, message: "slow down – ç", closing: false)),
        .error(ErrorMessage(code: ErrorCode(rawValue: 99), message: "", closing: true)),
        .compressed(Compressed(codec: .deflate, uncompressedSize: 10, data: [1, 2, 3])),
        .compressed(Compressed(codec: CompressionCodec(rawValue: 5), uncompressedSize: 0, data: [])),
        .unknown(fieldNumber: 11),
        .unknown(fieldNumber: 1000),
        .unknown(fieldNumber: Frame.unknownFieldNumbers.upperBound),
    ]

    static func randomBytes(_ count: Int, _ rng: inout CodecTestRNG) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func randomSigned(_ rng: inout CodecTestRNG) -> SignedPeerRecord {
        let record = PeerRecord(
            publicKey: randomBytes(32, &rng), seq: rng.next(),
            addresses: (0..<Int.random(in: 1...10, using: &rng)).map { _ in randomBytes(Int.random(in: 0...40, using: &rng), &rng) },
            networkID: String(repeating: "x", count: Int.random(in: 1...64, using: &rng)), expiresAt: rng.next())
        return SignedPeerRecord(record: record.encoded(), signature: randomBytes(64, &rng))
    }

    static func randomCursor(_ rng: inout CodecTestRNG) -> SyncCursor? {
        Bool.random(using: &rng) ? SyncCursor(epoch: rng.next() >> Int.random(in: 0...63, using: &rng), position: rng.next()) : nil
    }

    /// A random valid frame of a random kind.
    static func randomFrame(_ rng: inout CodecTestRNG) -> Frame {
        let records = { (rng: inout CodecTestRNG) in (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomSigned(&rng) } }
        switch Int.random(in: 0...10, using: &rng) {
        case 0:
            return .hello(Hello(
                minVersion: UInt32.random(in: 0...3, using: &rng), maxVersion: UInt32.random(in: 0...UInt32.max, using: &rng),
                networkID: "net-\(rng.next() % 1000)", record: randomSigned(&rng), nonce: randomBytes(32, &rng),
                capabilities: (0..<Int.random(in: 0...32, using: &rng)).map { _ in Capability(rawValue: UInt32.random(in: 0...UInt32.max, using: &rng)) },
                maxFrameSize: UInt32.random(in: 0...UInt32.max, using: &rng),
                agent: String(repeating: "é", count: Int.random(in: 0...64, using: &rng))))
        case 1: return .auth(Auth(signature: randomBytes(64, &rng)))
        case 2: return .peerRequest(PeerRequest(requestID: rng.next(), maxPeers: UInt32.random(in: 0...2000, using: &rng), since: randomCursor(&rng)))
        case 3:
            return .peerResponse(PeerResponse(
                requestID: rng.next(), records: records(&rng), next: randomCursor(&rng),
                more: Bool.random(using: &rng), full: Bool.random(using: &rng)))
        case 4: return .peerAnnouncement(PeerAnnouncement(records: records(&rng)))
        case 5: return .peerUpdate(PeerUpdate(records: records(&rng)))
        case 6: return .ping(Ping(nonce: rng.next()))
        case 7: return .pong(Pong(nonce: rng.next()))
        case 8:
            return .error(ErrorMessage(
                code: ErrorCode(rawValue: UInt32.random(in: 0...UInt32.max, using: &rng)),
                message: String(repeating: "ok ", count: Int.random(in: 0...85, using: &rng)), closing: Bool.random(using: &rng)))
        case 9:
            return .compressed(Compressed(
                codec: CompressionCodec(rawValue: UInt32.random(in: 0...3, using: &rng)),
                uncompressedSize: UInt32.random(in: 0...UInt32.max, using: &rng), data: randomBytes(Int.random(in: 0...50, using: &rng), &rng)))
        default:
            return .unknown(fieldNumber: UInt32.random(in: Frame.unknownFieldNumbers, using: &rng))
        }
    }
}

/// Asserts that `body` throws exactly `expected`.
func assertWireError<T>(
    _ expected: WireError, _ body: () throws(WireError) -> T, file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let value = try body()
        XCTFail("expected \(expected), got \(value)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
    }
}

// MARK: - Tests

final class CodecTests: XCTestCase {
    // MARK: Byte-exact encodings, derived by hand from the protobuf encoding rules

    func testPingEncodingIsByteExact() throws {
        // Frame field 7 (ping), wire type 2: tag (7 << 3) | 2 = 0x3a; Ping field 1 varint: 08 01.
        XCTAssertEqual(Frame.ping(Ping(nonce: 1)).encoded(), [0x3a, 0x02, 0x08, 0x01])
        // proto3 leaves zero scalars out, but the present (empty) body is still written.
        XCTAssertEqual(Frame.ping(Ping(nonce: 0)).encoded(), [0x3a, 0x00])
        // Frame field 8 (pong): 0x42; 300 = 0b10_0101100 -> ac 02.
        XCTAssertEqual(Frame.pong(Pong(nonce: 300)).encoded(), [0x42, 0x03, 0x08, 0xac, 0x02])
        XCTAssertEqual(try Frame(decoding: [0x3a, 0x02, 0x08, 0x01]), .ping(Ping(nonce: 1)))
        XCTAssertEqual(Ping(nonce: 0).encoded(), [])
        XCTAssertEqual(try Ping(decoding: []), Ping(nonce: 0))
    }

    func testPeerRequestEncodingKeepsAbsentAndEmptyCursorApart() throws {
        // Frame field 3: 0x1a. No cursor: request_id only.
        XCTAssertEqual(Frame.peerRequest(PeerRequest(requestID: 5)).encoded(), [0x1a, 0x02, 0x08, 0x05])
        // An all-zero cursor is present: field 3 of PeerRequest, empty (1a 00).
        let empty = Frame.peerRequest(PeerRequest(requestID: 5, since: SyncCursor(epoch: 0, position: 0)))
        XCTAssertEqual(empty.encoded(), [0x1a, 0x04, 0x08, 0x05, 0x1a, 0x00])
        XCTAssertEqual(try Frame(decoding: empty.encoded()), empty)
        XCTAssertEqual(try Frame(decoding: [0x1a, 0x02, 0x08, 0x05]), .peerRequest(PeerRequest(requestID: 5, since: nil)))
        // max_peers 1000 = e8 07 (field 2: 0x10); cursor {1, 2} = 08 01 10 02.
        let full = Frame.peerRequest(PeerRequest(requestID: 5, maxPeers: 1000, since: SyncCursor(epoch: 1, position: 2)))
        XCTAssertEqual(full.encoded(), [0x1a, 0x0b, 0x08, 0x05, 0x10, 0xe8, 0x07, 0x1a, 0x04, 0x08, 0x01, 0x10, 0x02])
    }

    func testErrorEncodingIsByteExact() throws {
        // Frame field 9: 0x4a. code 3 (08 03), message "x" (12 01 78), closing (18 01).
        let frame = Frame.error(ErrorMessage(code: .wrongNetwork, message: "x", closing: true))
        XCTAssertEqual(frame.encoded(), [0x4a, 0x07, 0x08, 0x03, 0x12, 0x01, 0x78, 0x18, 0x01])
        XCTAssertEqual(try Frame(decoding: frame.encoded()), frame)
    }

    func testPeerRecordEncodingIsByteExact() throws {
        let record = PeerRecord(
            publicKey: [UInt8](repeating: 1, count: 32), seq: 1,
            addresses: [[0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1]], networkID: "main", expiresAt: 1000)
        let expected: [UInt8] = [0x0a, 0x20] + [UInt8](repeating: 1, count: 32)
            + [0x10, 0x01]  // seq
            + [0x1a, 0x08, 0x04, 0x7f, 0x00, 0x00, 0x01, 0x06, 0x0f, 0xa1]  // one address
            + [0x22, 0x04, 0x6d, 0x61, 0x69, 0x6e]  // "main"
            + [0x28, 0xe8, 0x07]  // expires_at 1000
        XCTAssertEqual(record.encoded(), expected)
        XCTAssertEqual(try PeerRecord(decoding: expected), record)
    }

    func testHelloEncodingIsByteExact() throws {
        let hello = Hello(
            networkID: "t", record: SignedPeerRecord(record: [0x01], signature: [UInt8](repeating: 2, count: 64)),
            nonce: [UInt8](repeating: 3, count: 32), capabilities: [.deflate, .deltaSync], maxFrameSize: 16384, agent: "a")
        let signed: [UInt8] = [0x0a, 0x01, 0x01, 0x12, 0x40] + [UInt8](repeating: 2, count: 64)
        let expected: [UInt8] = [0x08, 0x01, 0x10, 0x01]  // versions 1..1
            + [0x1a, 0x01, 0x74]  // network_id "t"
            + [0x22, 0x45] + signed  // record, 69 bytes
            + [0x2a, 0x20] + [UInt8](repeating: 3, count: 32)  // nonce
            + [0x32, 0x02, 0x01, 0x02]  // capabilities, packed
            + [0x38, 0x80, 0x80, 0x01]  // max_frame_size 16384 = 2^14
            + [0x42, 0x01, 0x61]  // agent "a"
        XCTAssertEqual(hello.encoded(), expected)
        XCTAssertEqual(try Hello(decoding: expected), hello)
        // The frame wraps it as field 1, length 123.
        XCTAssertEqual(expected.count, 123)
        XCTAssertEqual(Frame.hello(hello).encoded(), [0x0a, 0x7b] + expected)
    }

    func testAuthAndCompressedEncodingsAreByteExact() throws {
        let auth = Frame.auth(Auth(signature: [UInt8](repeating: 0xab, count: 64)))
        XCTAssertEqual(auth.encoded(), [0x12, 0x42, 0x0a, 0x40] + [UInt8](repeating: 0xab, count: 64))
        let compressed = Frame.compressed(Compressed(codec: .deflate, uncompressedSize: 3, data: [0xaa]))
        XCTAssertEqual(compressed.encoded(), [0x52, 0x07, 0x08, 0x01, 0x10, 0x03, 0x1a, 0x01, 0xaa])
    }

    // MARK: Unknown bodies and empty frames

    func testUnknownBodyEncodesAsOneEmptyLengthDelimitedField() throws {
        // (11 << 3) | 2 = 0x5a; (16 << 3) | 2 = 130 = 82 01.
        XCTAssertEqual(Frame.unknown(fieldNumber: 11).encoded(), [0x5a, 0x00])
        XCTAssertEqual(Frame.unknown(fieldNumber: 16).encoded(), [0x82, 0x01, 0x00])
        // (2^29 - 1) << 3 | 2 = 0xfffffffa.
        XCTAssertEqual(Frame.unknown(fieldNumber: 536_870_911).encoded(), [0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00])
        XCTAssertEqual(try Frame(decoding: [0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00]), .unknown(fieldNumber: 536_870_911))
    }

    func testUnknownBodyDecodesToTheFirstUnknownFieldNumber() throws {
        // Field 11 as a varint, then field 12 as a fixed32: the first one names the body.
        let bytes: [UInt8] = [0x58, 0x05, 0x65, 0x01, 0x02, 0x03, 0x04]
        let frame = try Frame(decoding: bytes)
        XCTAssertEqual(frame, .unknown(fieldNumber: 11))
        XCTAssertEqual(try Frame(decoding: frame.encoded()), frame)
        // A known body wins over unknown fields next to it.
        XCTAssertEqual(try Frame(decoding: [0x58, 0x05, 0x3a, 0x02, 0x08, 0x01]), .ping(Ping(nonce: 1)))
    }

    func testFrameWithoutBodyIsEmpty() {
        assertWireError(.emptyFrame) { () throws(WireError) in try Frame(decoding: []) }
    }

    func testInvalidFieldNumbersAreMalformed() {
        // Tag 0 through a non-minimal varint (80 00) is accepted by protobuf-c but not writable.
        assertWireError(.malformed(message: "Frame (field number 0)")) { () throws(WireError) in
            try Frame(decoding: [0x80, 0x00, 0x00])
        }
        // 2^29 is above the protobuf maximum: tag varint 2^32 = 80 80 80 80 10.
        assertWireError(.malformed(message: "Frame (field number 536870912)")) { () throws(WireError) in
            try Frame(decoding: [0x80, 0x80, 0x80, 0x80, 0x10, 0x00])
        }
    }

    func testUnparsableBytesAreMalformed() {
        // Truncated varint, a known field with the wrong wire type, a length past the end.
        for bytes: [UInt8] in [[0xff], [0x0a], [0x08, 0x01], [0x3a, 0x05, 0x08], [0x3a, 0x02, 0x08, 0xff]] {
            assertWireError(.malformed(message: "Frame")) { () throws(WireError) in try Frame(decoding: bytes) }
        }
        assertWireError(.malformed(message: "PeerRecord")) { () throws(WireError) in try PeerRecord(decoding: [0x0a, 0x20]) }
    }

    // MARK: Round trips

    func testEveryFrameKindRoundTrips() throws {
        for frame in CodecFixtures.everyKind {
            let bytes = frame.encoded()
            XCTAssertEqual(try Frame(decoding: bytes), frame, "\(frame.kind)")
            XCTAssertEqual(try Frame(decoding: bytes[...]), frame, "ArraySlice input")
            XCTAssertEqual(try Frame(decoding: bytes.lazy.map { $0 }), frame, "non-contiguous input")
        }
    }

    func testEveryMessageTypeRoundTripsStandalone() throws {
        func check<M: WireMessage>(_ value: M, file: StaticString = #filePath, line: UInt = #line) throws {
            XCTAssertEqual(try M(decoding: value.encoded()), value, file: file, line: line)
        }
        try check(CodecFixtures.record(3))
        try check(CodecFixtures.signed(3))
        try check(CodecFixtures.hello())
        try check(Auth(signature: [UInt8](repeating: 1, count: 64)))
        try check(SyncCursor(epoch: 1, position: .max))
        try check(PeerRequest(requestID: 9, maxPeers: 10, since: SyncCursor(epoch: 0, position: 0)))
        try check(PeerResponse(requestID: 9, records: [CodecFixtures.signed(1)], next: nil, more: true))
        try check(PeerAnnouncement(records: [CodecFixtures.signed(2)]))
        try check(PeerUpdate(records: [CodecFixtures.signed(4)]))
        try check(Ping(nonce: 77))
        try check(Pong(nonce: 78))
        try check(ErrorMessage(code: .banned, message: "bye", closing: true))
        try check(Compressed(codec: .deflate, uncompressedSize: 9, data: [9]))
        try check(Frame.ping(Ping(nonce: 1)))
    }

    func testLargeFieldsRoundTrip() throws {
        var rng = CodecTestRNG(seed: 5)
        // Larger than the encoder's arena chunks, so they take the separate-block path.
        let compressed = Frame.compressed(Compressed(codec: .deflate, uncompressedSize: 1, data: CodecFixtures.randomBytes(100_000, &rng)))
        XCTAssertEqual(try Frame(decoding: compressed.encoded()), compressed)
        let response = Frame.peerResponse(PeerResponse(
            requestID: 1, records: (0..<3).map { _ in SignedPeerRecord(record: CodecFixtures.randomBytes(2048, &rng), signature: CodecFixtures.randomBytes(64, &rng)) },
            next: nil))
        XCTAssertEqual(try Frame(decoding: response.encoded()), response)
    }

    func testRandomValidFramesRoundTrip() throws {
        var rng = CodecTestRNG(seed: 0x5EED_C0DE)
        for iteration in 0..<2000 {
            let frame = CodecFixtures.randomFrame(&rng)
            XCTAssertEqual(try Frame(decoding: frame.encoded()), frame, "iteration \(iteration)")
        }
    }

    /// Whatever bytes decode, their value's encoding decodes to the same value (the property the
    /// fuzzer checks), here over mutations of valid encodings.
    func testMutatedBytesThatDecodeAreStable() throws {
        var rng = CodecTestRNG(seed: 42)
        var decoded = 0
        for _ in 0..<10000 {
            var bytes = CodecFixtures.randomFrame(&rng).encoded()
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0...3, using: &rng) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.removeSubrange(index...)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                default: bytes[index] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                }
            }
            guard let frame = try? Frame(decoding: bytes) else { continue }
            decoded += 1
            XCTAssertEqual(try Frame(decoding: frame.encoded()), frame, "from \(bytes)")
        }
        XCTAssertGreaterThan(decoded, 500, "mutations should often stay decodable")
    }

    func testOpenEnumsKeepUnknownValues() throws {
        let hello = CodecFixtures.hello()
        var odd = hello
        odd.capabilities = [Capability(rawValue: 0), Capability(rawValue: 77), Capability(rawValue: .max)]
        XCTAssertEqual(try Hello(decoding: odd.encoded()), odd)
        // Values above Int32.max travel as negative int32: ten-byte varints.
        let error = ErrorMessage(code: ErrorCode(rawValue: .max), message: "", closing: false)
        XCTAssertEqual(error.encoded(), [0x08] + [UInt8](repeating: 0xff, count: 9) + [0x01])
        XCTAssertEqual(try ErrorMessage(decoding: error.encoded()), error)
        // The five-byte uint32 form other encoders may write decodes to the same value.
        XCTAssertEqual(try ErrorMessage(decoding: [0x08, 0xff, 0xff, 0xff, 0xff, 0x0f]), error)
    }

    // MARK: Strings

    func testStringsAreCheckedForUTF8() {
        // Error.message = c3 28 (a lead byte without its continuation).
        assertWireError(.invalidUTF8(field: "Error.message")) { () throws(WireError) in
            try ErrorMessage(decoding: [0x12, 0x02, 0xc3, 0x28])
        }
        var hello = CodecFixtures.hello()
        hello.agent = ""
        // Hello.agent (field 8) holding a lone continuation byte, inside a frame (field 1).
        let body = hello.encoded() + [0x42, 0x01, 0x80]
        let frame = [0x0a] + Varint.encode(UInt64(body.count)) + body
        assertWireError(.invalidUTF8(field: "Hello.agent")) { () throws(WireError) in try Frame(decoding: frame) }
        let record = CodecFixtures.record(1).encoded() + [0x22, 0x01, 0xff]
        assertWireError(.invalidUTF8(field: "PeerRecord.network_id")) { () throws(WireError) in
            try PeerRecord(decoding: record)
        }
    }

    func testStringsWithNULAreRejectedNotTruncated() {
        // "a\0b": protobuf-c would hand back "a" if the length were not checked.
        assertWireError(.malformed(message: "Error.message (NUL byte in string)")) { () throws(WireError) in
            try ErrorMessage(decoding: [0x12, 0x03, 0x61, 0x00, 0x62])
        }
        assertWireError(.malformed(message: "Error.message (NUL byte in string)")) { () throws(WireError) in
            try ErrorMessage(decoding: [0x12, 0x01, 0x00])
        }
        // An empty string on the wire is fine.
        XCTAssertEqual(try ErrorMessage(decoding: [0x12, 0x00]), ErrorMessage(code: .unspecified, message: "", closing: false))
        // Encoding cannot carry a NUL: protobuf-c packs up to it.
        XCTAssertEqual(ErrorMessage(code: .unspecified, message: "a\u{0}b", closing: false).encoded(), [0x12, 0x01, 0x61])
    }

    // MARK: Limits

    func testNetworkIDValidation() throws {
        for valid in ["a", "pex-main", "a.b_c-9", String(repeating: "z", count: 64)] {
            XCTAssertNoThrow(try WireLimits.validateNetworkID(valid))
        }
        for invalid in ["", "Main", "a b", "é", "a/b", String(repeating: "z", count: 65)] {
            assertWireError(.badNetworkID(invalid)) { () throws(WireError) in try WireLimits.validateNetworkID(invalid) }
            var record = CodecFixtures.record(1)
            record.networkID = invalid
            assertWireError(.badNetworkID(invalid)) { () throws(WireError) in try PeerRecord(decoding: record.encoded()) }
            var hello = CodecFixtures.hello()
            hello.networkID = invalid
            assertWireError(.badNetworkID(invalid)) { () throws(WireError) in try Hello(decoding: hello.encoded()) }
        }
    }

    func testPeerRecordLimits() throws {
        func decode(_ change: (inout PeerRecord) -> Void) throws(WireError) -> PeerRecord {
            var record = CodecFixtures.record(5)
            change(&record)
            return try PeerRecord(decoding: record.encoded())
        }
        assertWireError(.wrongFieldLength(field: "PeerRecord.public_key", length: 31, expected: 32)) { () throws(WireError) in
            try decode { $0.publicKey.removeLast() }
        }
        assertWireError(.wrongFieldLength(field: "PeerRecord.public_key", length: 0, expected: 32)) { () throws(WireError) in
            try decode { $0.publicKey = [] }
        }
        assertWireError(.tooFewAddresses) { () throws(WireError) in try decode { $0.addresses = [] } }
        assertWireError(.tooManyAddresses(count: 11, limit: 10)) { () throws(WireError) in
            try decode { $0.addresses = Array(repeating: CodecFixtures.address(1), count: 11) }
        }
        XCTAssertEqual(try decode { $0.addresses = Array(repeating: CodecFixtures.address(1), count: 10) }.addresses.count, 10)
        assertWireError(.fieldTooLong(field: "PeerRecord.addresses", length: 257, limit: 256)) { () throws(WireError) in
            try decode { $0.addresses.append([UInt8](repeating: 4, count: 257)) }
        }
        let longest = [UInt8](repeating: 4, count: 256)
        XCTAssertEqual(try decode { $0.addresses = [longest] }.addresses, [longest])
        // An empty address survives the codec (the multiaddr parser rejects it later).
        XCTAssertEqual(try decode { $0.addresses = [[], [1]] }.addresses, [[], [1]])
    }

    func testRecordSizeIsCheckedBeforeParsing() {
        // Garbage that protobuf-c would reject: the size error proves the check came first.
        let oversized = [UInt8](repeating: 0xff, count: WireLimits.maxRecordSize + 1)
        assertWireError(.fieldTooLong(field: "PeerRecord", length: 2049, limit: 2048)) { () throws(WireError) in
            try PeerRecord(decoding: oversized)
        }
        assertWireError(.fieldTooLong(field: "SignedPeerRecord", length: 2200, limit: 2128)) { () throws(WireError) in
            try SignedPeerRecord(decoding: [UInt8](repeating: 0xff, count: 2200))
        }
        assertWireError(.fieldTooLong(field: "PeerRecord", length: 2049, limit: 2048)) { () throws(WireError) in
            try PeerRecord(decoding: oversized.lazy.map { $0 })
        }
    }

    func testSignedPeerRecordLimits() throws {
        let big = SignedPeerRecord(record: [UInt8](repeating: 1, count: 2049), signature: [UInt8](repeating: 2, count: 64))
        assertWireError(.fieldTooLong(field: "SignedPeerRecord.record", length: 2049, limit: 2048)) { () throws(WireError) in
            try SignedPeerRecord(decoding: big.encoded())
        }
        let largest = SignedPeerRecord(record: [UInt8](repeating: 1, count: 2048), signature: [UInt8](repeating: 2, count: 64))
        XCTAssertEqual(try SignedPeerRecord(decoding: largest.encoded()), largest)
        let short = SignedPeerRecord(record: [1], signature: [UInt8](repeating: 2, count: 63))
        assertWireError(.wrongFieldLength(field: "SignedPeerRecord.signature", length: 63, expected: 64)) { () throws(WireError) in
            try SignedPeerRecord(decoding: short.encoded())
        }
        // The same checks apply to records inside frames.
        let response = Frame.peerResponse(PeerResponse(requestID: 1, records: [CodecFixtures.signed(1), short], next: nil))
        assertWireError(.wrongFieldLength(field: "SignedPeerRecord.signature", length: 63, expected: 64)) { () throws(WireError) in
            try Frame(decoding: response.encoded())
        }
    }

    func testHelloLimits() throws {
        func decode(_ change: (inout Hello) -> Void) throws(WireError) -> Frame {
            var hello = CodecFixtures.hello()
            change(&hello)
            return try Frame(decoding: Frame.hello(hello).encoded())
        }
        assertWireError(.missingField("Hello.record")) { () throws(WireError) in try decode { $0.record = nil } }
        assertWireError(.wrongFieldLength(field: "Hello.nonce", length: 31, expected: 32)) { () throws(WireError) in
            try decode { $0.nonce.removeLast() }
        }
        assertWireError(.fieldTooLong(field: "Hello.capabilities", length: 33, limit: 32)) { () throws(WireError) in
            try decode { $0.capabilities = Array(repeating: .deflate, count: 33) }
        }
        XCTAssertNoThrow(try decode { $0.capabilities = Array(repeating: .deflate, count: 32) })
        assertWireError(.fieldTooLong(field: "Hello.agent", length: 129, limit: 128)) { () throws(WireError) in
            try decode { $0.agent = String(repeating: "a", count: 129) }
        }
        XCTAssertNoThrow(try decode { $0.agent = String(repeating: "a", count: 128) })
        assertWireError(.fieldTooLong(field: "SignedPeerRecord.record", length: 2049, limit: 2048)) { () throws(WireError) in
            try decode { $0.record?.record = [UInt8](repeating: 0, count: 2049) }
        }
    }

    func testAuthAndErrorLimits() throws {
        assertWireError(.wrongFieldLength(field: "Auth.signature", length: 65, expected: 64)) { () throws(WireError) in
            try Frame(decoding: Frame.auth(Auth(signature: [UInt8](repeating: 1, count: 65))).encoded())
        }
        assertWireError(.wrongFieldLength(field: "Auth.signature", length: 0, expected: 64)) { () throws(WireError) in
            try Auth(decoding: [])
        }
        let long = ErrorMessage(code: .internalError, message: String(repeating: "m", count: 257), closing: true)
        assertWireError(.fieldTooLong(field: "Error.message", length: 257, limit: 256)) { () throws(WireError) in
            try Frame(decoding: Frame.error(long).encoded())
        }
        // The limit is in UTF-8 bytes: 128 two-byte characters fit, one more does not.
        let twoByte = ErrorMessage(code: .internalError, message: String(repeating: "é", count: 128), closing: true)
        XCTAssertEqual(try ErrorMessage(decoding: twoByte.encoded()), twoByte)
        var over = twoByte
        over.message += "x"
        assertWireError(.fieldTooLong(field: "Error.message", length: 257, limit: 256)) { () throws(WireError) in
            try ErrorMessage(decoding: over.encoded())
        }
    }

    func testRecordCountLimit() throws {
        let thousand = (0..<1000).map(CodecFixtures.signed)
        let extra = thousand + [CodecFixtures.signed(1000)]
        let frames: [(Frame, Frame)] = [
            (.peerResponse(PeerResponse(requestID: 1, records: thousand, next: nil)),
             .peerResponse(PeerResponse(requestID: 1, records: extra, next: nil))),
            (.peerAnnouncement(PeerAnnouncement(records: thousand)), .peerAnnouncement(PeerAnnouncement(records: extra))),
            (.peerUpdate(PeerUpdate(records: thousand)), .peerUpdate(PeerUpdate(records: extra))),
        ]
        for (fits, over) in frames {
            XCTAssertEqual(try Frame(decoding: fits.encoded()), fits)
            assertWireError(.tooManyRecords(count: 1001, limit: 1000)) { () throws(WireError) in
                try Frame(decoding: over.encoded())
            }
        }
    }

    func testFrameSizeIsCheckedBeforeParsing() {
        let garbage = [UInt8](repeating: 0xff, count: WireLimits.maxFrameSize + 1)
        assertWireError(.frameTooLarge(length: 262_145, limit: 262_144)) { () throws(WireError) in
            try Frame(decoding: garbage)
        }
        let ping = Frame.ping(Ping(nonce: 1)).encoded()
        assertWireError(.frameTooLarge(length: 4, limit: 3)) { () throws(WireError) in try Frame(decoding: ping, maxSize: 3) }
        XCTAssertEqual(try Frame(decoding: ping, maxSize: 4), .ping(Ping(nonce: 1)))
        assertWireError(.frameTooLarge(length: 262_145, limit: 262_144)) { () throws(WireError) in
            try Hello(decoding: garbage)
        }
    }

    func testDecodingAThousandRecordResponseIsFast() throws {
        let response = Frame.peerResponse(PeerResponse(requestID: 1, records: (0..<1000).map(CodecFixtures.signed), next: nil))
        let bytes = response.encoded()
        XCTAssertLessThan(bytes.count, WireLimits.maxFrameSize)
        let start = ContinuousClock.now
        for _ in 0..<20 { XCTAssertEqual(try Frame(decoding: bytes), response) }
        // Generous bound (debug build, shared machine): about 1 ms per decode is expected.
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
    }
}

/// The derived sizes both ends of an exchange count with (PROTOCOL.md §17.2, §20.1).
final class MessageSizeTests: XCTestCase {
    func testRecordsAskedReadsZeroAsTheMaximumAndCapsAtIt() {
        XCTAssertEqual(PeerRequest(requestID: 1, maxPeers: 0).recordsAsked, WireLimits.maxRecordsPerMessage)
        XCTAssertEqual(PeerRequest(requestID: 1, maxPeers: 10).recordsAsked, 10)
        XCTAssertEqual(PeerRequest(requestID: 1, maxPeers: UInt32.max).recordsAsked, WireLimits.maxRecordsPerMessage)
    }

    func testListedSizeCountsBothFieldsAndTheirFraming() {
        let record = SignedPeerRecord(record: [UInt8](repeating: 1, count: 100), signature: [UInt8](repeating: 2, count: 64))
        XCTAssertEqual(record.listedSize, 172)
        // The count never undershoots the encoding: a message of such records fits its budget.
        let encoded = Frame.peerAnnouncement(PeerAnnouncement(records: [record, record])).encoded()
        XCTAssertLessThanOrEqual(encoded.count, 2 * record.listedSize + 64)
    }
}
