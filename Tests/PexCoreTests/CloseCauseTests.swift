import PexWire
import XCTest
@testable import PexCore

/// `NodeMetrics.connectionsClosedBy`: every close is counted once, under the side and the reason
/// that ended it.
final class CloseCauseTests: XCTestCase {
    func testEvictionCountsOnceUnderTheNodesReason() {
        // 16 slots, so that some peers are left unprotected (§14.6), and one newcomer more.
        let h = NodeHarness(config: NodeHarness.config { $0.maxInbound = 16 }, crypto: InsecureFakeCrypto())
        var peers: [RawPeer] = []
        for i in 0..<17 {
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(100 + i), ip: "12.0.\(i).1")
            peer.handshake()
            peers.append(peer)
            h.advance(by: .milliseconds(100))
        }
        let evicted = peers.filter(\.closedByNode)
        XCTAssertEqual(evicted.count, 1)
        XCTAssertEqual(h.node.metrics.connectionsClosedBy, ["evicted-for-a-new-peer": 1])
        // The transport then reports the close the node asked for: not a second close.
        h.handle(.closed(evicted[0].id, reason: "closed"))
        XCTAssertEqual(h.node.metrics.connectionsClosedBy, ["evicted-for-a-new-peer": 1])
        XCTAssertEqual(h.node.metrics.connectionsClosed, 1)
    }

    func testPeerErrorsCountUnderTheirCodeAndUnknownCodesShareOneCause() {
        let h = NodeHarness(config: NodeHarness.config(), crypto: InsecureFakeCrypto())
        let codes: [ErrorCode] = [.tooManyConnections, ErrorCode(rawValue: 999), ErrorCode(rawValue: 1234)]
        for (i, code) in codes.enumerated() {
            let peer = RawPeer.connect(to: h, identity: RawPeer.key(100 + i), ip: "12.0.\(i).1")
            peer.handshake()
            peer.send(.error(ErrorMessage(code: code, message: "go away \(i)", closing: true)))
        }
        XCTAssertEqual(h.node.metrics.connectionsClosedBy, ["peer-too-many-connections": 1, "peer-unknown": 2])
    }

    func testTransportClosesAndDialFailuresAreTheirOwnCauses() {
        let bootstrap = [try! Multiaddr("/ip4/20.0.0.1/tcp/4001")]
        let h = NodeHarness(config: NodeHarness.config { $0.bootstrapPeers = bootstrap }, crypto: InsecureFakeCrypto())
        let inbound = RawPeer.connect(to: h, identity: RawPeer.key(100), ip: "12.0.0.1")
        inbound.handshake()
        h.handle(.closed(inbound.id, reason: "connection reset"))
        h.advance(by: .seconds(1))
        guard let dial = h.dials.first else { return XCTFail("the node dialled nothing") }
        h.handle(.dialFailed(dial.1, reason: "refused"))
        XCTAssertEqual(h.node.metrics.connectionsClosedBy, ["transport": 1, "dial-failed": 1])
    }

    func testHandshakeFailureCountsUnderTheReasonsHeadOnly() {
        let h = NodeHarness(config: NodeHarness.config(), crypto: InsecureFakeCrypto())
        let peer = RawPeer.connect(to: h, identity: RawPeer.key(100), ip: "12.0.0.1")
        peer.sendHello()
        h.advance(by: h.node.config.handshakeTimeout + .seconds(1))
        // "handshake failed: handshake timed out": the message after the colon is not a cause.
        XCTAssertEqual(h.node.metrics.connectionsClosedBy, ["handshake-failed": 1])
    }
}
