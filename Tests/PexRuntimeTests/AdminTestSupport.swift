import PexCore
import PexRuntime
import PexWire
import XCTest

/// Real signed and verified records for admin tests.
enum AdminFixtures {
    static let now: UInt64 = 1_700_000_000

    static func record(seq: UInt64 = 7, port: Int = 4001, key: KeyPair = .generate()) throws -> VerifiedPeerRecord {
        let signed = try SignedPeerRecord.create(
            keyPair: key, seq: seq, addresses: [Multiaddr("/ip4/1.2.3.4/tcp/\(port)"), Multiaddr("/dns4/a.example/tcp/\(port)")],
            networkID: "fed", expiresAt: now + 3600)
        return try signed.verify(networkID: "fed", now: now)
    }

    static func snapshot(entries: [AdminSnapshot.Entry], ready: [PublicKey], metrics: NodeMetrics = NodeMetrics(),
                         identity: PublicKey = KeyPair.generate().publicKey) throws -> AdminSnapshot {
        AdminSnapshot(
            state: .maintenance, publicKey: identity, networkID: "fed", agent: "pex/0.1.0", ownSeq: 42,
            listenAddresses: [try Multiaddr("/ip4/127.0.0.1/tcp/4001")], readyPeers: ready, inbound: 2, outbound: 3,
            peers: entries, metrics: metrics, startedAt: .unix(seconds: now - 100),
            now: Instant(nanoseconds: (now + 25) * 1_000_000_000 + 999_999_999))
    }
}
