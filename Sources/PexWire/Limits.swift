/// Protocol constants and hard limits of wire protocol v1 (docs/PROTOCOL.md, "Limits").
///
/// Every limit is checked before the memory it guards is allocated.
public enum WireLimits {
    /// The protocol version this implementation speaks.
    public static let protocolVersion: UInt32 = 1
    /// Largest frame (length prefix excluded) accepted by default and the ceiling of any
    /// `Hello.maxFrameSize`: 256 KiB.
    public static let maxFrameSize = 256 * 1024
    /// Smallest `Hello.maxFrameSize` a peer may announce; a lower value is a protocol violation.
    public static let minFrameSize = 16 * 1024
    /// Longest varint length prefix: 10 bytes is the protobuf maximum; a length of at most
    /// `maxFrameSize` needs 3, so more than 5 bytes is always an error.
    public static let maxLengthPrefixBytes = 5
    /// At most this many records in one `PeerResponse`, `PeerAnnouncement` or `PeerUpdate`
    /// (as Bitcoin's `addr` message).
    public static let maxRecordsPerMessage = 1000
    /// A record carries between 1 and 10 addresses (as the original peers.yaml).
    public static let minAddressesPerRecord = 1
    public static let maxAddressesPerRecord = 10
    /// Longest binary multiaddr in a record.
    public static let maxAddressLength = 256
    /// Largest serialised `PeerRecord` (the signed bytes).
    public static let maxRecordSize = 2048
    /// Ed25519 sizes.
    public static let publicKeyLength = 32
    public static let signatureLength = 64
    /// `Hello.nonce` length.
    public static let nonceLength = 32
    /// Longest `Hello.agent`, in UTF-8 bytes.
    public static let maxAgentLength = 128
    /// Longest network id, in UTF-8 bytes; it must also be non-empty.
    public static let maxNetworkIDLength = 64
    /// Longest `Error.message`, in UTF-8 bytes.
    public static let maxErrorMessageLength = 256
    /// Most capabilities listed in one Hello (unknown ones included).
    public static let maxCapabilities = 32
    /// Frames whose encoding is at least this large are compressed when both sides support it.
    public static let compressionThreshold = 1024
    /// Longest lifetime a record may claim: `expiresAt` at most this far after the verifier's now.
    public static let maxRecordLifetimeSeconds: UInt64 = 30 * 24 * 3600
}
