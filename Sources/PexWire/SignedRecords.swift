/// Creation and verification of signed peer records (docs/PROTOCOL.md, "Peer records").
///
/// Verification is split in two stages so that a caller can put its own cheap checks (a roster
/// lookup, say) between the structural checks and the signature: `SignedPeerRecord.parse`
/// does everything that needs neither a signature check nor a clock, `UnverifiedPeerRecord.verify`
/// the rest. `SignedPeerRecord.verify` runs both.

/// A signed record whose structure, network id and addresses are valid; its key, signature,
/// seq and expiry are not checked yet.
///
/// The key is checked to be a valid Ed25519 point only in `verify`: the check costs a scalar
/// multiplication (tens of microseconds), the price class of a signature, not of parsing.
///
/// Immutable; its fields live in one shared object (one reference count per copy), which a
/// `VerifiedPeerRecord` made from it shares too.
public struct UnverifiedPeerRecord: Hashable, Sendable {
    fileprivate final class Storage: Sendable {
        let signed: SignedPeerRecord
        let record: PeerRecord
        let publicKeyBytes: [UInt8]
        let addresses: [Multiaddr]

        init(signed: SignedPeerRecord, record: PeerRecord, publicKeyBytes: [UInt8], addresses: [Multiaddr]) {
            self.signed = signed
            self.record = record
            self.publicKeyBytes = publicKeyBytes
            self.addresses = addresses
        }
    }

    fileprivate let storage: Storage

    init(signed: SignedPeerRecord, record: PeerRecord, publicKeyBytes: [UInt8], addresses: [Multiaddr]) {
        storage = Storage(signed: signed, record: record, publicKeyBytes: publicKeyBytes, addresses: addresses)
    }

    /// The record as received.
    public var signed: SignedPeerRecord { storage.signed }
    /// The decoded record.
    public var record: PeerRecord { storage.record }
    /// The record's key, 32 bytes, not yet checked to be a valid Ed25519 point.
    public var publicKeyBytes: [UInt8] { storage.publicKeyBytes }
    /// The record's addresses, each parsed and dialable.
    public var addresses: [Multiaddr] { storage.addresses }

    // The other fields are decoded from the signed bytes.
    public static func == (lhs: UnverifiedPeerRecord, rhs: UnverifiedPeerRecord) -> Bool {
        lhs.storage === rhs.storage || lhs.signed == rhs.signed
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(signed)
    }

    /// Checks the key, the signature, then the seq, then the expiry.
    ///
    /// - Parameters:
    ///   - now: The verifier's current Unix time, in seconds.
    ///   - crypto: Signature verification to use.
    /// - Returns: The record, verified.
    /// - Throws: `WireError.invalidPublicKey`, `.badSignature`, `.zeroSeq`, `.expired` or `.expiryTooFar`.
    public func verify(now: UInt64, crypto: some CryptoProvider = SodiumCrypto()) throws(WireError) -> VerifiedPeerRecord {
        guard let publicKey = crypto.publicKey(publicKeyBytes) else {
            throw .invalidPublicKey("not a canonical encoding of a prime-order curve point")
        }
        guard crypto.verify(signature: signed.signature, payload: signed.record, domain: .peerRecord, publicKey: publicKey)
        else { throw .badSignature }
        guard record.seq >= 1 else { throw .zeroSeq }
        try Self.checkExpiry(record.expiresAt, now: now)
        return VerifiedPeerRecord(unverified: self, publicKey: publicKey)
    }

    /// Fails when `expiresAt` is not after `now` or further than the maximum lifetime ahead.
    static func checkExpiry(_ expiresAt: UInt64, now: UInt64) throws(WireError) {
        guard expiresAt > now else { throw .expired(expiresAt: expiresAt, now: now) }
        let (limit, overflow) = now.addingReportingOverflow(WireLimits.maxRecordLifetimeSeconds)
        guard overflow || expiresAt <= limit else { throw .expiryTooFar(expiresAt: expiresAt, now: now) }
    }
}

/// A peer record that passed every check of the validation pipeline.
///
/// Immutable, and held by many tables (the address book, connections, answers, relays): it
/// shares the parsed record's storage object, so a copy costs two reference counts (that
/// object and the key), not one per buffer.
public struct VerifiedPeerRecord: Hashable, Sendable {
    private let parsed: UnverifiedPeerRecord.Storage
    /// The record's key, checked to be a valid Ed25519 point.
    public let publicKey: PublicKey

    /// The record as received; relay it as is, never re-signed or re-encoded.
    public var signed: SignedPeerRecord { parsed.signed }
    /// The decoded record.
    public var record: PeerRecord { parsed.record }
    /// The record's addresses, each parsed and dialable.
    public var addresses: [Multiaddr] { parsed.addresses }

    init(unverified: UnverifiedPeerRecord, publicKey: PublicKey) {
        parsed = unverified.storage
        self.publicKey = publicKey
    }

    // Everything else is decoded from the signed bytes: equal bytes and key mean equal records.
    public static func == (lhs: VerifiedPeerRecord, rhs: VerifiedPeerRecord) -> Bool {
        (lhs.parsed === rhs.parsed || lhs.signed == rhs.signed) && lhs.publicKey == rhs.publicKey
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(signed)
    }

