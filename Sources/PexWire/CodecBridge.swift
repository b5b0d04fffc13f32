// The one place where Swift values meet protobuf-c: the arenas used for unpacking and for
// packing, and the generic encode/decode entry points every message goes through.

import CPexProto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Bridge protocol

/// How a Swift message maps onto the struct protobuf-c generated for it.
///
/// Encoding builds the struct in an `EncodeArena` and packs it; decoding unpacks into an
/// `UnpackArena` and converts the struct back, validating every structural limit.
protocol ProtobufCBridged {
    associatedtype CMessage

    /// The protobuf name, used in error messages.
    static var protoName: String { get }
    /// The generated `pex__v1__x__descriptor`, taken from an initialised struct (see `loadDescriptor(_:)`).
    static var descriptor: UnsafePointer<ProtobufCMessageDescriptor> { get }
    /// Largest input `decode` hands to protobuf-c.
    static var maxEncodedSize: Int { get }
    /// The error for an input of `length` bytes, over `limit`.
    static func tooLarge(_ length: Int, limit: Int) -> WireError
    /// Calls the generated `pex__v1__x__init`.
    static func initialize(_ message: UnsafeMutablePointer<CMessage>)

    /// Stores this value into an initialised struct; every pointer stored comes from `arena`.
    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena)
    /// Converts and validates a struct unpacked by protobuf-c into an `UnpackArena`.
    ///
    /// Nothing of `message` may be kept: the arena is released when this returns.
    init(unpacked message: UnsafePointer<CMessage>) throws(WireError)
}

extension ProtobufCBridged {
    static var maxEncodedSize: Int { WireLimits.maxFrameSize }
    static func tooLarge(_ length: Int, limit: Int) -> WireError {
        .frameTooLarge(length: UInt64(length), limit: limit)
    }

    /// Packs `self` with protobuf-c.
    func protobufCEncoded() -> [UInt8] {
        let arena = EncodeArena()
        let message = arena.message(self)
        let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            // `size > 0`, so the buffer has storage.
            count = protobuf_c_message_pack(base, buffer.baseAddress!)
        }
    }

    /// Unpacks `bytes` with protobuf-c after checking their size, then converts and validates.
    ///
    /// protobuf-c allocates every field separately; they all come from one `UnpackArena` that
    /// starts on the stack and is dropped as a whole, so a small message costs no `malloc` and
    /// no `protobuf_c_message_free_unpacked` walk.
    static func protobufCDecode(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(WireError) -> Self {
        guard bytes.count <= limit else { throw tooLarge(bytes.count, limit: limit) }
        let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return try withUnsafeTemporaryAllocation(
            byteCount: UnpackArena.inlineCapacity, alignment: UnpackArena.alignment
        ) { (inline) throws(WireError) -> Self in
            var arena = UnpackArena(inline: inline, inputSize: bytes.count)
            defer { arena.releaseChunks() }
            return try withUnsafeMutablePointer(to: &arena) { (arenaPointer) throws(WireError) -> Self in
                var allocator = ProtobufCAllocator(
                    alloc: arenaAlloc, free: arenaFree, allocator_data: UnsafeMutableRawPointer(arenaPointer))
                guard let unpacked = protobuf_c_message_unpack(descriptor, &allocator, bytes.count, data) else {
                    throw .malformed(message: protoName)
                }
                // No free_unpacked: everything protobuf-c allocated lives in the arena.
                return try Self(unpacked: UnsafeRawPointer(unpacked).assumingMemoryBound(to: CMessage.self))
            }
        }
    }

    /// `protobufCDecode` for any collection, without copying when it has contiguous storage.
    static func protobufCDecode(_ bytes: some Collection<UInt8>, limit: Int) throws(WireError) -> Self {
        // Checked here too so that a huge non-contiguous input is not copied first.
        let count = bytes.count
        guard count <= limit else { throw tooLarge(count, limit: limit) }
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(WireError) in try protobufCDecode(UnsafeRawBufferPointer(buffer), limit: limit) }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBytes { raw in
            Result { () throws(WireError) in try protobufCDecode(raw, limit: limit) }
        }.get()
    }

    /// The descriptor stored by a generated init function, i.e. `&pex__v1__x__descriptor`.
    ///
    /// Taken this way because Swift may copy an imported C constant when asked for its address,
    /// and protobuf-c keeps the descriptor pointer inside every message it unpacks.
    static func loadDescriptor(
        _ initialize: (UnsafeMutablePointer<CMessage>) -> Void
    ) -> UnsafePointer<ProtobufCMessageDescriptor> {
        let message = UnsafeMutablePointer<CMessage>.allocate(capacity: 1)
        defer { message.deallocate() }
        initialize(message)
        return UnsafeRawPointer(message).load(as: ProtobufCMessage.self).descriptor
    }
}

