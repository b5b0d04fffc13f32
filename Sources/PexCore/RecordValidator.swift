import PexWire

/// What a node accepts from the records it receives.
public struct ValidationPolicy: Sendable, Equatable {
    /// The node's network id; records of any other network are invalid.
    public var networkID: String
    /// The federation's members, or `nil` for an open network. When set, the records of any
    /// other key are dropped before any signature work.
    public var roster: Set<PublicKey>?
    /// Lab mode: loopback and private addresses are acceptable (tests, local clusters).
    /// Unspecified, broadcast and multicast addresses stay unacceptable.
    public var labMode: Bool

    /// A policy.
    ///
    /// - Parameters:
    ///   - networkID: The node's network id.
    ///   - roster: The members, or `nil` to accept any key.
    ///   - labMode: Whether loopback and private addresses are acceptable.
    public init(networkID: String, roster: Set<PublicKey>? = nil, labMode: Bool = false) {
        self.networkID = networkID
        self.roster = roster
        self.labMode = labMode
    }

    /// Whether a peer may advertise `address` under this policy.
    ///
    /// Outside lab mode the address must be publicly routable (`IPAddress.isRoutable`) and not
    /// multicast. In lab mode only the addresses that can never name one host are refused: the
    /// unspecified addresses (`0.0.0.0`, `::`), the IPv4 broadcast address and multicast.
    ///
    /// - Parameter address: An IP address from a record.
    /// - Returns: `true` when the address is acceptable.
    public func accepts(_ address: IPAddress) -> Bool {
        if Self.isMulticast(address) { return false }
        if !labMode { return address.isRoutable }
        let hostBytes = address.isIPv4 ? address.bytes[12...] : address.bytes[...]
        let unspecified = hostBytes.allSatisfy { $0 == 0 }
        let broadcast = address.isIPv4 && hostBytes.allSatisfy { $0 == 0xff }
        return !unspecified && !broadcast
    }

    /// The first address of a record this policy refuses.
    ///
    /// DNS names are always acceptable here: what they resolve to is checked when dialing.
    ///
    /// - Parameter addresses: A record's addresses, in record order.
    /// - Returns: `.unroutableAddress` for the first refused IP address, or `nil` when all are fine.
    public func addressRejection(_ addresses: [Multiaddr]) -> RecordRejection? {
        // A record is acceptable when at least one address is: members often advertise a LAN
        // address next to a public one. Unacceptable addresses stay in the (signed) record but
        // are never dialled (`Node.dialAddress` applies the same policy).
        var firstRefused: (Int, Multiaddr)?
        for (index, address) in addresses.enumerated() {
            guard let ip = address.ipAddress else { return nil }
            if accepts(ip) { return nil }
            if firstRefused == nil { firstRefused = (index, address) }
        }
        guard let (index, address) = firstRefused else { return nil }
        return .unroutableAddress(index: index, address: address.text)
    }

    /// 224.0.0.0/4 or ff00::/8. `IPAddress.isRoutable` follows Bitcoin Core, which does not
    /// exclude multicast, but a multicast address never names a single peer.
    private static func isMulticast(_ address: IPAddress) -> Bool {
        address.isIPv4 ? address.bytes[12] & 0xf0 == 0xe0 : address.bytes[0] == 0xff
    }
}

/// Why a record was refused.
public enum RecordRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// The record fails a wire-level check: structure, network id, key, signature, seq or expiry.
    case invalid(WireError)
    /// A roster is configured and the record's key is not on it.
    case notAMember
    /// The policy refuses the IP address at `index` (written as multiaddr text).
    case unroutableAddress(index: Int, address: String)

    /// A short, stable, kebab-case identifier, used as a metrics label; `WireError.reason` for `.invalid`.
    public var reason: String {
        switch self {
        case let .invalid(error): error.reason
        case .notAMember: "not-a-member"
        case .unroutableAddress: "unroutable-address"
        }
    }

    public var description: String {
        switch self {
        case let .invalid(error): error.description
        case .notAMember: "key is not on the roster"
        case let .unroutableAddress(index, address): "address \(index) (\(address)) is not acceptable under the address policy"
        }
    }
}

/// The result of validating one incoming record.
public enum ValidationOutcome: Hashable, Sendable {
    /// A valid record newer than the known one (or the first of its key): store and relay it.
    /// `previous` is the record it replaces.
    case accepted(VerifiedPeerRecord, previous: VerifiedPeerRecord?)
    /// Exactly the bytes already stored for this key: nothing to do.
    case duplicate
    /// Older than the stored record of its key; dropped unverified.
    case stale(seq: UInt64, known: UInt64)
    /// Same key and seq as the stored record, different bytes, and both signatures valid: the
    /// key's owner signed two records for one seq. The two records are the evidence.
    case equivocation(new: VerifiedPeerRecord, existing: VerifiedPeerRecord)
    /// The record is refused.
    case rejected(RecordRejection)

