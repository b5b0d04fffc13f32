import PexCore
import PexWire
import XCTest

/// Malformed and out-of-place frames sent by a raw peer: each closes the connection with the
/// Error code of docs/PROTOCOL.md §4, §8.1, §10 and §12, decoded from the bytes the node sent,
/// and scores the sender as `MisbehaviourConfig` says.
final class MalformedFrameScenarioTests: XCTestCase {
    let rawIP = "12.0.0.1"
    var rawAddress: BanSubject { .address(IPAddress(rawIP)!) }

    /// The node's last frame on the connection is an Error with `code` and `closing`, and the
    /// node asked the driver to close.
    func assertClosed(_ peer: RawPeer, code: ErrorCode, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(peer.decodeFailure, file: file, line: line)
        guard case let .error(error)? = peer.received.last else {
            return XCTFail("last frame is \(peer.received.last?.kind ?? "none"), not an Error", file: file, line: line)
        }
        XCTAssertEqual(error.code, code, "message: \(error.message)", file: file, line: line)
        XCTAssertTrue(error.closing, file: file, line: line)
        XCTAssertEqual(peer.errors.count, 1, "exactly one Error", file: file, line: line)
        XCTAssertTrue(peer.closedByNode, file: file, line: line)
    }

    func testGarbageBeforeHandshakeIsMalformedAndBansTheAddress() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        XCTAssertEqual(peer.received.map(\.kind), ["hello"])
        // A well-delimited 4-byte body that is not a protobuf Frame (field 31, wire type 7).
        peer.sendBytes([0x04, 0xff, 0xff, 0xff, 0xff])
        assertClosed(peer, code: .malformedFrame)
        // Before the handshake the only subject is the address; malformed-frame is worth 100
        // points, the ban threshold: banned for banDuration, and the ban is persisted.
        XCTAssertEqual(h.scores(of: rawAddress), [100])
        XCTAssertTrue(h.node.isBanned(rawAddress))
        let bans = h.persisted.compactMap { if case let .ban(entry) = $0 { entry } else { nil } }
        XCTAssertEqual(bans, [BanEntry(subject: rawAddress, until: h.now + .hours(24), reason: "malformed-frame")])
        // A new connection from that address is refused before any Hello, with BANNED.
        let again = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: rawIP, port: 50001)
        XCTAssertEqual(again.received.map(\.kind), ["error"])
        XCTAssertEqual(again.errors.first?.code, .banned)
        XCTAssertTrue(again.closedByNode)
        // Another address is still welcome.
        let other = RawPeer.connect(to: h, identity: RawPeer.key(3), ip: "13.0.0.1")
        other.handshake()
    }

    func testScoresAccumulatePerConfigUntilTheBan() {
        // With malformed frames worth 30 points the address is disconnected each time (no ban)
        // until the fourth offence takes it to 120 ≥ 100.
        let h = NodeHarness(config: NodeHarness.config { $0.misbehaviour.malformedFrame = 30 })
        var expected: [Int] = []
        for attempt in 0..<4 {
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP, port: 50000 + attempt)
            peer.sendBytes([0x04, 0xff, 0xff, 0xff, 0xff])
            assertClosed(peer, code: .malformedFrame)
            expected.append(30 * (attempt + 1))
            XCTAssertEqual(h.node.isBanned(rawAddress), attempt == 3, "attempt \(attempt)")
            h.handle(.closed(peer.id, reason: "closed"))
        }
        XCTAssertEqual(h.scores(of: rawAddress), expected)
    }

    func testOversizedLengthPrefixIsRejectedBeforeTheBody() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        // Before the peer's Hello the receive limit is 16 KiB: announce 16 KiB + 1 and send
        // no body at all. The node must answer on the prefix alone.
        var prefix: [UInt8] = []
        Varint.append(UInt64(WireLimits.minFrameSize + 1), to: &prefix)
        XCTAssertEqual(prefix.count, 3)
        peer.sendBytes(prefix)
        assertClosed(peer, code: .frameTooLarge)
        // frame-too-large scores as an oversized message: 50 points, disconnect but no ban.
        XCTAssertEqual(h.scores(of: rawAddress), [50])
        XCTAssertFalse(h.node.isBanned(rawAddress))
        XCTAssertEqual(h.node.metrics.rejections["frame-too-large"], 1)
    }

    func testOversizedLengthPrefixAfterTheHandshake() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.handshake()
        // Once ready the limit is the node's max_frame_size (256 KiB); 256 KiB is fine as a
        // prefix (the body would be awaited), 256 KiB + 1 is not.
        var prefix: [UInt8] = []
        Varint.append(UInt64(WireLimits.maxFrameSize + 1), to: &prefix)
        peer.sendBytes(prefix)
        assertClosed(peer, code: .frameTooLarge)
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [50])
        XCTAssertEqual(h.scores(of: rawAddress), [], "the key is the subject once known")
    }

    func testFrameBeforeTheHandshakeIsAProtocolViolation() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.send(.peerRequest(PeerRequest(requestID: 1)))
        assertClosed(peer, code: .protocolViolation)
        XCTAssertEqual(h.scores(of: rawAddress), [100])
        XCTAssertTrue(h.node.isBanned(rawAddress))
        // Nothing was answered.
        XCTAssertTrue(peer.frames("peer_response").isEmpty)
    }

    func testAuthBeforeHelloIsAProtocolViolation() {
        let h = NodeHarness(config: NodeHarness.config { $0.misbehaviour.protocolViolation = 60 })
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.send(.auth(Auth(signature: [UInt8](repeating: 1, count: 64))))
        assertClosed(peer, code: .protocolViolation)
        // 60 points: over the disconnect threshold (50), under the ban threshold (100).
        XCTAssertEqual(h.scores(of: rawAddress), [60])
        XCTAssertFalse(h.node.isBanned(rawAddress))
    }

    func testSecondHelloIsAProtocolViolationAndBansTheKey() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.handshake()
        let before = peer.received.count
        peer.sendHello()
        assertClosed(peer, code: .protocolViolation)
        XCTAssertEqual(peer.received.count, before + 1, "only the Error follows")
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [100])
        XCTAssertTrue(h.node.isBanned(.key(peer.publicKey)))
        XCTAssertFalse(h.node.readyPeers.contains(peer.publicKey))
        XCTAssertTrue(h.persisted.contains(.ban(BanEntry(subject: .key(peer.publicKey), until: h.now + .hours(24),
                                                          reason: "protocol-violation"))))
    }

    func testSecondHelloBeforeAuthIsAProtocolViolation() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.sendHello()
        XCTAssertEqual(peer.received.map(\.kind), ["hello", "auth"])
        peer.sendHello()
        assertClosed(peer, code: .protocolViolation)
        // The key in a Hello is unproven until its Auth verifies (anyone can copy a member's
        // record), so the address answers for it.
        XCTAssertEqual(h.scores(of: rawAddress), [100])
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [])
    }

    func testCompressedFrameWithoutDeflateIsAProtocolViolation() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.handshake(capabilities: [.deltaSync])  // no deflate: compression is not in effect
        let inner = Frame.ping(Ping(nonce: 7)).encoded()
        let compressed = Frame.compressed(Compressed(codec: .deflate, uncompressedSize: UInt32(inner.count),
                                                     data: Deflate.compress(inner)!))
        peer.send(compressed)
        assertClosed(peer, code: .protocolViolation)
        XCTAssertTrue(peer.frames("pong").isEmpty, "the inner Ping was not processed")
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [100])
    }

    func testBadCompressedDataWithDeflateIsMalformed() {
        let h = NodeHarness(config: NodeHarness.config { $0.misbehaviour.malformedFrame = 40 })
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.handshake(capabilities: [.deflate, .deltaSync])
        peer.send(.compressed(Compressed(codec: .deflate, uncompressedSize: 100, data: [1, 2, 3, 4])))
        assertClosed(peer, code: .malformedFrame)
        // 40 points: below the disconnect threshold, but a malformed frame always closes.
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [40])
        XCTAssertFalse(h.node.isBanned(.key(peer.publicKey)))
    }

    func testCompressedFrameWithDeflateIsProcessed() {
        // The control case: the same compressed Ping is answered when deflate was negotiated.
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.handshake(capabilities: [.deflate])
        let inner = Frame.ping(Ping(nonce: 7)).encoded()
        peer.send(.compressed(Compressed(codec: .deflate, uncompressedSize: UInt32(inner.count), data: Deflate.compress(inner)!)))
        XCTAssertEqual(peer.frames("pong"), [.pong(Pong(nonce: 7))])
        XCTAssertFalse(peer.closedByNode)
    }

    func testBadAuthSignatureIsAuthFailed() {
        let h = NodeHarness(config: NodeHarness.config())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        peer.sendHello()
        peer.send(.auth(Auth(signature: [UInt8](repeating: 9, count: 64))))
        assertClosed(peer, code: .authFailed)
        XCTAssertEqual(h.scores(of: rawAddress), [50], "an unproven key is never charged")
        XCTAssertEqual(h.scores(of: .key(peer.publicKey)), [])
        XCTAssertFalse(h.node.readyPeers.contains(peer.publicKey))
    }

    func testUnknownBodyIsIgnoredOnceReadyButAViolationBefore() {
        // [0x03 | 0xa0 0x01 0x01]: a 3-byte Frame holding field 20 = 1, a body of a later version.
        let h = NodeHarness(config: NodeHarness.config())
        let ready = RawPeer.connect(to: h, identity: RawPeer.key(1), ip: rawIP)
        ready.handshake()
        ready.sendBytes([0x03, 0xa0, 0x01, 0x01])
        XCTAssertFalse(ready.closedByNode)
        XCTAssertTrue(ready.errors.isEmpty)
        let early = RawPeer.connect(to: h, identity: RawPeer.key(2), ip: "13.0.0.1")
        early.sendBytes([0x03, 0xa0, 0x01, 0x01])
        assertClosed(early, code: .protocolViolation)
    }
}
