/// Swift values for every message of wire protocol v1 (`proto/pex/v1/*.proto`).
///
/// These are plain data: the codec (`Codec.swift`) turns them into bytes and back through
/// protobuf-c, and checks the limits of `WireLimits` while decoding. Semantic checks that need
/// keys or a clock (signatures, expiry, network id) belong to `SignedPeerRecord.verify`.

/// A peer's self-description exactly as it is signed (`pex.v1.PeerRecord`).
public struct PeerRecord: Hashable, Sendable {
    /// Ed25519 public key, 32 bytes.
    public var publicKey: [UInt8]
    /// Sequence number; higher supersedes lower for the same key.
    public var seq: UInt64
    /// Binary multiaddrs, 1 to `WireLimits.maxAddressesPerRecord`.
    public var addresses: [[UInt8]]
    /// The network the record belongs to.
    public var networkID: String
    /// Unix time (seconds) after which the record is no longer valid.
    public var expiresAt: UInt64

    public init(publicKey: [UInt8], seq: UInt64, addresses: [[UInt8]], networkID: String, expiresAt: UInt64) {
        self.publicKey = publicKey
        self.seq = seq
        self.addresses = addresses
        self.networkID = networkID
        self.expiresAt = expiresAt
    }
}

/// A serialised `PeerRecord` and the signature over those exact bytes (`pex.v1.SignedPeerRecord`).
public struct SignedPeerRecord: Hashable, Sendable {
    /// The encoded `PeerRecord`, as signed.
    public var record: [UInt8]
    /// Ed25519 signature, 64 bytes, over the record-signing domain and `record`.
    public var signature: [UInt8]

    public init(record: [UInt8], signature: [UInt8]) {
        self.record = record
        self.signature = signature
    }

    /// Bytes this record is counted for when a message of records is fitted to a peer's
    /// frame size (PROTOCOL.md §17.2): both fields plus 8 for their tags and lengths.
    public var listedSize: Int { record.count + signature.count + 8 }

    /// Compares the signatures first: records that differ almost always differ there, and a
    /// record's bytes are three times as long.
    public static func == (a: SignedPeerRecord, b: SignedPeerRecord) -> Bool {
        a.signature.sameBytes(as: b.signature) && a.record.sameBytes(as: b.record)
    }

    /// Hashes both fields as two blocks: the synthesized conformance fed the hasher one byte at
    /// a time, and the signature cache hashes every record a node receives. Both fields count,
    /// so records crafted to share a signature do not share a hash bucket.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(record.count)
        record.withUnsafeBytes { hasher.combine(bytes: $0) }
        signature.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// An optional feature advertised in `Hello`. Values this version does not know are kept, so
/// that a newer peer's list is not misread.
public struct Capability: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Frames above the compression threshold may be sent deflated.
    public static let deflate = Capability(rawValue: 1)
    /// `PeerRequest.since` is honoured.
    public static let deltaSync = Capability(rawValue: 2)

    public var description: String {
        switch self {
        case .deflate: "deflate"
        case .deltaSync: "delta-sync"
        default: "capability(\(rawValue))"
        }
    }
}

/// First frame in each direction (`pex.v1.Hello`).
public struct Hello: Hashable, Sendable {
    public var minVersion: UInt32
    public var maxVersion: UInt32
    public var networkID: String
    /// The sender's current signed record; required by validation, optional on the wire.
    public var record: SignedPeerRecord?
    /// 32 fresh random bytes for the other side to sign.
    public var nonce: [UInt8]
    public var capabilities: [Capability]
    /// Largest frame the sender accepts; 0 means `WireLimits.maxFrameSize`.
    public var maxFrameSize: UInt32
    public var agent: String

    public init(
        minVersion: UInt32 = WireLimits.protocolVersion, maxVersion: UInt32 = WireLimits.protocolVersion,
        networkID: String, record: SignedPeerRecord?, nonce: [UInt8], capabilities: [Capability] = [],
        maxFrameSize: UInt32 = 0, agent: String = ""
    ) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.networkID = networkID
        self.record = record
        self.nonce = nonce
        self.capabilities = capabilities
        self.maxFrameSize = maxFrameSize
        self.agent = agent
    }
}

/// Proof of key possession (`pex.v1.Auth`); see `AuthTranscript`.
public struct Auth: Hashable, Sendable {
    public var signature: [UInt8]
    public init(signature: [UInt8]) { self.signature = signature }
}

/// A position in a responder's change log (`pex.v1.SyncCursor`).
public struct SyncCursor: Hashable, Sendable {
    public var epoch: UInt64
    public var position: UInt64
    public init(epoch: UInt64, position: UInt64) {
        self.epoch = epoch
        self.position = position
    }
}

/// Asks for peer records (`pex.v1.PeerRequest`).
public struct PeerRequest: Hashable, Sendable {
    public var requestID: UInt64
    /// Records per response wanted; 0 means `WireLimits.maxRecordsPerMessage`.
    public var maxPeers: UInt32
    /// `nil` asks for the full list; a cursor asks for changes after it.
    public var since: SyncCursor?
    public init(requestID: UInt64, maxPeers: UInt32 = 0, since: SyncCursor? = nil) {
        self.requestID = requestID
        self.maxPeers = maxPeers
        self.since = since
    }

    /// The records this request asks for: `maxPeers`, 0 meaning, and larger values capped at,
    /// `WireLimits.maxRecordsPerMessage`. The requester credits its records bucket with it, and
    /// the responder its copy of that bucket (PROTOCOL.md §20.1).
    public var recordsAsked: Int {
        maxPeers == 0 ? WireLimits.maxRecordsPerMessage : min(Int(maxPeers), WireLimits.maxRecordsPerMessage)
    }
}

