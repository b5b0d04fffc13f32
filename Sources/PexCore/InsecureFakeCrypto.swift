import PexWire

/// A `CryptoProvider` with **no security at all**, for fuzzing and very large simulations ONLY.
///
/// > Warning: NEVER use this in a node that talks to a real network. Its "signatures" are a
/// > keyless, non-cryptographic hash of `domain ‖ publicKey ‖ payload`: the secret key plays
/// > no part, so **anyone can forge a signature for any key**. Its `hash256` is not
/// > collision-resistant, and `publicKey(_:)` accepts any 32 bytes, including encodings that are
/// > not valid Ed25519 points.
///
/// What it does keep is the *shape* of the real thing, so that code under test behaves as it
/// would with `SodiumCrypto`: signatures are 64 bytes, deterministic, and a signature checked
/// against another key, payload or domain than it was made for fails (a 128-bit state makes an
/// accidental match negligible; only inputs built on purpose to collide can match). It costs a few nanoseconds per byte
/// instead of the tens of microseconds of an Ed25519 verification, which is what lets a
/// simulation run thousands of nodes or a fuzzer reach the code behind the signature check.
///
/// Signatures made by this provider never verify under `SodiumCrypto` and vice versa.
public struct InsecureFakeCrypto: CryptoProvider {
    /// Creates the provider; it has no state.
    public init() {}

    /// Checks that `signature` is the fake signature of `payload` for `domain` and `publicKey`.
    ///
    /// - Parameters:
    ///   - signature: The signature; any length other than 64 bytes fails.
    ///   - payload: The signed payload, without the domain.
    ///   - domain: The domain it must have been made for.
    ///   - publicKey: The claimed signer.
    /// - Returns: Whether `signature` equals `sign` of the same inputs.
    public func verify(signature: [UInt8], payload: [UInt8], domain: SigningDomain, publicKey: PublicKey) -> Bool {
        guard signature.count == WireLimits.signatureLength else { return false }
        return Self.hasher(domain: domain, publicKey: publicKey.bytes, payload: payload).matches(signature)
    }

    /// Makes the fake signature of `payload`: a hash of domain, public key and payload.
    ///
    /// Only the public half of `keyPair` is used, which is exactly why these signatures are forgeable.
    /// - Parameters:
    ///   - payload: The bytes to "sign".
    ///   - domain: What the signature is for.
    ///   - keyPair: The signer; only its public key matters.
    /// - Returns: 64 bytes.
    public func sign(payload: [UInt8], domain: SigningDomain, keyPair: KeyPair) -> [UInt8] {
        Self.tag(domain: domain, publicKey: keyPair.publicKey.bytes, payload: payload)
    }

    /// A fast, non-cryptographic 32-byte hash (not BLAKE2b; not collision-resistant).
    ///
    /// - Parameter data: The bytes to hash.
    /// - Returns: 32 bytes.
    public func hash256(_ data: [UInt8]) -> [UInt8] {
        var hasher = FastHasher(seed: 0x6861_7368_3235_3600)  // "hash256\0"
        hasher.absorb(data)
        return hasher.squeeze(words: 4)
    }

    /// Accepts any 32 bytes as a key, without checking that they encode a curve point.
    ///
    /// - Parameter bytes: The candidate key.
    /// - Returns: The key, or `nil` when `bytes` is not 32 bytes long.
    public func publicKey(_ bytes: [UInt8]) -> PublicKey? {
        PublicKey(unvalidated: bytes)
    }

    /// The 64-byte fake signature. Each part is absorbed with its own length, so no two
    /// different (domain, key, payload) triples are fed to the hash as the same byte stream.
    static func tag(domain: SigningDomain, publicKey: [UInt8], payload: [UInt8]) -> [UInt8] {
        hasher(domain: domain, publicKey: publicKey, payload: payload).squeeze(words: 8)
    }

    private static func hasher(domain: SigningDomain, publicKey: [UInt8], payload: [UInt8]) -> FastHasher {
        var hasher = FastHasher(seed: 0x7369_676E_6174_7572)  // "signatur"
        var domainText = domain.rawValue
        domainText.withUTF8 { hasher.absorb($0) }
        hasher.absorb(publicKey)
        hasher.absorb(payload)
        return hasher
    }
}

/// Two independent 64-bit multiply–rotate lanes over 8-byte words (in the spirit of
/// MurmurHash3/xxHash), finished with the SplitMix64 avalanche. Fast and well mixed, and
/// trivially invertible by anyone who tries: it is a checksum, not a MAC.
struct FastHasher {
    private var a: UInt64
    private var b: UInt64

    init(seed: UInt64) {
        a = seed ^ 0x9E37_79B9_7F4A_7C15
        b = ~seed &* 0xC2B2_AE3D_27D4_EB4F
    }

    private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { x << r | x >> (64 - r) }

    /// SplitMix64's finaliser: every input bit affects every output bit.
    static func avalanche(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func mix(_ word: UInt64) {
        a = Self.rotl(a ^ (word &* 0x87C3_7B91_1142_53D5), 31) &* 0x4CF5_AD43_2745_937F &+ b
        b = Self.rotl(b ^ (word &* 0x9FB2_1C65_1E98_DF25), 27) &* 0x5851_F42D_4C95_7F2D &+ a
    }

    /// Feeds `bytes` followed by their length, so that segment boundaries are part of the input.
    mutating func absorb(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { absorb($0) }
    }

    /// Feeds `buffer` followed by its length.
    mutating func absorb(_ buffer: UnsafeBufferPointer<UInt8>) {
        let raw = UnsafeRawBufferPointer(buffer)
        var offset = 0
        while offset + 8 <= raw.count {
            mix(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < raw.count {
            tail |= UInt64(raw[offset]) << shift
            shift += 8
            offset += 1
        }
        mix(tail)
        mix(UInt64(raw.count))
    }

    /// Output word `index`, derived from both lanes.
    private func word(_ index: UInt64) -> UInt64 {
        Self.avalanche(a &+ index &* 0x9E37_79B9_7F4A_7C15) ^ Self.avalanche(b ^ (index &+ 1) &* 0xD6E8_FEB8_6659_FD93)
    }

    /// Whether `expected` equals `squeeze(words: expected.count / 8)`, without building the output
    /// (verification is the hot path of a simulation). `expected.count` must be a multiple of 8.
    func matches(_ expected: [UInt8]) -> Bool {
        expected.withUnsafeBytes { raw in
            var index: UInt64 = 0
            var offset = 0
            while offset + 8 <= raw.count {
                guard UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) == word(index)
                else { return false }
                index += 1
                offset += 8
            }
            return true
        }
    }

    /// `words` 64-bit outputs, little-endian.
    func squeeze(words: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(words * 8)
        for index in 0..<UInt64(words) {
            var word = word(index)
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
    }
}
