import PexWire

/// Target `record`: arbitrary bytes as a serialised `SignedPeerRecord`, as kept in a store or
/// received inside a frame, decoded and verified with `SignedPeerRecord.verify` for a fixed
/// network id and clock, with the real (libsodium) signature check.
///
/// Checked invariants:
/// - The signed record and, when it decodes, the inner `PeerRecord` survive re-encoding.
/// - A key that validates round-trips through its libp2p peer ID (binary and base58 text).
/// - Every address of the record that parses as a multiaddr passes the multiaddr invariants.
/// - Verification agrees with its parts: `verify` fails with `parse`'s error when `parse` fails;
///   a record `parse` accepts decodes to the same `PeerRecord` as `PeerRecord(decoding:)`, and
///   its addresses are exactly the record's, each dialable by `Multiaddr.dialTarget()` (the
///   allocation-free checks of `parse` must agree with it).
/// - A record that verifies stops verifying when one bit of its bytes or of its signature changes,
///   and its signature does not verify in another domain.
public enum RecordCheck {
    /// The network the verifier belongs to: that of the golden vectors (Tests/Vectors), so that
    /// their records are seeds that verify; the generated seed records use it too.
    public static let networkID = "pex-test"
    /// The verifier's clock (Unix seconds, November 2023), also the golden vectors' `now`; the
    /// generated seed records expire a week later.
    public static let now: UInt64 = 1_700_000_000

    /// Runs the check on one input.
    /// - Parameter input: The bytes of a serialised `SignedPeerRecord`.
    /// - Throws: `FuzzFailure` when an invariant does not hold.
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        guard let signed = try? SignedPeerRecord(decoding: input) else { return }
        try roundTrip(signed, target: .record)
        let record = try? PeerRecord(decoding: signed.record)
        if let record {
            if let key = try? PublicKey(bytes: record.publicKey) { try checkPeerID(of: key) }
            for bytes in record.addresses {
                if let address = try? Multiaddr(bytes: bytes) { try MultiaddrCheck.checkParsed(address) }
            }
        }
        let parsed = Result { () throws(WireError) in try signed.parse(networkID: networkID) }
        let verified = Result { () throws(WireError) in try signed.verify(networkID: networkID, now: now) }
        switch parsed {
        case let .failure(error):
            guard case .failure(error) = verified else {
                throw FuzzFailure(.record, "parse fails (\(error)) but verify gives \(verified)")
            }
        case let .success(unverified):
            try checkParsed(unverified, decoded: record)
            if case let .success(valid) = verified {
                guard valid.record == unverified.record, valid.addresses == unverified.addresses,
                      valid.publicKey.bytes == unverified.publicKeyBytes else {
                    throw FuzzFailure(.record, "verify and parse disagree on \(unverified.record)")
                }
                try checkTamperingDetected(signed, key: valid.publicKey)
            }
        }
    }

    /// What `parse` accepted must match the plain decoder and the full multiaddr checks.
    static func checkParsed(_ unverified: UnverifiedPeerRecord, decoded: PeerRecord?) throws(FuzzFailure) {
        guard let decoded, decoded == unverified.record else {
            throw FuzzFailure(.record, "parse decoded \(unverified.record) but PeerRecord(decoding:) gives \(String(describing: decoded))")
        }
        guard unverified.addresses.map(\.bytes) == decoded.addresses, unverified.publicKeyBytes == decoded.publicKey,
              decoded.networkID == networkID else {
            throw FuzzFailure(.record, "parse returned other addresses or key than the record holds: \(decoded)")
        }
        for (index, address) in unverified.addresses.enumerated() {
            let target: Multiaddr.DialTarget
            do {
                target = try address.dialTarget()
            } catch {
                throw FuzzFailure(.record, "parse accepted address \(index) \(address) that dialTarget() rejects: \(error)")
            }
            // A /p2p suffix must name the record's own key: the identity multihash of the libp2p
            // `PublicKey` protobuf {Type: Ed25519, Data: key}, spelled out here independently.
            if let peer = target.peerIDMultihash, peer != [0x00, 0x24, 0x08, 0x01, 0x12, 0x20] + decoded.publicKey {
                throw FuzzFailure(.record, "parse accepted address \(index) \(address) naming another key")
            }
        }
    }

    /// Round-trips a signed record and, when it decodes, its inner record.
    /// - Parameters:
    ///   - signed: A signed record that decoded.
    ///   - target: The target to blame in a failure (records also arrive inside frames).
    /// - Throws: `FuzzFailure` when re-encoding changes a value or is rejected.
    public static func roundTrip(_ signed: SignedPeerRecord, target: FuzzTarget) throws(FuzzFailure) {
        let encoded = signed.encoded()
        let again: SignedPeerRecord
        do {
            again = try SignedPeerRecord(decoding: encoded)
        } catch {
            throw FuzzFailure(target, "re-encoded SignedPeerRecord is rejected (\(error)): \(signed)")
        }
        guard again == signed, again.encoded() == encoded else {
            throw FuzzFailure(target, "SignedPeerRecord changed in a round trip: \(signed) became \(again)")
        }
        guard let record = try? PeerRecord(decoding: signed.record) else { return }
        let recordBytes = record.encoded()
        let recordAgain: PeerRecord
        do {
            recordAgain = try PeerRecord(decoding: recordBytes)
        } catch {
            throw FuzzFailure(target, "re-encoded PeerRecord is rejected (\(error)): \(record)")
        }
        guard recordAgain == record, recordAgain.encoded() == recordBytes else {
            throw FuzzFailure(target, "PeerRecord changed in a round trip: \(record) became \(recordAgain)")
        }
    }

    /// A valid key's peer ID must give the key back, from its bytes and from its text.
    static func checkPeerID(of key: PublicKey) throws(FuzzFailure) {
        let id = PeerID(publicKey: key)
        let fromBytes: PeerID
        let fromText: PeerID
        do {
            fromBytes = try PeerID(multihash: id.bytes)
            fromText = try PeerID(text: id.base58)
        } catch {
            throw FuzzFailure(.record, "peer ID \(id) of a valid key is rejected: \(error)")
        }
        guard fromBytes == id, fromText == id, fromText.publicKey == key else {
            throw FuzzFailure(.record, "peer ID of \(key) does not round-trip")
        }
    }

    /// For a record that verified: flipping any one bit of the signed bytes (a few positions) or
    /// of the signature must make the signature check fail, and so must another domain.
    static func checkTamperingDetected(_ signed: SignedPeerRecord, key: PublicKey) throws(FuzzFailure) {
        let positions = Set([0, signed.record.count / 2, signed.record.count - 1]).filter { $0 >= 0 }
        for position in positions.sorted() {
            var payload = signed.record
            payload[position] ^= 0x01
            if key.verify(signature: signed.signature, payload: payload, domain: .peerRecord) {
                throw FuzzFailure(.record, "signature still verifies after flipping record byte \(position)")
            }
        }
        for position in [0, 31, 32, 63] where position < signed.signature.count {
            var signature = signed.signature
            signature[position] ^= 0x01
            if key.verify(signature: signature, payload: signed.record, domain: .peerRecord) {
                throw FuzzFailure(.record, "signature still verifies after flipping signature byte \(position)")
            }
        }
        if key.verify(signature: signed.signature, payload: signed.record, domain: .auth) {
            throw FuzzFailure(.record, "a record signature verifies in the auth domain")
        }
    }
}
