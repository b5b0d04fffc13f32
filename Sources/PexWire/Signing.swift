import CSodium

/// What a signature is for. The domain is part of the signed message, so a signature made for
/// one purpose can never be replayed as a valid signature for another.
public enum SigningDomain: String, Sendable, CaseIterable {
    /// A `PeerRecord`.
    case peerRecord = "pex/v1/peer-record"
    /// The handshake authentication (see `AuthTranscript`).
    case auth = "pex/v1/auth"

    /// The bytes actually signed: `UTF-8(domain) ‖ 0x00 ‖ payload`.
    ///
    /// No domain contains a NUL byte, so the separator makes the split between domain and
    /// payload unambiguous even when one domain is a prefix of another.
    package func message(for payload: [UInt8]) -> [UInt8] {
        var message: [UInt8] = []
        message.reserveCapacity(rawValue.utf8.count + 1 + payload.count)
        message.append(contentsOf: rawValue.utf8)
        message.append(0)
        message.append(contentsOf: payload)
        return message
    }
}

extension KeyPair {
    /// Signs `payload` for `domain` (Ed25519 over `UTF-8(domain) ‖ 0x00 ‖ payload`).
    ///
    /// - Parameters:
    ///   - payload: The bytes to sign.
    ///   - domain: What the signature is for.
    /// - Returns: The 64-byte signature.
    public func sign(_ payload: [UInt8], domain: SigningDomain) -> [UInt8] {
        signRaw(domain.message(for: payload))
    }

    /// Plain RFC 8032 Ed25519 over `message`, with no domain; for test vectors and for
    /// signatures defined by other protocols.
    package func signRaw(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: WireLimits.signatureLength)
        secretKey.withBytes { sk in
            // Cannot fail for a well-formed 64-byte secret key.
            _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count), sk)
        }
        return signature
    }
}

extension PublicKey {
    /// Checks a signature made by `KeyPair.sign(_:domain:)`.
    ///
    /// - Parameters:
    ///   - signature: The signature; any length other than 64 bytes fails.
    ///   - payload: The signed bytes, without the domain.
    ///   - domain: The domain it must have been signed for.
    /// - Returns: `true` only for a valid signature by this key over this payload and domain.
    public func verify(signature: [UInt8], payload: [UInt8], domain: SigningDomain) -> Bool {
        verifyRaw(signature: signature, message: domain.message(for: payload))
    }

    /// Plain RFC 8032 Ed25519 verification of `signature` over `message`, with no domain.
    /// libsodium rejects non-canonical `S` and small-order `R` values.
    package func verifyRaw(signature: [UInt8], message: [UInt8]) -> Bool {
        guard signature.count == WireLimits.signatureLength else { return false }
        Sodium.ensureInitialized()
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), bytes) == 0
    }
}

// MARK: - Crypto provider

/// The cryptography the protocol core needs, injected so that the core stays free of I/O and
/// tests can substitute a faster implementation.
public protocol CryptoProvider: Sendable {
    /// Checks a domain-separated Ed25519 signature.
    ///
    /// - Parameters:
    ///   - signature: The signature to check.
    ///   - payload: The signed payload, without the domain.
    ///   - domain: The domain it must have been signed for.
    ///   - publicKey: The signer.
    /// - Returns: Whether the signature is valid.
    func verify(signature: [UInt8], payload: [UInt8], domain: SigningDomain, publicKey: PublicKey) -> Bool

    /// Makes a domain-separated Ed25519 signature.
    ///
    /// - Parameters:
    ///   - payload: The bytes to sign.
    ///   - domain: What the signature is for.
    ///   - keyPair: The signer.
    /// - Returns: The 64-byte signature.
    func sign(payload: [UInt8], domain: SigningDomain, keyPair: KeyPair) -> [UInt8]

    /// BLAKE2b with a 32-byte output and no key.
    ///
    /// - Parameter data: The bytes to hash.
    /// - Returns: The 32-byte digest.
    func hash256(_ data: [UInt8]) -> [UInt8]

    /// Checks that `bytes` form an acceptable public key; for Ed25519 a canonical, prime-order
    /// curve point. Costs about as much as a signature check, so it belongs to that stage.
    ///
    /// - Parameter bytes: The candidate key.
    /// - Returns: The key, or `nil` when the bytes are not one.
    func publicKey(_ bytes: [UInt8]) -> PublicKey?
}

/// The real `CryptoProvider`, backed by libsodium.
public struct SodiumCrypto: CryptoProvider {
    /// Creates the provider; it has no state.
    public init() {}

    /// Ed25519 verification through `PublicKey.verify(signature:payload:domain:)`.
    public func verify(signature: [UInt8], payload: [UInt8], domain: SigningDomain, publicKey: PublicKey) -> Bool {
        publicKey.verify(signature: signature, payload: payload, domain: domain)
    }

    /// Ed25519 signing through `KeyPair.sign(_:domain:)`.
    public func sign(payload: [UInt8], domain: SigningDomain, keyPair: KeyPair) -> [UInt8] {
        keyPair.sign(payload, domain: domain)
    }

    /// Full Ed25519 point validation through `PublicKey(bytes:)`.
    public func publicKey(_ bytes: [UInt8]) -> PublicKey? {
        try? PublicKey(bytes: bytes)
    }

    /// BLAKE2b-256 (`crypto_generichash` with a 32-byte output and no key).
    public func hash256(_ data: [UInt8]) -> [UInt8] {
        Sodium.ensureInitialized()
        var digest = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&digest, 32, data, UInt64(data.count), nil, 0)
        return digest
    }
}

// MARK: - Handshake transcript

/// Which side of a connection signs the handshake transcript.
public enum AuthRole: UInt8, Sendable {
    /// The side that opened the connection.
    case initiator = 1
    /// The side that accepted it.
    case responder = 2
}

/// The payload each side signs (under `SigningDomain.auth`) to prove it owns its key.
public enum AuthTranscript {
    /// Builds `role ‖ BLAKE2b-256(initiatorHello) ‖ BLAKE2b-256(responderHello) ‖ peerNonce`.
    ///
    /// Both Hellos bind the signature to this exact connection's parameters; the role byte stops
    /// one side's signature from being reflected back as the other's; the peer's fresh nonce
    /// makes it unusable on any other connection.
    ///
    /// - Parameters:
    ///   - role: The role of the side whose signature this is.
    ///   - initiatorHello: The initiator's Hello frame bytes exactly as sent, without the length prefix.
    ///   - responderHello: The responder's Hello frame bytes exactly as sent, without the length prefix.
    ///   - peerNonce: The nonce the other side sent in its Hello.
    ///   - crypto: Supplies BLAKE2b-256.
    /// - Returns: The payload to sign or verify.
    public static func payload(
        role: AuthRole,
        initiatorHello: [UInt8],
        responderHello: [UInt8],
        peerNonce: [UInt8],
        crypto: some CryptoProvider
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 + 32 + 32 + peerNonce.count)
        out.append(role.rawValue)
        out.append(contentsOf: crypto.hash256(initiatorHello))
        out.append(contentsOf: crypto.hash256(responderHello))
        out.append(contentsOf: peerNonce)
        return out
    }
}
