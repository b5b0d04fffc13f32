import XCTest
@testable import PexWire

/// The allocation-free decoding paths: the unpack arena, the raw-byte network id check, ASCII
/// strings, the fast varint reads of binary multiaddrs and the dial checks of `parse`. Each must
/// give exactly what the general path gives.
final class DecodePathTests: XCTestCase {
    // MARK: Unpack arena

    func testArenaBlocksAreAlignedSizedAndDisjointAcrossChunks() {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: UnpackArena.alignment) { inline in
            var arena = UnpackArena(inline: inline, inputSize: 0)
            defer { arena.releaseChunks() }
            var blocks: [(UnsafeMutableRawPointer, Int)] = []
            // 64 inline bytes, then a 4 KiB chunk, then doubling chunks and one oversized block.
            for size in [0, 1, 7, 8, 9, 30, 100, 3000, 5000, 20_000, 1, 2] {
                guard let block = arena.allocate(size) else { return XCTFail("allocation of \(size) failed") }
                XCTAssertEqual(Int(bitPattern: block) % UnpackArena.headerSize, 0, "size \(size)")
                XCTAssertEqual((block - UnpackArena.headerSize).load(as: Int.self), size)
                block.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: size), count: size)
                blocks.append((block, size))
            }
            XCTAssertTrue(blocks.contains { inline.baseAddress! <= $0.0 && $0.0 < inline.baseAddress! + inline.count })
            // Filling each block left every other block and its header untouched.
            for (block, size) in blocks {
                XCTAssertEqual((block - UnpackArena.headerSize).load(as: Int.self), size)
                let bytes = UnsafeBufferPointer(start: block.assumingMemoryBound(to: UInt8.self), count: size)
                XCTAssertTrue(bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: size) }, "size \(size)")
            }
        }
    }

    func testArenaRefusesAbsurdSizes() {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: UnpackArena.alignment) { inline in
            var arena = UnpackArena(inline: inline, inputSize: 0)
            defer { arena.releaseChunks() }
            XCTAssertNil(arena.allocate(-1))
            XCTAssertNil(arena.allocate(Int.max))
            XCTAssertNil(arena.allocate(Int.max / 2 + 1))
            XCTAssertNotNil(arena.allocate(16))
        }
    }

    func testMessageWhoseUnpackedFormOutgrowsTheFirstChunk() throws {
        // 20 000 packed one-byte enums unpack to 80 000 bytes, four times the input: the arena
        // has to grow, and the limit is still reported once the whole message is unpacked.
        var hello = CodecFixtures.hello()
        hello.capabilities = (0..<20_000).map { Capability(rawValue: UInt32($0 % 100)) }
        assertWireError(.fieldTooLong(field: "Hello.capabilities", length: 20_000, limit: WireLimits.maxCapabilities)) {
            () throws(WireError) in try Frame(decoding: Frame.hello(hello).encoded())
        }
        hello.capabilities = (0..<32).map { Capability(rawValue: UInt32($0)) }
        XCTAssertEqual(try Frame(decoding: Frame.hello(hello).encoded()), .hello(hello))
    }

    func testLargestResponseDecodesFromTheArena() throws {
        let records = (0..<WireLimits.maxRecordsPerMessage).map(CodecFixtures.signed)
        let frame = Frame.peerResponse(PeerResponse(requestID: 9, records: records, next: nil))
        let decoded = try Frame(decoding: frame.encoded())
        XCTAssertEqual(decoded, frame)
        guard case let .peerResponse(response) = decoded else { return XCTFail("not a response") }
        // The copies outlive the arena they were read from.
        XCTAssertEqual(try PeerRecord(decoding: response.records[999].record), CodecFixtures.record(999))
    }

    // MARK: Strings

    func testEveryOneByteNetworkIDDecodesAsTheGeneralPathWould() {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-".utf8)
        let base = CodecFixtures.record(1).encoded()
        for byte in UInt8.min...UInt8.max {
            // Field 4 again: the last value of a singular field wins.
            let bytes = base + [0x22, 0x01, byte]
            let field = "PeerRecord.network_id"
            if allowed.contains(byte) {
                XCTAssertEqual(try PeerRecord(decoding: bytes).networkID, String(UnicodeScalar(byte)))
                XCTAssertNoThrow(try WireLimits.validateNetworkID(String(UnicodeScalar(byte))))
            } else if byte == 0 {
                assertWireError(.malformed(message: "\(field) (NUL byte in string)")) { () throws(WireError) in
                    try PeerRecord(decoding: bytes)
                }
            } else if byte >= 0x80 {
                assertWireError(.invalidUTF8(field: field)) { () throws(WireError) in try PeerRecord(decoding: bytes) }
            } else {
                let id = String(UnicodeScalar(byte))
                assertWireError(.badNetworkID(id)) { () throws(WireError) in try PeerRecord(decoding: bytes) }
                assertWireError(.badNetworkID(id)) { () throws(WireError) in try WireLimits.validateNetworkID(id) }
            }
        }
    }

    func testNonASCIIStringsStillDecode() throws {
        let message = ErrorMessage(code: .unspecified, message: "día ✓ 𝄞", closing: false)
        XCTAssertEqual(try ErrorMessage(decoding: message.encoded()), message)
        var hello = CodecFixtures.hello()
        hello.agent = "nœud/1.0"
        XCTAssertEqual(try Hello(decoding: hello.encoded()), hello)
        // A valid multi-byte id is still not a network id.
        var record = CodecFixtures.record(1)
        record.networkID = "réseau"
        assertWireError(.badNetworkID("réseau")) { () throws(WireError) in try PeerRecord(decoding: record.encoded()) }
    }

    // MARK: Multiaddr

    func testComponentsAreDerivedFromTheBinaryForm() throws {
        let name = String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 63) + ".example"
        let text = "/dns4/\(name)/udp/65535/quic-v1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        let parsed = try Multiaddr(text)
        // 135-byte name: its length is a two-byte varint (0x87 0x01).
        XCTAssertEqual(Array(parsed.bytes[0..<3]), [0x36, 0x87, 0x01])
        let decoded = try Multiaddr(bytes: parsed.bytes)
        XCTAssertEqual(decoded.components, parsed.components)
        XCTAssertEqual(decoded.components.map(\.protocolID), [.dns4, .udp, .quicV1, .p2p])
        XCTAssertEqual(decoded.text, text)
        XCTAssertEqual(decoded.dnsName, name)
        XCTAssertEqual(decoded.port, 65535)
        XCTAssertEqual(decoded.peerIDMultihash, decoded.components.last?.value)
        XCTAssertEqual(try decoded.dialTarget().host, .dns(name: name, family: .ipv4Only))
        let joined = try Multiaddr("/ip6/2001:db8::1/tcp/1").encapsulating(Multiaddr("/p2p/\(text.split(separator: "/").last!)"))
        XCTAssertEqual(try Multiaddr(bytes: joined.bytes).components.map(\.protocolID), [.ip6, .tcp, .p2p])
    }

    func testTwoByteVarintsMatchTheGeneralReader() {
        // udp (0x0111) and quic-v1 (0x01cd) codes, a 0x80 continuation that ends early, and a
        // non-minimal two-byte code.
        XCTAssertEqual(try Multiaddr(bytes: [0x04, 1, 2, 3, 4, 0x91, 0x02, 0, 9, 0xcd, 0x03]).text, "/ip4/1.2.3.4/udp/9/quic-v1")
        XCTAssertThrowsError(try Multiaddr(bytes: [0x04, 1, 2, 3, 4, 0x91])) { XCTAssertEqual($0 as? MultiaddrError, .truncated) }
        XCTAssertThrowsError(try Multiaddr(bytes: [0x84, 0x00])) { XCTAssertEqual($0 as? MultiaddrError, .badVarint) }
        XCTAssertThrowsError(try Multiaddr(bytes: [0x80, 0x80, 0x01])) { error in
            XCTAssertEqual(error as? MultiaddrError, .unknownProtocol("0x4000"))
        }
    }

    func testLeadingSpansKeepTheFirstFive() throws {
        let address = try Multiaddr("/ip4/192.0.2.1/tcp/1/tcp/2/tcp/3/tcp/4/tcp/5/tcp/6")
        var leading = Multiaddr.LeadingSpans()
        _ = try Multiaddr(bytes: address.bytes, leading: &leading)
        var kept: [[UInt8]] = []
        while let span = leading.next() { kept.append(Array(address.bytes[span.value])) }
        XCTAssertEqual(kept, address.components.prefix(5).map(\.value))
        XCTAssertNil(leading.next())
    }

    func testParseAcceptsExactlyTheDialableAddresses() throws {
        let key = try KeyPair(seed: [UInt8](repeating: 4, count: 32))
        let own = key.publicKey.peerID.base58
        let texts = [
            "/ip4/192.0.2.1/tcp/1", "/ip6/::1/udp/2/quic-v1", "/dns/a.example/tcp/3/p2p/\(own)",
            "/dns6/a.example/udp/4/quic-v1/p2p/\(own)", "/ip4/192.0.2.1/tcp/0", "/tcp/1", "/ip4/192.0.2.1",
            "/ip4/192.0.2.1/udp/5", "/ip4/192.0.2.1/udp/5/tcp/6", "/ip4/192.0.2.1/tcp/1/quic-v1",
            "/ip4/192.0.2.1/tcp/1/p2p/\(own)/tcp/2", "/p2p/\(own)", "/ip4/192.0.2.1/quic-v1",
            "/ip4/192.0.2.1/udp/1/quic-v1/p2p/\(own)/tcp/2/tcp/3/tcp/4",
        ]
        for text in texts {
            let address = try Multiaddr(text)
            let record = PeerRecord(
                publicKey: key.publicKey.bytes, seq: 1, addresses: [address.bytes], networkID: "n", expiresAt: 1)
            let signed = SignedPeerRecord(record: record.encoded(), signature: [UInt8](repeating: 0, count: 64))
            let target: Multiaddr.DialTarget
            do { target = try address.dialTarget() } catch {
                assertWireError(.undialableAddress(index: 0, reason: error.reason)) { () throws(WireError) in
                    try signed.parse(networkID: "n")
                }
                continue
            }
            let parsed = try signed.parse(networkID: "n")
            XCTAssertEqual(parsed.addresses, [address], text)
            XCTAssertEqual(target.peerIDMultihash, address.peerIDMultihash, text)
        }
    }
}
