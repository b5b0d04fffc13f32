/// A libp2p peer ID for an Ed25519 key: the identity multihash of the key's libp2p
/// `PublicKey` protobuf, shown in base58btc ("12D3KooW…").
///
/// Because an Ed25519 peer ID embeds its key rather than a hash of it, a `PeerID` always knows
/// its `publicKey`; hashed peer IDs ("Qm…", RSA and ECDSA keys) are rejected.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    /// The key this ID names.
    public let publicKey: PublicKey

    /// Multihash header plus libp2p `PublicKey` protobuf header for an Ed25519 key:
    /// multihash code 0x00 (identity), digest length 0x24 (36), then the protobuf
    /// `Type = Ed25519` (field 1, varint: 0x08 0x01) and `Data` (field 2, 32 bytes: 0x12 0x20).
    /// The protobuf message is only ever these two fields in this order (libp2p requires the
    /// deterministic encoding), so it is written by hand; it is not part of the pex wire format.
    static let header: [UInt8] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20]

    static let identityCode: UInt64 = 0x00
    static let sha256Code: UInt64 = 0x12
    /// The `libp2p-key` multicodec of CIDv1 peer IDs.
    static let libp2pKeyCodec: UInt64 = 0x72
    /// Longer text is no peer ID (a CID form is 65 characters); checked before the quadratic
    /// base58 decoder runs.
    static let maxTextLength = 128

    /// The peer ID of `publicKey`.
    ///
    /// - Parameter publicKey: The peer's Ed25519 key.
    public init(publicKey: PublicKey) {
        self.publicKey = publicKey
    }

    /// Parses the multihash bytes of a peer ID (as in binary `/p2p/` multiaddrs).
    ///
    /// - Parameter multihash: The multihash.
    /// - Throws: `WireError.invalidPeerID` for a malformed multihash, a hashed peer ID (which
    ///   does not embed its key), a key of another type or an invalid Ed25519 key.
    public init(multihash: [UInt8]) throws(WireError) {
        guard case let .value(code, codeLength) = Varint.read(multihash) else {
            throw .invalidPeerID("malformed multihash code")
        }
        let afterCode = multihash[codeLength...]
        guard case let .value(length, lengthLength) = Varint.read(afterCode) else {
            throw .invalidPeerID("malformed multihash length")
        }
        let digest = afterCode.dropFirst(lengthLength)
        guard UInt64(digest.count) == length else {
            throw .invalidPeerID("multihash announces \(length) digest bytes, has \(digest.count)")
        }
        switch code {
        case Self.identityCode:
            break
        case Self.sha256Code:
            throw .invalidPeerID("a sha2-256 peer ID does not embed its public key")
        default:
            throw .invalidPeerID("unsupported multihash code 0x\(String(code, radix: 16))")
        }
        // The digest is the libp2p PublicKey protobuf: 0x08 <KeyType> 0x12 <len> <key>.
        guard digest.count >= 2, digest[digest.startIndex] == 0x08 else {
            throw .invalidPeerID("malformed libp2p public key")
        }
        guard digest[digest.startIndex + 1] == 0x01 else {
            throw .invalidPeerID("not an Ed25519 key")
        }
        guard digest.count == 36, multihash[..<Self.header.count].elementsEqual(Self.header) else {
            throw .invalidPeerID("malformed libp2p Ed25519 public key")
        }
        do {
            publicKey = try PublicKey(bytes: Array(multihash[Self.header.count...]))
        } catch {
            throw .invalidPeerID("embedded key: \(error)")
        }
    }

    /// Parses a peer ID in text: base58btc ("12D3KooW…") or a CIDv1 in base32 ("bafz…") with
    /// the `libp2p-key` codec.
    ///
    /// - Parameter text: The peer ID.
    /// - Throws: `WireError.invalidPeerID` for text in neither form, a hashed peer ID ("Qm…",
    ///   which does not embed its public key), a key other than Ed25519 or an invalid key.
    public init(text: String) throws(WireError) {
        let chars = Array(text.utf8)
        guard !chars.isEmpty else { throw .invalidPeerID("empty") }
        guard chars.count <= Self.maxTextLength else {
            throw .invalidPeerID("\(chars.count) characters is too long")
        }
        // libp2p peer IDs spec, "Decoding": "1…" and "Qm…" are bare base58btc multihashes;
        // otherwise the first character is a multibase prefix, of which base32 ("b") is the
        // form libp2p writes.
        if chars[0] == UInt8(ascii: "1") || chars.starts(with: Array("Qm".utf8)) {
            guard let multihash = Base58.decode(text) else {
                throw .invalidPeerID("invalid base58btc character")
            }
            try self.init(multihash: multihash)
        } else if chars[0] == UInt8(ascii: "b") {
            guard let cid = Base32.decode(chars[1...]) else {
                throw .invalidPeerID("invalid base32 CID")
            }
            guard case let .value(version, versionLength) = Varint.read(cid), version == 1 else {
                throw .invalidPeerID("not a CIDv1")
            }
            let afterVersion = cid[versionLength...]
            guard case let .value(codec, codecLength) = Varint.read(afterVersion) else {
                throw .invalidPeerID("malformed CID codec")
            }
            guard codec == Self.libp2pKeyCodec else {
                throw .invalidPeerID("CID codec 0x\(String(codec, radix: 16)) is not libp2p-key")
            }
            try self.init(multihash: Array(afterVersion.dropFirst(codecLength)))
        } else {
            throw .invalidPeerID("neither base58btc (\"1…\", \"Qm…\") nor a base32 CID (\"b…\")")
        }
    }

    /// The multihash bytes, as carried in binary `/p2p/` multiaddrs.
    public var bytes: [UInt8] { Self.header + publicKey.bytes }

    /// The multihash of a key given as raw bytes, without checking that they form a valid key;
    /// lets record parsing compare `/p2p/` components before paying for key validation.
    static func multihash(ofKey keyBytes: [UInt8]) -> [UInt8] { header + keyBytes }

    /// The canonical text form: base58btc of `bytes` ("12D3KooW…").
    public var base58: String { Base58.encode(bytes) }

    /// The CIDv1 form: multibase base32 of `0x01 ‖ 0x72 (libp2p-key) ‖ bytes` ("bafz…").
    public var cid: String {
        "b" + Base32.encode([0x01, UInt8(Self.libp2pKeyCodec)] + bytes)
    }

    /// The base58btc form.
    public var description: String { base58 }
}

extension PublicKey {
    /// The libp2p peer ID of this key.
    public var peerID: PeerID { PeerID(publicKey: self) }
}

/// RFC 4648 base32 in lower case without padding, the multibase "b" encoding of CIDs.
enum Base32 {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int(buffer >> UInt32(bits) & 31)])
            }
        }
        if bits > 0 {
            out.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict decoding: lower-case alphabet only, no padding, no impossible length, and zero
    /// unused bits, so each byte string has a single text form.
    static func decode(_ chars: ArraySlice<UInt8>) -> [UInt8]? {
        // 8 symbols carry 5 bytes; a tail of 1, 3 or 6 symbols cannot end on a byte boundary.
        guard ![1, 3, 6].contains(chars.count % 8) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for c in chars {
            let v = decodeTable[Int(c)]
            guard v != 0xff else { return nil }
            buffer = (buffer << 5 | UInt32(v)) & 0x1fff
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        guard buffer & (1 << UInt32(bits) - 1) == 0 else { return nil }
        return out
    }
}
