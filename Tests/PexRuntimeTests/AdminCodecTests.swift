import CPexProto
import PexCore
import PexRuntime
import PexWire
import XCTest

final class AdminCodecTests: XCTestCase {
    func testRequestsRoundTripThroughProtobufC() throws {
        let key = KeyPair.generate().publicKey
        let requests: [AdminRequest] = [
            .status, .peers(connectedOnly: false), .peers(connectedOnly: true), .metrics, .exportPeers,
            .addBootstrap(try Multiaddr("/dns4/seed.example/tcp/4001")),
            .removeBootstrap(try Multiaddr("/ip4/1.2.3.4/tcp/1")), .connect(try Multiaddr("/ip6/::1/tcp/2")),
            .disconnect(key),
        ]
        var encodings = Set<[UInt8]>()
        for request in requests {
            let bytes = request.encoded()
            XCTAssertFalse(bytes.isEmpty, "\(request)")
            encodings.insert(bytes)
            XCTAssertEqual(try AdminRequest(decoding: bytes), request)
            XCTAssertEqual(request.delimited(), [UInt8(bytes.count)] + bytes)
        }
        XCTAssertEqual(encodings.count, requests.count, "every request has its own encoding")
        // Known bytes: field 1 (status), empty message.
        XCTAssertEqual(AdminRequest.status.encoded(), [0x0a, 0x00])
        XCTAssertEqual(AdminRequest.peers(connectedOnly: true).encoded(), [0x12, 0x02, 0x08, 0x01])
    }

    func testResponsesRoundTripThroughProtobufC() throws {
        let record = try AdminFixtures.record()
        let status = AdminStatus(
            state: .initialSync, publicKey: record.publicKey, networkID: "fed", readyPeers: 3, knownRecords: 100,
            uptimeSeconds: 3600, inbound: 4, outbound: 8, ownSeq: 1_700_000_000,
            listenAddresses: [try Multiaddr("/ip4/0.0.0.0/tcp/4001"), try Multiaddr("/ip6/::/tcp/4001")], agent: "pex/0.1.0")
        let peer = AdminPeer(
            publicKey: record.publicKey, seq: 9, addresses: record.addresses, expiresAt: 5, connected: true,
            table: .tried, lastSeen: 6, lastSuccess: 7, attempts: 2)
        var responses: [AdminResponse] = [
            .status(status), .peers([]), .peers([peer, AdminPeer(publicKey: record.publicKey, seq: 1, addresses: [],
                                                                 expiresAt: 0, connected: false, table: .unspecified,
                                                                 lastSeen: 0, lastSuccess: 0, attempts: 0)]),
            .metrics(""), .metrics("# HELP x y\nx 1\n"), .exportPeers([]), .exportPeers([record.signed, record.signed]),
            .accepted, .error("no such peer"), .error(""),
        ]
        for state in AdminNodeState.allCases {
            var s = status
            s.state = state
            responses.append(.status(s))
        }
        for table in AdminPeerTable.allCases {
            var p = peer
            p.table = table
            responses.append(.peers([p]))
        }
        for response in responses {
            let bytes = response.encoded()
            XCTAssertEqual(try AdminResponse(decoding: bytes), response)
            var frames = FrameDecoder(maxFrameSize: AdminLimits.maxMessageSize)
            frames.append(response.delimited())
            XCTAssertEqual(try frames.nextFrameBytes(), bytes)
            XCTAssertEqual(frames.buffered, 0)
        }
        XCTAssertEqual(AdminResponse.accepted.encoded(), [0x2a, 0x00])
    }

    func testLargeExportsExceedTheWireRecordLimit() throws {
        let record = try AdminFixtures.record()
        let many = Array(repeating: record.signed, count: WireLimits.maxRecordsPerMessage + 1)
        XCTAssertEqual(try AdminResponse(decoding: AdminResponse.exportPeers(many).encoded()), .exportPeers(many))
    }

