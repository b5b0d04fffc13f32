import CSodium

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - libsodium initialisation

/// One-time libsodium set-up shared by every type that calls into it.
enum Sodium {
    /// Swift runs a static initialiser exactly once, even under concurrent first use, which is
    /// the "sodium_init() before anything else" guarantee libsodium asks for.
    /// It returns 0 on first success, 1 if already initialised, -1 on failure.
    private static let initialized: Bool = sodium_init() >= 0

    /// Makes sure libsodium is initialised; cheap after the first call.
    static func ensureInitialized() {
        // sodium_init only fails when the system cannot provide randomness. Keys made without it
        // would be predictable, so stopping is the only safe outcome.
        guard initialized else { fatalError("libsodium could not be initialised") }
    }

    /// Overwrites `bytes` with zeros in a way the compiler cannot elide.
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { sodium_memzero(base, raw.count) }
        }
    }
}

// MARK: - Public key

/// An Ed25519 public key that has been checked to be a usable verification key.
///
/// Construction rejects anything but the canonical encoding of a point in the prime-order
/// subgroup: wrong lengths, encodings of y ≥ p, points off the curve, the eight small-order
/// points and "mixed" points with a small-order component. Such keys would let a peer make
/// signatures that verify for several messages or under several keys.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32-byte encoding.
    public let bytes: [UInt8]

    /// Validates and wraps a 32-byte Ed25519 public key.
    ///
    /// - Parameter bytes: The encoded point.
    /// - Throws: `WireError.invalidPublicKey` when `bytes` is not 32 bytes long or is not the
    ///   canonical encoding of a point of prime order.
    public init(bytes: [UInt8]) throws(WireError) {
        guard bytes.count == WireLimits.publicKeyLength else {
            throw .invalidPublicKey("\(bytes.count) bytes, expected \(WireLimits.publicKeyLength)")
        }
        Sodium.ensureInitialized()
        // In libsodium 1.0.18 this single check covers canonicity (y < p), small order,
        // on-curve and main-subgroup membership.
        guard crypto_core_ed25519_is_valid_point(bytes) == 1 else {
            throw .invalidPublicKey("not a canonical encoding of a prime-order curve point")
        }
        self.bytes = bytes
    }

    /// Wraps a key libsodium derived from a secret key, which is valid by construction.
    init(derived bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps 32 bytes without checking the point: only for `CryptoProvider`s that validate keys
    /// their own way (a fake provider for simulations and fuzzing), never for bytes from a peer
    /// under real cryptography.
    ///
    /// - Parameter bytes: 32 bytes; other lengths yield `nil`.
    package init?(unvalidated bytes: [UInt8]) {
        guard bytes.count == WireLimits.publicKeyLength else { return nil }
        self.bytes = bytes
    }

    /// Hashes the 32 bytes in one call: keys index every table of a node, and the synthesized
    /// conformance fed the hasher one byte at a time.
    ///
    /// - Parameter hasher: The hasher to feed.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Byte-wise equality (the same as the synthesized one, in one `memcmp`).
    public static func == (a: PublicKey, b: PublicKey) -> Bool { a.bytes.sameBytes(as: b.bytes) }

    /// Parses a public key written as standard base64 (the original project's format).
    ///
    /// - Parameter base64: 44 characters of padded standard base64.
    /// - Throws: `WireError.invalidBase64` for malformed text, `WireError.invalidPublicKey`
    ///   when the decoded bytes are not a valid key.
    public init(base64: String) throws(WireError) {
        try self.init(bytes: Base64.decode(base64))
    }

    /// The key as padded standard base64, as Go's `base64.StdEncoding` writes it.
    public var base64: String { Base64.encode(bytes) }

    /// The key in base64.
    public var description: String { base64 }
}

// MARK: - Secret key storage

