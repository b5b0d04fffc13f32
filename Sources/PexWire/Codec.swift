// Public encoding and decoding of every message of wire protocol v1, through protobuf-c.
//
// Representation limits of protobuf-c, which define the set of valid values:
// - Strings are NUL-terminated `char *`. Encoding a Swift string that holds U+0000 packs it up to
//   the first NUL, so such strings are not valid wire values; decoding rejects a string field
//   with an embedded NUL (`WireError.malformed`) rather than truncating it.
// - Enum fields (`Capability`, `ErrorCode`, `CompressionCodec`) are C ints: unknown values are
//   kept, and values above `Int32.max` travel as negative int32 (10-byte varints), exactly as
//   other protobuf implementations encode open enums.
// - `Frame.unknown(fieldNumber:)` round-trips only for numbers in `Frame.unknownFieldNumbers`.

/// A message of wire protocol v1 that encodes to and decodes from its protobuf (proto3) bytes.
///
/// Encoding and decoding go through protobuf-c. Decoding checks every structural limit of
/// `WireLimits` (sizes, counts, UTF-8, required sub-messages) but nothing that needs a key or
/// a clock: signatures and expiry are checked by record verification.
///
/// For every valid value `x`, `try M(decoding: x.encoded()) == x`; and whenever bytes `b` decode
/// to a value, that value's encoding decodes to the same value again.
public protocol WireMessage: Hashable, Sendable {
    /// The protobuf encoding of this message, without any length prefix.
    ///
    /// - Returns: The bytes protobuf-c packs for this value (empty for an all-default message).
    func encoded() -> [UInt8]

    /// Decodes and validates a message from its protobuf bytes.
    ///
    /// - Parameter bytes: The serialised message, without any length prefix.
    /// - Throws: `WireError`: a size error when `bytes` exceed the message's limit (checked before
    ///   parsing), `.malformed` when protobuf-c cannot parse them, or the specific error of the
    ///   first limit the decoded value breaks.
    init(decoding bytes: some Collection<UInt8>) throws(WireError)
}

extension WireLimits {
    /// Checks a network id: 1 to `maxNetworkIDLength` bytes, each in `[a-z0-9._-]`.
    ///
    /// - Parameter id: The network id of a `Hello` or a `PeerRecord`.
    /// - Throws: `WireError.badNetworkID` when the id is empty, too long or has another character.
    public static func validateNetworkID(_ id: String) throws(WireError) {
        let utf8 = id.utf8
        guard utf8.count <= maxNetworkIDLength, isNetworkIDBytes(utf8) else { throw .badNetworkID(id) }
    }

    /// Whether `bytes` is non-empty and every byte is in `[a-z0-9._-]` (the length is not checked).
    static func isNetworkIDBytes(_ bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        for byte in bytes {
            // One bit per allowed ASCII byte: "-" "." "0"–"9" in the low word, "_" "a"–"z" in the high.
            let (word, bit) = (byte >> 6, UInt64(1) << (byte & 63))
            switch word {
            case 0: if networkIDLow & bit == 0 { return false }
            case 1: if networkIDHigh & bit == 0 { return false }
            default: return false
            }
        }
        return true
    }

    /// Bits 0x2d "-", 0x2e ".", 0x30–0x39 "0"–"9".
    private static var networkIDLow: UInt64 { 0x03ff600000000000 }
    /// Bits 0x5f "_", 0x61–0x7a "a"–"z", less 64.
    private static var networkIDHigh: UInt64 { 0x07fffffe80000000 }
}

// MARK: - Frame

extension Frame: WireMessage {
    /// Field numbers an unknown body may carry: above the known bodies (1–10), up to the protobuf
    /// maximum 2^29 − 1. A `.unknown` with another number does not decode back to itself.
    public static let unknownFieldNumbers: ClosedRange<UInt32> = 11...536_870_911

    /// The protobuf encoding of the frame, without the length prefix.
    ///
    /// `.unknown(fieldNumber: n)` encodes as one empty length-delimited field `n` and no body.
    /// - Returns: The serialised `pex.v1.Frame`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a frame of at most `WireLimits.maxFrameSize` bytes; see `init(decoding:maxSize:)`.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Frame`, without the length prefix.
    /// - Throws: As `init(decoding:maxSize:)`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        try self.init(decoding: bytes, maxSize: WireLimits.maxFrameSize)
    }

    /// Decodes and validates a frame.
    ///
    /// A frame without a known body but with unknown fields is `.unknown(fieldNumber:)` of the first
    /// one; a compressed frame is returned as `.compressed`, not inflated (see `inflated(maxSize:)`).
    /// - Parameters:
    ///   - bytes: The serialised `pex.v1.Frame`, without the length prefix.
    ///   - maxSize: Largest accepted input, checked before parsing.
    /// - Throws: `.frameTooLarge` over `maxSize`; `.emptyFrame` when nothing is set; `.malformed`
    ///   when protobuf-c cannot parse the bytes; otherwise the body's validation error.
    public init(decoding bytes: some Collection<UInt8>, maxSize: Int) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: maxSize)
    }
}