    func testInvalidMessagesGetSpecificErrors() throws {
        func fails<M: WireMessage>(_: M.Type, _ bytes: [UInt8], _ expected: WireError, line: UInt = #line) {
            XCTAssertThrowsError(try M(decoding: bytes), line: line) { XCTAssertEqual($0 as? WireError, expected, line: line) }
        }
        // Nothing set, or a request number this version does not know (field 20).
        fails(AdminRequest.self, [], .malformed(message: "AdminRequest (no known request)"))
        fails(AdminRequest.self, [0xa2, 0x01, 0x00], .malformed(message: "AdminRequest (no known request)"))
        fails(AdminResponse.self, [], .malformed(message: "AdminResponse (no known response)"))
        fails(AdminRequest.self, [0xff], .malformed(message: "AdminRequest"))
        fails(AdminResponse.self, [0x0a, 0x05], .malformed(message: "AdminResponse"))
        // Address request with a bad multiaddr (unknown protocol code 0x7f).
        fails(AdminRequest.self, [0x2a, 0x04, 0x0a, 0x02, 0x7f, 0x00], .badAddress(index: 0, .unknownProtocol("0x7f")))
        fails(AdminRequest.self, [0x3a, 0x00], .badAddress(index: 0, .empty))
        // Disconnect with a 3-byte key.
        fails(AdminRequest.self, [0x42, 0x05, 0x0a, 0x03, 1, 2, 3],
              .wrongFieldLength(field: "DisconnectRequest.public_key", length: 3, expected: 32))
        // Status: bad key, bad network id, agent too long.
        let record = try AdminFixtures.record()
        var status = AdminStatus(
            state: .maintenance, publicKey: record.publicKey, networkID: "fed", readyPeers: 0, knownRecords: 0,
            uptimeSeconds: 0, inbound: 0, outbound: 0, ownSeq: 0, listenAddresses: [], agent: "")
        status.networkID = "Bad!"
        fails(AdminResponse.self, AdminResponse.status(status).encoded(), .badNetworkID("Bad!"))
        status.networkID = ""
        fails(AdminResponse.self, AdminResponse.status(status).encoded(), .badNetworkID(""))
        status.networkID = "fed"
        status.agent = String(repeating: "a", count: 129)
        fails(AdminResponse.self, AdminResponse.status(status).encoded(),
              .fieldTooLong(field: "StatusResponse.agent", length: 129, limit: 128))
        // A peer with 11 addresses.
        let peer = AdminPeer(
            publicKey: record.publicKey, seq: 1, addresses: Array(repeating: record.addresses[0], count: 11),
            expiresAt: 0, connected: false, table: .new, lastSeen: 0, lastSuccess: 0, attempts: 0)
        fails(AdminResponse.self, AdminResponse.peers([peer]).encoded(), .tooManyAddresses(count: 11, limit: 10))
        // An error text over its limit, and an export with a short signature.
        fails(AdminResponse.self, AdminResponse.error(String(repeating: "e", count: 4097)).encoded(),
              .fieldTooLong(field: "AdminError.message", length: 4097, limit: 4096))
        let short = SignedPeerRecord(record: record.signed.record, signature: [1, 2])
        fails(AdminResponse.self, AdminResponse.exportPeers([short]).encoded(),
              .wrongFieldLength(field: "SignedPeerRecord.signature", length: 2, expected: 64))
        // Metrics text with invalid UTF-8 (field 3 → MetricsResponse, field 1 string 0xff).
        fails(AdminResponse.self, [0x1a, 0x03, 0x0a, 0x01, 0xff], .invalidUTF8(field: "MetricsResponse.text"))
        // Over the size limit: refused before parsing.
        fails(AdminRequest.self, Array(repeating: 0, count: AdminLimits.maxMessageSize + 1),
              .frameTooLarge(length: UInt64(AdminLimits.maxMessageSize + 1), limit: AdminLimits.maxMessageSize))
    }

    func testUnknownEnumValuesReadAsUnspecified() throws {
        let record = try AdminFixtures.record()
        let status = AdminStatus(
            state: .stopped, publicKey: record.publicKey, networkID: "fed", readyPeers: 0, knownRecords: 0,
            uptimeSeconds: 0, inbound: 0, outbound: 0, ownSeq: 0, listenAddresses: [], agent: "")
        var bytes = AdminResponse.status(status).encoded()
        // StatusResponse.state (field 1, varint) is the first field inside: 0x08 0x04 → 0x08 0x09.
        guard let index = bytes.firstIndex(of: 0x08), bytes[index + 1] == 4 else { return XCTFail("\(bytes)") }
        bytes[index + 1] = 9
        guard case let .status(decoded) = try AdminResponse(decoding: bytes) else { return XCTFail() }
        XCTAssertEqual(decoded.state, .unspecified)
    }

    func testRequestDecoderSplitsTheStream() throws {
        var decoder = AdminRequestDecoder()
        let stream = AdminRequest.status.delimited() + AdminRequest.metrics.delimited()
        decoder.append(stream.prefix(3))
        XCTAssertEqual(try decoder.nextRequestBytes().map { try AdminRequest(decoding: $0) }, .status)
        XCTAssertNil(try decoder.nextRequestBytes())
        decoder.append(stream.dropFirst(3))
        XCTAssertEqual(try decoder.nextRequestBytes().map { try AdminRequest(decoding: $0) }, .metrics)
        var oversized = AdminRequestDecoder()
        var prefix: [UInt8] = []
        Varint.append(UInt64(AdminRequestDecoder.maxRequestSize + 1), to: &prefix)
        oversized.append(prefix)
        XCTAssertThrowsError(try oversized.nextRequestBytes()) {
            XCTAssertEqual($0 as? WireError, .frameTooLarge(length: UInt64(AdminRequestDecoder.maxRequestSize + 1),
                                                            limit: AdminRequestDecoder.maxRequestSize))
        }
    }
}