// MARK: - Unpacking

/// protobuf-c runtime glue shared by all messages.
enum ProtobufC {
    /// Bytes in front of every block an `UnpackArena` hands out, holding the requested size.
    static let headerSize = UnpackArena.headerSize

    /// Address of `protobuf_c_empty_string`, the unallocated default of every string field.
    static let emptyStringAddress: UInt = {
        var message = Pex__V1__Error()
        pex__v1__error__init(&message)
        return UInt(bitPattern: message.message)
    }()

    /// The wire length of a non-default string field: the arena header holds the allocated size,
    /// which protobuf-c makes exactly `length + 1` (it drops the wire length and NUL-terminates,
    /// so a string with an embedded NUL would otherwise silently read as its prefix).
    static func stringBytes(_ pointer: UnsafePointer<CChar>) -> UnsafeBufferPointer<UInt8> {
        let raw = UnsafeRawPointer(pointer)
        let length = (raw - headerSize).load(as: Int.self) - 1
        return UnsafeBufferPointer(start: raw.assumingMemoryBound(to: UInt8.self), count: length)
    }

    /// Reads a string field of an unpacked message.
    /// - Throws: `fieldTooLong` beyond `maxLength` bytes, `malformed` for an embedded NUL,
    ///   `invalidUTF8` for bytes that are not UTF-8.
    static func string(_ pointer: UnsafePointer<CChar>?, field: String, maxLength: Int) throws(WireError) -> String {
        guard let pointer, UInt(bitPattern: pointer) != emptyStringAddress else { return "" }
        let bytes = stringBytes(pointer)
        let length = bytes.count
        guard length <= maxLength else { throw .fieldTooLong(field: field, length: length, limit: maxLength) }
        var ascii = true
        for byte in bytes {
            if byte == 0 { throw .malformed(message: "\(field) (NUL byte in string)") }
            if byte >= 0x80 { ascii = false }
        }
        // ASCII is valid UTF-8, and `String(decoding:)` is much cheaper than the generic
        // `String(validating:)`, which only the rare non-ASCII string needs.
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return string
    }

    /// Copies a bytes field of an unpacked message.
    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard let pointer = data.data, data.len > 0 else { return [] }
        // Not `init(unsafeUninitializedCapacity:)`: for [UInt8] it goes through an unspecialised
        // runtime metadata lookup that costs more than the copy; this form is specialised.
        return [UInt8](UnsafeBufferPointer(start: pointer, count: data.len))
    }

    /// Checks the size of a fixed-length bytes field (key, signature, nonce).
    static func checkLength(_ data: ProtobufCBinaryData, field: String, expected: Int) throws(WireError) {
        guard data.len == expected else { throw .wrongFieldLength(field: field, length: data.len, expected: expected) }
    }

    /// Elements `0..<count` of a repeated field.
    static func elements<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> UnsafeBufferPointer<T> {
        guard let pointer, count > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: pointer, count: count)
    }
}

/// Bump allocator for one `protobuf_c_message_unpack` call.
///
/// Blocks come from a caller-provided inline buffer (on the stack), then from malloc'd chunks
/// of growing size; `free` is a no-op and everything is released at once by `releaseChunks()`.
/// Each block is preceded by its requested size (see `ProtobufC.stringBytes`).
struct UnpackArena {
    /// Size header in front of each block; also the block alignment, enough for every
    /// protobuf-c struct (pointers, 64-bit integers, doubles).
    static let headerSize = 8
    static let alignment = 16
    /// Stack space for the first blocks: a whole `PeerRecord` (at most 2 KiB on the wire)
    /// usually fits.
    static let inlineCapacity = 2048
    private static let maxChunkSize = 1 << 20
    /// A chunk starts with the link to the previous chunk, padded to `alignment`.
    private static let linkSize = 16

    private var cursor: UnsafeMutableRawPointer
    private var end: UnsafeMutableRawPointer
    private var lastChunk: UnsafeMutableRawPointer?
    private var nextChunkSize: Int

    /// - Parameters:
    ///   - inline: The first buffer, aligned to `alignment`; it must outlive the arena's use.
    ///   - inputSize: Size of the message being unpacked; the first chunk is sized from it, as
    ///     the unpacked form takes a small multiple of the wire size.
    init(inline: UnsafeMutableRawBufferPointer, inputSize: Int) {
        // Never empty: `inlineCapacity` > 0.
        cursor = inline.baseAddress!
        end = cursor + inline.count
        lastChunk = nil
        nextChunkSize = min(max(4096, inputSize.multipliedReportingOverflow(by: 2).partialValue), Self.maxChunkSize)
    }