    public var seq: UInt64 { parsed.record.seq }
    public var expiresAt: UInt64 { parsed.record.expiresAt }
    public var peerID: PeerID { publicKey.peerID }

    /// Whether `self` replaces `other` in an address book: same key, higher seq.
    public func supersedes(_ other: VerifiedPeerRecord) -> Bool {
        publicKey == other.publicKey && seq > other.seq
    }

    /// Same key and seq but different signed bytes: the signer equivocated, and the two
    /// records together are the evidence.
    public func equivocates(with other: VerifiedPeerRecord) -> Bool {
        publicKey == other.publicKey && seq == other.seq && signed != other.signed
    }
}

extension SignedPeerRecord {
    /// Encodes and signs a record for `keyPair`.
    ///
    /// The record is checked as a verifier would check it (except the clock), so a node can never
    /// publish a record that its peers reject for its shape.
    /// - Parameters:
    ///   - keyPair: The signer; its public key becomes the record's key.
    ///   - seq: Sequence number, at least 1, higher than any earlier record of this key.
    ///   - addresses: 1 to 10 dialable addresses.
    ///   - networkID: The network the record belongs to.
    ///   - expiresAt: Unix time (seconds) after which the record is invalid.
    ///   - crypto: Signing provider.
    /// - Returns: The signed record.
    /// - Throws: `WireError` for a record its peers would reject on structure.
    public static func create(
        keyPair: KeyPair, seq: UInt64, addresses: [Multiaddr], networkID: String, expiresAt: UInt64,
        crypto: some CryptoProvider = SodiumCrypto()
    ) throws(WireError) -> SignedPeerRecord {
        guard seq >= 1 else { throw .zeroSeq }
        let record = PeerRecord(
            publicKey: keyPair.publicKey.bytes, seq: seq, addresses: addresses.map(\.bytes),
            networkID: networkID, expiresAt: expiresAt)
        let bytes = record.encoded()
        let signed = SignedPeerRecord(
            record: bytes, signature: crypto.sign(payload: bytes, domain: .peerRecord, keyPair: keyPair))
        _ = try signed.parse(networkID: networkID)
        return signed
    }

    /// Structural stage of verification: size, record decoding, network id, key, addresses.
    ///
    /// - Parameter networkID: The verifier's network id.
    /// - Returns: The decoded record, still unverified.
    /// - Throws: The first `WireError` found, checked cheapest first.
    public func parse(networkID: String) throws(WireError) -> UnverifiedPeerRecord {
        // An empty record would decode as a PeerRecord of defaults; name the real fault.
        guard !self.record.isEmpty else { throw .missingField("SignedPeerRecord.record") }
        guard self.record.count <= WireLimits.maxRecordSize else {
            throw .fieldTooLong(field: "SignedPeerRecord.record", length: self.record.count, limit: WireLimits.maxRecordSize)
        }
        guard signature.count == WireLimits.signatureLength else {
            throw .wrongFieldLength(field: "SignedPeerRecord.signature", length: signature.count, expected: WireLimits.signatureLength)
        }
        // As `PeerRecord(decoding:)`, without the generic-collection detour.
        let record = try self.record.withUnsafeBufferPointer { (buffer) throws(WireError) in
            try PeerRecord.protobufCDecode(UnsafeRawBufferPointer(buffer), limit: PeerRecord.maxEncodedSize)
        }
        guard record.networkID == networkID else { throw .wrongNetwork(expected: networkID, actual: record.networkID) }
        // PeerRecord decoding guarantees a 32-byte key; its point validity is checked in `verify`.
        let key = record.publicKey
        var ownPeerID: [UInt8]?
        var addresses: [Multiaddr] = []
        addresses.reserveCapacity(record.addresses.count)
        for (index, bytes) in record.addresses.enumerated() {
            let address: Multiaddr
            var leading = Multiaddr.LeadingSpans()
            do { address = try Multiaddr(bytes: bytes, leading: &leading) } catch { throw .badAddress(index: index, error) }
            // The checks of `dialTarget()`, without building the target.
            let shape: Multiaddr.DialShape
            do { shape = try address.dialShape(&leading) } catch {
                throw .undialableAddress(index: index, reason: error.reason)
            }
            if let peer = shape.peerID {
                let own = ownPeerID ?? PeerID.multihash(ofKey: key)
                ownPeerID = own
                if !bytes[peer].elementsEqual(own) {
                    throw .undialableAddress(index: index, reason: "/p2p names another key")
                }
            }
            addresses.append(address)
        }
        return UnverifiedPeerRecord(signed: self, record: record, publicKeyBytes: key, addresses: addresses)
    }

    /// Runs the whole validation pipeline: `parse`, then signature, seq and expiry.
    ///
    /// - Parameters:
    ///   - networkID: The verifier's network id.
    ///   - now: The verifier's current Unix time, in seconds.
    ///   - crypto: Signature verification to use.
    /// - Returns: The verified record.
    /// - Throws: The first `WireError` found.
    public func verify(networkID: String, now: UInt64, crypto: some CryptoProvider = SodiumCrypto()) throws(WireError) -> VerifiedPeerRecord {
        try parse(networkID: networkID).verify(now: now, crypto: crypto)
    }
}