/// The 64-byte Ed25519 secret key (seed ‖ public key, the layout shared by libsodium and Go's
/// `ed25519.PrivateKey`) in its own `sodium_malloc` allocation: locked out of swap where the
/// system allows it, fenced by guard pages, and wiped with `sodium_memzero` on release.
///
/// `@unchecked Sendable` is safe: the buffer is written only inside `init`, before the object
/// is shared, and only read afterwards; it is freed in `deinit`, when no other reference exists.
final class SecretKey: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// crypto_sign_SECRETKEYBYTES (a C macro expression, so not imported).
    static let byteCount = 64

    private let storage: UnsafeMutablePointer<UInt8>

    /// Allocates the buffer and lets `fill` write the 64 secret bytes into it.
    init(fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        Sodium.ensureInitialized()
        // sodium_malloc returns NULL only when the system is out of memory, where a Swift
        // allocation would stop the process as well.
        guard let raw = sodium_malloc(Self.byteCount) else { fatalError("out of memory for a secret key") }
        let pointer = raw.bindMemory(to: UInt8.self, capacity: Self.byteCount)
        fill(pointer)
        storage = pointer
    }

    deinit {
        sodium_memzero(storage, Self.byteCount)
        sodium_free(storage)
    }

    /// Runs `body` with read access to the 64 secret bytes. The pointer must not escape.
    func withBytes<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafePointer(storage)) }
    }

    /// A copy of the secret bytes; the caller must wipe it (`Sodium.wipe`) when done.
    func copyBytes() -> [UInt8] {
        withBytes { Array(UnsafeBufferPointer(start: $0, count: Self.byteCount)) }
    }

    // Never reveal the secret through print(), string interpolation, debugPrint() or dump().
    var description: String { "SecretKey(redacted)" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

// MARK: - Key pair

/// An Ed25519 identity: a public key and its secret key.
///
/// The secret key is stored in wiped-on-release memory and never appears in `description`
/// or reflection. Copies of a `KeyPair` share that storage.
public struct KeyPair: Sendable, CustomStringConvertible {
    /// The public half.
    public let publicKey: PublicKey
    let secretKey: SecretKey

    private init(publicKey: PublicKey, secretKey: SecretKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Creates a new key pair from the system's secure random generator.
    ///
    /// - Returns: A fresh key pair.
    public static func generate() -> KeyPair {
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: WireLimits.publicKeyLength)
        let sk = SecretKey { _ = crypto_sign_keypair(&pk, $0) }
        return KeyPair(publicKey: PublicKey(derived: pk), secretKey: sk)
    }

    /// Derives the key pair of a 32-byte seed (RFC 8032 "private key"), deterministically.
    ///
    /// - Parameter seed: 32 secret bytes.
    /// - Throws: `WireError.invalidSecretKey` when `seed` is not 32 bytes long.
    public init(seed: [UInt8]) throws(WireError) {
        guard seed.count == 32 else {
            throw .invalidSecretKey("seed is \(seed.count) bytes, expected 32")
        }
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: WireLimits.publicKeyLength)
        let sk = SecretKey { _ = crypto_sign_seed_keypair(&pk, $0, seed) }
        self.init(publicKey: PublicKey(derived: pk), secretKey: sk)
    }

    /// Loads a 64-byte secret key in the libsodium / Go `ed25519.PrivateKey` layout
    /// (seed ‖ public key).
    ///
    /// - Parameter secretKey: The 64 bytes.
    /// - Throws: `WireError.invalidSecretKey` when the length is wrong or the public half is not
    ///   the key the seed derives (a corrupted or hand-assembled key).
    public init(secretKey: [UInt8]) throws(WireError) {
        guard secretKey.count == SecretKey.byteCount else {
            throw .invalidSecretKey("\(secretKey.count) bytes, expected \(SecretKey.byteCount)")
        }
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: WireLimits.publicKeyLength)
        // crypto_sign_seed_keypair reads only the first 32 bytes: the seed.
        let sk = SecretKey { _ = crypto_sign_seed_keypair(&pk, $0, secretKey) }
        guard pk[...] == secretKey[32...] else {
            throw .invalidSecretKey("the public half does not match the seed")
        }
        self.init(publicKey: PublicKey(derived: pk), secretKey: sk)
    }

    /// Loads a secret key written as standard base64 of its 64 bytes (the original project's
    /// key format).
    ///
    /// - Parameter base64SecretKey: 88 characters of padded standard base64.
    /// - Throws: `WireError.invalidBase64` for malformed text, `WireError.invalidSecretKey` for
    ///   a key of the wrong size or with a mismatched public half.
    public init(base64SecretKey: String) throws(WireError) {
        try self.init(base64ASCII: Array(base64SecretKey.utf8))
    }

    init(base64ASCII: [UInt8]) throws(WireError) {
        var raw = try Base64.decode(ascii: base64ASCII)
        defer { Sodium.wipe(&raw) }
        try self.init(secretKey: raw)
    }

    /// The secret key as standard base64 of its 64 bytes, the content of a key file.
    ///
    /// The returned `String` cannot be wiped; prefer `save(to:)` to persist a key.
    public var base64SecretKey: String {
        var ascii = base64SecretKeyASCII()
        defer { Sodium.wipe(&ascii) }
        return String(decoding: ascii, as: UTF8.self)
    }

    /// The base64 secret key as ASCII bytes; the caller must wipe them.
    func base64SecretKeyASCII() -> [UInt8] {
        var raw = secretKey.copyBytes()
        defer { Sodium.wipe(&raw) }
        return Base64.encodeToASCII(raw)
    }

    /// Names the public key only.
    public var description: String { "KeyPair(publicKey: \(publicKey.base64))" }
}