    /// A block of `size` bytes, or `nil` when malloc fails or the size is absurd.
    mutating func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        // `size_t` arrives as `Int`: anything over `Int.max / 2` is negative or unsatisfiable.
        guard size >= 0, size <= Int.max / 2 else { return nil }
        let needed = Self.headerSize + ((size + Self.headerSize - 1) & ~(Self.headerSize - 1))
        if end - cursor < needed {
            guard grow(needed) else { return nil }
        }
        cursor.storeBytes(of: size, as: Int.self)
        let block = cursor + Self.headerSize
        cursor += needed
        return block
    }

    private mutating func grow(_ needed: Int) -> Bool {
        let size = max(nextChunkSize, needed + Self.linkSize)
        guard let chunk = malloc(size) else { return false }
        chunk.storeBytes(of: lastChunk, as: UnsafeMutableRawPointer?.self)
        lastChunk = chunk
        cursor = chunk + Self.linkSize
        end = chunk + size
        nextChunkSize = min(nextChunkSize * 2, Self.maxChunkSize)
        return true
    }

    /// Frees every chunk; the blocks handed out are invalid afterwards.
    mutating func releaseChunks() {
        while let chunk = lastChunk {
            lastChunk = chunk.load(as: UnsafeMutableRawPointer?.self)
            free(chunk)
        }
    }
}

private func arenaAlloc(_ data: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    data?.assumingMemoryBound(to: UnpackArena.self).pointee.allocate(size)
}

/// Blocks are released with the arena.
private func arenaFree(_: UnsafeMutableRawPointer?, _: UnsafeMutableRawPointer?) {}

// MARK: - Packing

/// Memory for the protobuf-c structs of one `encoded()` call, freed all at once when the arena is.
///
/// protobuf-c packs from raw pointers (nested messages, repeated bytes, NUL-terminated strings),
/// so everything it reads is copied here first: a Swift array's storage is only pinned inside a
/// `withUnsafe…` closure, which cannot nest over a variable number of records.
final class EncodeArena {
    private static let chunkSize = 16 * 1024
    private var chunks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0

    deinit {
        for chunk in chunks { chunk.deallocate() }
    }

    /// Uninitialised memory that lives as long as the arena.
    func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if let cursor {
            let padding = (alignment - Int(bitPattern: cursor) % alignment) % alignment
            if padding + byteCount <= remaining {
                self.cursor = cursor + padding + byteCount
                remaining -= padding + byteCount
                return cursor + padding
            }
        }
        // Large requests get a block of their own so that the current chunk keeps its space.
        if byteCount > Self.chunkSize / 4 {
            let block = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: max(alignment, 16))
            chunks.append(block)
            return block
        }
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        chunks.append(chunk)
        cursor = chunk + byteCount
        remaining = Self.chunkSize - byteCount
        return chunk
    }

    /// Room for `count` values of `T`, bound but not initialised.
    func array<T>(of _: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        allocate(byteCount: MemoryLayout<T>.stride * count, alignment: MemoryLayout<T>.alignment)
            .bindMemory(to: T.self, capacity: count)
    }

    /// `bytes` as a protobuf-c bytes field; empty is `{0, NULL}`, as the generated init leaves it.
    ///
    /// Elements of repeated fields are always packed, and protobuf-c then `memcpy`s from the
    /// pointer even for length 0; `nonNull` gives them a real (empty) block to point at.
    func binary(_ bytes: [UInt8], nonNull: Bool = false) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else {
            return ProtobufCBinaryData(len: 0, data: nonNull ? array(of: UInt8.self, count: 1) : nil)
        }
        let copy = array(of: UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { copy.initialize(from: $0.baseAddress!, count: $0.count) }
        return ProtobufCBinaryData(len: bytes.count, data: copy)
    }

    /// `string` as a NUL-terminated C string, or `nil` to keep the generated empty default.
    ///
    /// protobuf-c measures strings with `strlen`, so a string holding NUL is packed up to its
    /// first NUL; such strings are not valid wire values and decoding rejects them.
    func cString(_ string: String) -> UnsafeMutablePointer<CChar>? {
        guard !string.isEmpty else { return nil }
        var string = string
        return string.withUTF8 { utf8 in
            let copy = array(of: CChar.self, count: utf8.count + 1)
            utf8.withMemoryRebound(to: CChar.self) { copy.initialize(from: $0.baseAddress!, count: $0.count) }
            copy[utf8.count] = 0
            return copy
        }
    }

    /// An initialised and filled struct for `value`.
    func message<M: ProtobufCBridged>(_ value: M) -> UnsafeMutablePointer<M.CMessage> {
        let message = array(of: M.CMessage.self, count: 1)
        M.initialize(message)
        value.fill(message, in: self)
        return message
    }
}