    /// A short kebab-case label: "accepted", "duplicate", "stale", "equivocation", or the
    /// rejection's `reason`.
    public var label: String {
        switch self {
        case .accepted: "accepted"
        case .duplicate: "duplicate"
        case .stale: "stale"
        case .equivocation: "equivocation"
        case let .rejected(rejection): rejection.reason
        }
    }
}

/// Counters of a `RecordValidator`, for metrics.
public struct ValidationStatistics: Hashable, Sendable {
    /// `.accepted` outcomes.
    public var accepted = 0
    /// `.duplicate` outcomes.
    public var duplicate = 0
    /// `.stale` outcomes.
    public var stale = 0
    /// `.equivocation` outcomes.
    public var equivocation = 0
    /// Rejections by `RecordRejection.reason`. Iterate `byLabel` for a stable order.
    public var rejected: [String: Int] = [:]
    /// Signature checks that ran the `CryptoProvider`.
    public var signatureChecks = 0
    /// Signature checks answered by the signature cache instead.
    public var signatureCacheHits = 0

    /// Counters that start at zero.
    public init() {}

    /// All rejections, whatever the reason.
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }

    /// Every outcome seen at least once, as (`ValidationOutcome.label`, count), sorted by label.
    public var byLabel: [(label: String, count: Int)] {
        let outcomes = [("accepted", accepted), ("duplicate", duplicate), ("stale", stale), ("equivocation", equivocation)]
        return (outcomes.filter { $0.1 > 0 } + rejected.map { ($0.key, $0.value) })
            .sorted { $0.0 < $1.0 }
            .map { (label: $0.0, count: $0.1) }
    }

    mutating func count(_ outcome: ValidationOutcome) {
        switch outcome {
        case .accepted: accepted += 1
        case .duplicate: duplicate += 1
        case .stale: stale += 1
        case .equivocation: equivocation += 1
        case let .rejected(rejection): rejected[rejection.reason, default: 0] += 1
        }
    }
}

/// The validation pipeline every incoming record goes through.
///
/// Checks run cheapest first, so that junk costs as little as possible and no signature is
/// checked for a record that would be dropped anyway:
/// 1. **Structure** (`SignedPeerRecord.parse(networkID:)`): size, decoding, network id, address
///    syntax and dialability → `.rejected(.invalid(_))`.
/// 2. **Roster**, when configured: a key that is not a member → `.rejected(.notAMember)`.
/// 3. **Address policy** (`ValidationPolicy.addressRejection`) → `.rejected(.unroutableAddress)`.
/// 4. **Known record** of the same key (the one the caller stores):
///    identical signed bytes → `.duplicate`; a lower seq → `.stale`. Neither needs the signature:
///    nothing will be stored, and the stored record was verified when it was stored.
/// 5. **Signature** (`UnverifiedPeerRecord.verify`: key validity, signature, seq ≥ 1, expiry)
///    → `.rejected(.invalid(_))`. A signature cache remembers the signed records that passed;
///    a hit skips the key and signature checks but still checks seq and expiry against `now`.
/// 6. Same seq as the known record (different bytes, both validly signed) → `.equivocation`.
/// 7. Otherwise → `.accepted`, with the known record as `previous`.
///
/// The ordering put seq after the signature; the known-record shortcuts of step 4 come
/// first because they are cheaper and decide nothing that the signature could change.
public struct RecordValidator: Sendable {
    /// The policy in force; assign to reload (the signature cache stays valid: it depends on
    /// the record bytes only).
    public var policy: ValidationPolicy
    /// The signature verification in use.
    public let crypto: any CryptoProvider
    /// What the validator has done so far.
    public private(set) var statistics = ValidationStatistics()
    /// Signed records whose key and signature passed under `crypto`.
    private var signatureCache: BoundedSet<SignedPeerRecord>
    /// Decodes records (`DirectRecordParser` unless shared among simulated nodes).
    public let parser: any RecordParser

    /// A validator.
    ///
    /// - Parameters:
    ///   - policy: Network id, roster and address policy.
    ///   - crypto: Signature verification (`SodiumCrypto` in a real node).
    ///   - signatureCacheCapacity: How many verified signed records to remember (FIFO).
    ///   - parser: Decodes records; `DirectRecordParser` in a real node.
    public init(policy: ValidationPolicy, crypto: any CryptoProvider = SodiumCrypto(), signatureCacheCapacity: Int = 8192,
                parser: any RecordParser = DirectRecordParser()) {
        self.policy = policy
        self.crypto = crypto
        self.parser = parser
        signatureCache = BoundedSet(capacity: signatureCacheCapacity)
    }

    /// The number of signed records in the signature cache.
    public var signatureCacheCount: Int { signatureCache.count }

    /// Validates `signed` against the record the caller stores for its key.
    ///
    /// - Parameters:
    ///   - signed: The record as received.
    ///   - known: The stored record for the same key, if any. A record of another key is
    ///     ignored, as if `nil` were passed.
    ///   - now: The current time; record expiry is checked against `now.unixSeconds`.
    /// - Returns: The outcome; see the type's documentation for the order of the checks.
    public mutating func validate(_ signed: SignedPeerRecord, known: VerifiedPeerRecord?, now: Instant) -> ValidationOutcome {
        validate(signed, now: now) { key in known?.publicKey == key ? known : nil }
    }

