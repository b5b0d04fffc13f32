import PexWire

/// Target `record`: arbitrary bytes as a serialised `SignedPeerRecord`, as kept in a store or
/// received inside a frame, decoded and verified with a fixed network id and clock.
///
/// Checked invariants:
/// - The signed record and, when it decodes, the inner `PeerRecord` survive re-encoding.
/// - A key that validates round-trips through its libp2p peer ID (binary and base58 text).
/// - Verification is total (any outcome but a crash is fine), and a record that verifies stops
///   verifying when one bit of its bytes or of its signature changes.
/// - Every address of the record that parses as a multiaddr passes the multiaddr invariants.
public enum RecordCheck {
    /// The network the verifier belongs to; seed records use it.
    public static let networkID = "pex-fuzz"
    /// The verifier's clock (Unix seconds, mid-June 2025); seed records expire a week later.
    public static let now: UInt64 = 1_750_000_000

    /// Runs the check on one input.
    /// - Parameter input: The bytes of a serialised `SignedPeerRecord`.
    /// - Throws: `FuzzFailure` when an invariant does not hold.
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        guard let signed = try? SignedPeerRecord(decoding: input) else { return }
        try roundTrip(signed, target: .record)
        if let record = try? PeerRecord(decoding: signed.record) {
            if let key = try? PublicKey(bytes: record.publicKey) { try checkPeerID(of: key) }
            for bytes in record.addresses {
                if let address = try? Multiaddr(bytes: bytes) { try MultiaddrCheck.checkParsed(address) }
            }
        }

        // VERIFY: stand-in for the full record verification. Once `SignedPeerRecord.verify`
        // exists, replace `verify(signed)` by it, called with `networkID` and `now`; the
        // tamper check below stays.
        let outcome = verify(signed)

        if case .success = outcome {
            try checkTamperingDetected(signed)
        }
    }

    /// Verifies a signed record the way a receiver does: structure, key, signature, network,
    /// sequence number, expiry and addresses. Every step runs even after one fails, so that the
    /// fuzzer reaches the later ones with inputs whose signature cannot be right.
    /// - Parameter signed: The decoded signed record.
    /// - Returns: The record, or the first error in receiver order.
    static func verify(_ signed: SignedPeerRecord) -> Result<PeerRecord, WireError> {
        let record: PeerRecord
        do {
            record = try PeerRecord(decoding: signed.record)
        } catch {
            return .failure(error)
        }
        var errors: [WireError] = []
        do {
            let key = try PublicKey(bytes: record.publicKey)
            if !key.verify(signature: signed.signature, payload: signed.record, domain: .peerRecord) {
                errors.append(.badSignature)
            }
        } catch {
            errors.append(error)
        }
        if record.networkID != networkID {
            errors.append(.wrongNetwork(expected: networkID, actual: record.networkID))
        }
        if record.seq == 0 { errors.append(.zeroSeq) }
        if record.expiresAt <= now { errors.append(.expired(expiresAt: record.expiresAt, now: now)) }
        if record.expiresAt > now + WireLimits.maxRecordLifetimeSeconds {
            errors.append(.expiryTooFar(expiresAt: record.expiresAt, now: now))
        }
        for (index, bytes) in record.addresses.enumerated() {
            do {
                let address = try Multiaddr(bytes: bytes)
                do {
                    _ = try address.dialTarget()
                } catch {
                    errors.append(.undialableAddress(index: index, reason: error.reason))
                }
            } catch {
                errors.append(.badAddress(index: index, error))
            }
        }
        if let first = errors.first { return .failure(first) }
        return .success(record)
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
    /// of the signature must make the signature check fail.
    static func checkTamperingDetected(_ signed: SignedPeerRecord) throws(FuzzFailure) {
        guard let record = try? PeerRecord(decoding: signed.record),
              let key = try? PublicKey(bytes: record.publicKey) else {
            throw FuzzFailure(.record, "a verified record no longer decodes")
        }
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
