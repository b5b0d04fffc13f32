/// Every way bytes from the network, a record, a key or an address can be wrong.
///
/// Each case names one fault so that the protocol core can pick a reaction (drop, score,
/// disconnect, ban) and logs and metrics can count it by `reason`.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    // MARK: Framing
    /// The length prefix announces more than the frame limit in force.
    case frameTooLarge(length: UInt64, limit: Int)
    /// The length prefix is not a valid varint (too long, over 64 bits or not minimal).
    case badLengthPrefix
    /// A frame of length zero; an empty Frame has no body and is never valid.
    case emptyFrame
    /// The stream ended inside a frame.
    case truncated(expected: Int, available: Int)

    // MARK: Decoding
    /// protobuf-c could not unpack the bytes as the named message.
    case malformed(message: String)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A field is longer than its limit (bytes, or elements for repeated fields).
    case fieldTooLong(field: String, length: Int, limit: Int)
    /// A fixed-size field (key, signature, nonce) has the wrong size.
    case wrongFieldLength(field: String, length: Int, expected: Int)
    /// A message holds more records than `WireLimits.maxRecordsPerMessage`.
    case tooManyRecords(count: Int, limit: Int)
    /// A required sub-message is absent.
    case missingField(String)

    // MARK: Compression
    /// The compressed frame names a codec this side does not support.
    case unsupportedCompression(codec: UInt32)
    /// The announced or actual inflated size exceeds the limit, or differs from the announcement.
    case decompressedSizeMismatch(announced: Int, actual: Int)
    case decompressionTooLarge(limit: Int)
    /// The deflate stream is corrupt or incomplete.
    case badCompressedData(String)
    /// A Compressed frame inside a Compressed frame.
    case nestedCompression

    // MARK: Records
    /// The record declares no address or more than the limit.
    case tooFewAddresses
    case tooManyAddresses(count: Int, limit: Int)
    /// An address in a record is not a valid multiaddr.
    case badAddress(index: Int, MultiaddrError)
    /// The address is valid but not acceptable for a peer record (e.g. no transport port).
    case undialableAddress(index: Int, reason: String)
    /// The record or Hello is for another network.
    case wrongNetwork(expected: String, actual: String)
    /// The network id is empty, too long, or uses characters outside [a-z0-9._-].
    case badNetworkID(String)
    /// The signature does not verify for the record's key.
    case badSignature
    /// `expiresAt` is in the past.
    case expired(expiresAt: UInt64, now: UInt64)
    /// `expiresAt` is further in the future than `WireLimits.maxRecordLifetimeSeconds`.
    case expiryTooFar(expiresAt: UInt64, now: UInt64)
    /// seq 0 is reserved: every real record has seq ≥ 1.
    case zeroSeq

    // MARK: Keys and identities
    /// Not a valid Ed25519 public key (wrong length, not on the curve, or of small order).
    case invalidPublicKey(String)
    /// A secret key of the wrong size or whose public half does not match.
    case invalidSecretKey(String)
    /// Text that should be base64 is not.
    case invalidBase64
    /// Text that is not a valid libp2p peer ID, or one that does not embed an Ed25519 key.
    case invalidPeerID(String)

    /// A short, stable, kebab-case identifier of the case, used as a metrics label.
    public var reason: String {
        switch self {
        case .frameTooLarge: "frame-too-large"
        case .badLengthPrefix: "bad-length-prefix"
        case .emptyFrame: "empty-frame"
        case .truncated: "truncated"
        case .malformed: "malformed"
        case .invalidUTF8: "invalid-utf8"
        case .fieldTooLong: "field-too-long"
        case .wrongFieldLength: "wrong-field-length"
        case .tooManyRecords: "too-many-records"
        case .missingField: "missing-field"
        case .unsupportedCompression: "unsupported-compression"
        case .decompressedSizeMismatch: "decompressed-size-mismatch"
        case .decompressionTooLarge: "decompression-too-large"
        case .badCompressedData: "bad-compressed-data"
        case .nestedCompression: "nested-compression"
        case .tooFewAddresses: "too-few-addresses"
        case .tooManyAddresses: "too-many-addresses"
        case .badAddress: "bad-address"
        case .undialableAddress: "undialable-address"
        case .wrongNetwork: "wrong-network"
        case .badNetworkID: "bad-network-id"
        case .badSignature: "bad-signature"
        case .expired: "expired"
        case .expiryTooFar: "expiry-too-far"
        case .zeroSeq: "zero-seq"
        case .invalidPublicKey: "invalid-public-key"
        case .invalidSecretKey: "invalid-secret-key"
        case .invalidBase64: "invalid-base64"
        case .invalidPeerID: "invalid-peer-id"
        }
    }

    public var description: String {
        switch self {
        case let .frameTooLarge(length, limit): "frame of \(length) bytes exceeds the limit of \(limit)"
        case .badLengthPrefix: "frame length prefix is not a valid varint"
        case .emptyFrame: "empty frame (no body)"
        case let .truncated(expected, available): "truncated: needed \(expected) bytes, had \(available)"
        case let .malformed(message): "malformed \(message)"
        case let .invalidUTF8(field): "\(field) is not valid UTF-8"
        case let .fieldTooLong(field, length, limit): "\(field) is \(length) long, limit \(limit)"
        case let .wrongFieldLength(field, length, expected): "\(field) is \(length) bytes, expected \(expected)"
        case let .tooManyRecords(count, limit): "\(count) records in one message, limit \(limit)"
        case let .missingField(field): "missing \(field)"
        case let .unsupportedCompression(codec): "unsupported compression codec \(codec)"
        case let .decompressedSizeMismatch(announced, actual): "inflated to \(actual) bytes, announced \(announced)"
        case let .decompressionTooLarge(limit): "compressed frame inflates beyond \(limit) bytes"
        case let .badCompressedData(detail): "corrupt compressed data: \(detail)"
        case .nestedCompression: "compressed frame inside a compressed frame"
        case .tooFewAddresses: "record has no address"
        case let .tooManyAddresses(count, limit): "record has \(count) addresses, limit \(limit)"
        case let .badAddress(index, error): "address \(index): \(error)"
        case let .undialableAddress(index, reason): "address \(index) is not dialable: \(reason)"
        case let .wrongNetwork(expected, actual): "network id \"\(actual)\", expected \"\(expected)\""
        case let .badNetworkID(id): "invalid network id \"\(id)\""
        case .badSignature: "signature does not verify"
        case let .expired(expiresAt, now): "record expired at \(expiresAt) (now \(now))"
        case let .expiryTooFar(expiresAt, now): "record expiry \(expiresAt) is too far after now (\(now))"
        case .zeroSeq: "record seq is 0"
        case let .invalidPublicKey(detail): "invalid public key: \(detail)"
        case let .invalidSecretKey(detail): "invalid secret key: \(detail)"
        case .invalidBase64: "invalid base64"
        case let .invalidPeerID(detail): "invalid peer ID: \(detail)"
        }
    }
}