    /// Validates `signed`, looking up the stored record for its key only once the record has
    /// passed the structural, roster and address checks.
    ///
    /// - Parameters:
    ///   - signed: The record as received.
    ///   - now: The current time; record expiry is checked against `now.unixSeconds`.
    ///   - known: Returns the stored record for a key, if any. The key passed in has not been
    ///     checked to be a valid curve point yet: use it for lookups only. A returned record of
    ///     another key is ignored.
    /// - Returns: The outcome; see the type's documentation for the order of the checks.
    public mutating func validate(
        _ signed: SignedPeerRecord, now: Instant, known: (PublicKey) -> VerifiedPeerRecord?
    ) -> ValidationOutcome {
        let parsed = parse(signed)
        var stored: VerifiedPeerRecord?
        if case let .success(record) = parsed, cheapRejection(record) == nil, let key = PublicKey(unvalidated: record.publicKeyBytes) {
            stored = known(key)
        }
        return validate(parsed, now: now, known: stored)
    }

    /// The first step of `validate`, for a caller that needs the claimed key before it can find
    /// the stored record (and so decodes each record once).
    ///
    /// - Parameter signed: The record as received.
    /// - Returns: The decoded record, or why it is malformed.
    public func parse(_ signed: SignedPeerRecord) -> Result<UnverifiedPeerRecord, WireError> {
        Result { () throws(WireError) in try parser.parse(signed, networkID: policy.networkID) }
    }

    /// Validates a record already passed through `parse(_:)`.
    ///
    /// - Parameters:
    ///   - parsed: What `parse(_:)` returned.
    ///   - now: The current time; record expiry is checked against `now.unixSeconds`.
    ///   - known: The stored record for the claimed key, if any; a record of another key is
    ///     ignored.
    /// - Returns: The outcome, as `validate(_:known:now:)` gives it.
    public mutating func validate(
        _ parsed: Result<UnverifiedPeerRecord, WireError>, now: Instant, known: VerifiedPeerRecord?
    ) -> ValidationOutcome {
        let outcome = evaluate(parsed, now: now, known: known)
        statistics.count(outcome)
        return outcome
    }

    /// The roster and address checks: what may refuse a parsed record before any lookup or
    /// signature.
    private func cheapRejection(_ unverified: UnverifiedPeerRecord) -> RecordRejection? {
        if let roster = policy.roster {
            // parse guarantees 32 bytes, so the key always wraps; it is validated in verify.
            guard let claimedKey = PublicKey(unvalidated: unverified.publicKeyBytes), roster.contains(claimedKey)
            else { return .notAMember }
        }
        return policy.addressRejection(unverified.addresses)
    }

    private mutating func evaluate(
        _ parsed: Result<UnverifiedPeerRecord, WireError>, now: Instant, known stored: VerifiedPeerRecord?
    ) -> ValidationOutcome {
        let unverified: UnverifiedPeerRecord
        switch parsed {
        case let .success(record): unverified = record
        case let .failure(error): return .rejected(.invalid(error))
        }
        let signed = unverified.signed

        if let rejection = cheapRejection(unverified) { return .rejected(rejection) }

        let known = stored.flatMap { $0.publicKey.bytes == unverified.publicKeyBytes ? $0 : nil }
        if let known {
            if known.signed == signed { return .duplicate }
            if unverified.record.seq < known.seq { return .stale(seq: unverified.record.seq, known: known.seq) }
        }

        let record: VerifiedPeerRecord
        do {
            if signatureCache.contains(signed) {
                statistics.signatureCacheHits += 1
                record = try unverified.verify(now: now.unixSeconds, crypto: AlreadyVerified(base: crypto))
            } else {
                statistics.signatureChecks += 1
                record = try unverified.verify(now: now.unixSeconds, crypto: crypto)
                signatureCache.insert(signed)
            }
        } catch {
            return .rejected(.invalid(error))
        }

        if let known {
            if record.seq == known.seq { return .equivocation(new: record, existing: known) }
            return .accepted(record, previous: known)
        }
        return .accepted(record, previous: nil)
    }
}

/// Answers the key and signature checks of a signed record found in the signature cache: those
/// exact bytes (key, payload and signature; the domain is always `.peerRecord`) passed under
/// `base` before, and the answer cannot have changed. Signing and hashing go to `base`.
private struct AlreadyVerified: CryptoProvider {
    let base: any CryptoProvider

    func verify(signature: [UInt8], payload: [UInt8], domain: SigningDomain, publicKey: PublicKey) -> Bool { true }
    func sign(payload: [UInt8], domain: SigningDomain, keyPair: KeyPair) -> [UInt8] {
        base.sign(payload: payload, domain: domain, keyPair: keyPair)
    }
    func hash256(_ data: [UInt8]) -> [UInt8] { base.hash256(data) }
    func publicKey(_ bytes: [UInt8]) -> PublicKey? { PublicKey(unvalidated: bytes) }
}