/// Answers a `PeerRequest` (`pex.v1.PeerResponse`).
public struct PeerResponse: Hashable, Sendable {
    public var requestID: UInt64
    public var records: [SignedPeerRecord]
    public var next: SyncCursor?
    /// More responses follow for this request.
    public var more: Bool
    /// This is the full list rather than a delta.
    public var full: Bool
    public init(requestID: UInt64, records: [SignedPeerRecord], next: SyncCursor?, more: Bool = false, full: Bool = false) {
        self.requestID = requestID
        self.records = records
        self.next = next
        self.more = more
        self.full = full
    }
}

/// Records of newly learned peers (`pex.v1.PeerAnnouncement`).
public struct PeerAnnouncement: Hashable, Sendable {
    public var records: [SignedPeerRecord]
    public init(records: [SignedPeerRecord]) { self.records = records }
}

/// Records superseding earlier ones of known peers (`pex.v1.PeerUpdate`).
public struct PeerUpdate: Hashable, Sendable {
    public var records: [SignedPeerRecord]
    public init(records: [SignedPeerRecord]) { self.records = records }
}

/// Keepalive probe (`pex.v1.Ping`).
public struct Ping: Hashable, Sendable {
    public var nonce: UInt64
    public init(nonce: UInt64) { self.nonce = nonce }
}

/// Keepalive answer (`pex.v1.Pong`).
public struct Pong: Hashable, Sendable {
    public var nonce: UInt64
    public init(nonce: UInt64) { self.nonce = nonce }
}

/// Why a connection is being refused or closed (`pex.v1.ErrorCode`). Unknown codes are kept.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let unspecified = ErrorCode(rawValue: 0)
    public static let protocolViolation = ErrorCode(rawValue: 1)
    public static let unsupportedVersion = ErrorCode(rawValue: 2)
    public static let wrongNetwork = ErrorCode(rawValue: 3)
    public static let authFailed = ErrorCode(rawValue: 4)
    public static let notAMember = ErrorCode(rawValue: 5)
    public static let rateLimited = ErrorCode(rawValue: 6)
    public static let banned = ErrorCode(rawValue: 7)
    public static let frameTooLarge = ErrorCode(rawValue: 8)
    public static let malformedFrame = ErrorCode(rawValue: 9)
    public static let tooManyConnections = ErrorCode(rawValue: 10)
    public static let timeout = ErrorCode(rawValue: 11)
    public static let shuttingDown = ErrorCode(rawValue: 12)
    public static let invalidRecord = ErrorCode(rawValue: 13)
    public static let duplicateConnection = ErrorCode(rawValue: 14)
    public static let internalError = ErrorCode(rawValue: 15)

    static let names: [UInt32: String] = [
        0: "unspecified", 1: "protocol-violation", 2: "unsupported-version", 3: "wrong-network",
        4: "auth-failed", 5: "not-a-member", 6: "rate-limited", 7: "banned", 8: "frame-too-large",
        9: "malformed-frame", 10: "too-many-connections", 11: "timeout", 12: "shutting-down",
        13: "invalid-record", 14: "duplicate-connection", 15: "internal",
    ]

    /// Kebab-case name, or `error(N)` for a code this version does not know.
    public var description: String { Self.names[rawValue] ?? "error(\(rawValue))" }

    /// Whether this version knows the code (a peer may send any number).
    public var isKnown: Bool { Self.names[rawValue] != nil }
}

/// Reports a problem (`pex.v1.Error`).
public struct ErrorMessage: Hashable, Sendable {
    public var code: ErrorCode
    public var message: String
    /// The sender closes the connection after this frame.
    public var closing: Bool
    public init(code: ErrorCode, message: String, closing: Bool) {
        self.code = code
        self.message = message
        self.closing = closing
    }
}

/// Compression codec of a `Compressed` frame (`pex.v1.CompressionCodec`).
public struct CompressionCodec: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let unspecified = CompressionCodec(rawValue: 0)
    /// Raw deflate, RFC 1951.
    public static let deflate = CompressionCodec(rawValue: 1)
}

/// A whole serialised `Frame`, compressed (`pex.v1.Compressed`).
public struct Compressed: Hashable, Sendable {
    public var codec: CompressionCodec
    public var uncompressedSize: UInt32
    public var data: [UInt8]
    public init(codec: CompressionCodec, uncompressedSize: UInt32, data: [UInt8]) {
        self.codec = codec
        self.uncompressedSize = uncompressedSize
        self.data = data
    }
}

/// The unit on the wire (`pex.v1.Frame`): exactly one body.
public enum Frame: Hashable, Sendable {
    case hello(Hello)
    case auth(Auth)
    case peerRequest(PeerRequest)
    case peerResponse(PeerResponse)
    case peerAnnouncement(PeerAnnouncement)
    case peerUpdate(PeerUpdate)
    case ping(Ping)
    case pong(Pong)
    case error(ErrorMessage)
    case compressed(Compressed)
    /// A body with a field number this version does not know (a newer peer's message).
    /// Receivers may ignore it; it is never produced by this implementation except to echo tests.
    case unknown(fieldNumber: UInt32)

    /// Short name of the body, for logs and metrics.
    public var kind: String {
        switch self {
        case .hello: "hello"
        case .auth: "auth"
        case .peerRequest: "peer_request"
        case .peerResponse: "peer_response"
        case .peerAnnouncement: "peer_announcement"
        case .peerUpdate: "peer_update"
        case .ping: "ping"
        case .pong: "pong"
        case .error: "error"
        case .compressed: "compressed"
        case .unknown: "unknown"
        }
    }
}