// MARK: - Key files

/// A key file could not be read or written.
public struct KeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Hashable, Sendable {
        /// A system call failed with `errno`.
        case system(call: String, errno: Int32)
        /// The file is larger than any key file; it was not read further.
        case tooLarge(limit: Int)
        /// The content is not a valid base64 secret key.
        case invalidKey(WireError)
    }

    /// The file concerned.
    public let path: String
    /// Why it failed.
    public let reason: Reason

    /// Creates an error for `path`.
    ///
    /// - Parameters:
    ///   - path: The key file.
    ///   - reason: What went wrong.
    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// The path, the failing step and its cause.
    public var description: String {
        switch reason {
        case let .system(call, code):
            "key file \(path): \(call): \(String(cString: strerror(code)))"
        case let .tooLarge(limit):
            "key file \(path): larger than \(limit) bytes"
        case let .invalidKey(error):
            "key file \(path): \(error)"
        }
    }
}

extension KeyPair {
    /// Largest key file read: the key is 88 characters, the rest allows generous whitespace.
    static let maxKeyFileSize = 4096

    /// Reads a key file: the base64 secret key, optionally surrounded by whitespace.
    ///
    /// - Parameter path: The file to read.
    /// - Returns: The key pair it holds.
    /// - Throws: `KeyFileError` when the file cannot be read, is too large, or does not hold a
    ///   valid secret key.
    public static func load(from path: String) throws(KeyFileError) -> KeyPair {
        func failure(_ call: String) -> KeyFileError {
            KeyFileError(path: path, reason: .system(call: call, errno: errno))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open") }
        defer { _ = close(fd) }

        // One byte over the limit tells "too large" apart from "exactly at the limit".
        var buffer = [UInt8](repeating: 0, count: maxKeyFileSize + 1)
        defer { Sodium.wipe(&buffer) }
        var total = 0
        while total < buffer.count {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(fd, base + total, raw.count - total)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read")
            }
            if n == 0 { break }
            total += n
        }
        guard total <= maxKeyFileSize else {
            throw KeyFileError(path: path, reason: .tooLarge(limit: maxKeyFileSize))
        }

        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0d).contains($0) }
        var text = Array(buffer[..<total].drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        defer { Sodium.wipe(&text) }
        do {
            return try KeyPair(base64ASCII: text)
        } catch {
            throw KeyFileError(path: path, reason: .invalidKey(error))
        }
    }

    /// Writes the secret key to `path` as base64 followed by a newline, with mode 0600.
    ///
    /// The content goes to a new temporary file in the same directory, is flushed to disk, then
    /// renamed over `path`, so a crash never leaves a partial key file behind.
    ///
    /// - Parameter path: The file to create or replace.
    /// - Throws: `KeyFileError` with the failing system call.
    public func save(to path: String) throws(KeyFileError) {
        func failure(_ call: String) -> KeyFileError {
            KeyFileError(path: path, reason: .system(call: call, errno: errno))
        }
        var content = base64SecretKeyASCII()
        content.append(UInt8(ascii: "\n"))
        defer { Sodium.wipe(&content) }

        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: .min ... .max))"
        // O_EXCL: never write into a file (or through a symlink) someone placed there first.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("open") }
        var renamed = false
        defer { if !renamed { _ = unlink(temporary) } }

        var error: KeyFileError?
        // The umask can only have removed bits; set exactly 0600.
        if fchmod(fd, 0o600) != 0 { error = failure("fchmod") }
        var written = 0
        while error == nil && written < content.count {
            let n = content.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return write(fd, base + written, raw.count - written)
            }
            if n < 0 {
                if errno != EINTR { error = failure("write") }
            } else {
                written += n
            }
        }
        if error == nil && fsync(fd) != 0 { error = failure("fsync") }
        if close(fd) != 0 && error == nil { error = failure("close") }
        if let error { throw error }

        guard rename(temporary, path) == 0 else { throw failure("rename") }
        renamed = true
        syncDirectory(of: path)
    }

    /// Flushes the directory entry so that the rename survives a crash (best effort: some file
    /// systems refuse fsync on directories).
    private func syncDirectory(of path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }
}