// MARK: - Records

extension PeerRecord: WireMessage {
    /// The protobuf encoding of the record: the bytes that get signed.
    ///
    /// - Returns: The serialised `pex.v1.PeerRecord`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a record and checks its structure: a 32-byte key, 1 to 10 addresses of at most
    /// `WireLimits.maxAddressLength` bytes, and a valid network id.
    ///
    /// - Parameter bytes: At most `WireLimits.maxRecordSize` bytes, checked before parsing.
    /// - Throws: `.fieldTooLong(field: "PeerRecord", …)` for oversized input, `.malformed`,
    ///   `.wrongFieldLength`, `.tooFewAddresses`, `.tooManyAddresses`, `.fieldTooLong`,
    ///   `.invalidUTF8` or `.badNetworkID`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension SignedPeerRecord: WireMessage {
    /// The protobuf encoding of the signed record (as stored or shipped outside a frame).
    ///
    /// - Returns: The serialised `pex.v1.SignedPeerRecord`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a signed record: `record` of at most `WireLimits.maxRecordSize` bytes and a
    /// 64-byte signature. The inner record is not decoded; see `PeerRecord(decoding:)`.
    ///
    /// - Parameter bytes: The serialised `pex.v1.SignedPeerRecord`.
    /// - Throws: `.fieldTooLong` for oversized input or record, `.malformed`, `.wrongFieldLength`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

// MARK: - Bodies

extension Hello: WireMessage {
    /// The protobuf encoding of the Hello body.
    ///
    /// - Returns: The serialised `pex.v1.Hello`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a Hello and checks its network id, record (present, sizes), 32-byte nonce,
    /// at most 32 capabilities and an agent of at most 128 UTF-8 bytes.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Hello`.
    /// - Throws: The first violated limit, `.missingField("Hello.record")`, or `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension Auth: WireMessage {
    /// The protobuf encoding of the Auth body.
    ///
    /// - Returns: The serialised `pex.v1.Auth`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes an Auth and checks that its signature is 64 bytes.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Auth`.
    /// - Throws: `.wrongFieldLength` or `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension SyncCursor: WireMessage {
    /// The protobuf encoding of the cursor.
    ///
    /// - Returns: The serialised `pex.v1.SyncCursor`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a cursor.
    ///
    /// - Parameter bytes: The serialised `pex.v1.SyncCursor`.
    /// - Throws: `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension PeerRequest: WireMessage {
    /// The protobuf encoding of the request; an absent cursor and an all-zero one differ.
    ///
    /// - Returns: The serialised `pex.v1.PeerRequest`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a request. `maxPeers` is not range-checked here; the responder clamps it.
    ///
    /// - Parameter bytes: The serialised `pex.v1.PeerRequest`.
    /// - Throws: `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension PeerResponse: WireMessage {
    /// The protobuf encoding of the response.
    ///
    /// - Returns: The serialised `pex.v1.PeerResponse`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a response of at most 1000 records, each structurally checked.
    ///
    /// - Parameter bytes: The serialised `pex.v1.PeerResponse`.
    /// - Throws: `.tooManyRecords`, a record's error, or `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension PeerAnnouncement: WireMessage {
    /// The protobuf encoding of the announcement.
    ///
    /// - Returns: The serialised `pex.v1.PeerAnnouncement`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes an announcement of at most 1000 records, each structurally checked.
    ///
    /// - Parameter bytes: The serialised `pex.v1.PeerAnnouncement`.
    /// - Throws: `.tooManyRecords`, a record's error, or `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension PeerUpdate: WireMessage {
    /// The protobuf encoding of the update.
    ///
    /// - Returns: The serialised `pex.v1.PeerUpdate`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes an update of at most 1000 records, each structurally checked.
    ///
    /// - Parameter bytes: The serialised `pex.v1.PeerUpdate`.
    /// - Throws: `.tooManyRecords`, a record's error, or `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension Ping: WireMessage {
    /// The protobuf encoding of the ping (empty for nonce 0).
    ///
    /// - Returns: The serialised `pex.v1.Ping`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a ping.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Ping`.
    /// - Throws: `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension Pong: WireMessage {
    /// The protobuf encoding of the pong (empty for nonce 0).
    ///
    /// - Returns: The serialised `pex.v1.Pong`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a pong.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Pong`.
    /// - Throws: `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension ErrorMessage: WireMessage {
    /// The protobuf encoding of the error body.
    ///
    /// - Returns: The serialised `pex.v1.Error`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes an error body and checks that its message is UTF-8 of at most 256 bytes.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Error`.
    /// - Throws: `.fieldTooLong`, `.invalidUTF8` or `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}

extension Compressed: WireMessage {
    /// The protobuf encoding of the compressed body.
    ///
    /// - Returns: The serialised `pex.v1.Compressed`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes a compressed body as it is; the codec and sizes are checked by `inflate(maxSize:)`.
    ///
    /// - Parameter bytes: The serialised `pex.v1.Compressed`.
    /// - Throws: `.malformed`.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }
}
