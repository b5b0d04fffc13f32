// The stream format: each Frame is preceded by its length as a protobuf varint (the
// delimited-stream convention). The prefix is not a protobuf message, so it is read and
// written here with `Varint`; the frame itself goes through protobuf-c.

/// Turns frames into bytes for the stream.
public enum FrameEncoder {
    /// Prefixes serialised frame bytes with their varint length.
    ///
    /// - Parameter frameBytes: A serialised `Frame` (e.g. from `Frame.encoded()`).
    /// - Returns: The length prefix followed by `frameBytes`.
    public static func delimit(_ frameBytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Varint.encodedLength(UInt64(frameBytes.count)) + frameBytes.count)
        Varint.append(UInt64(frameBytes.count), to: &out)
        out.append(contentsOf: frameBytes)
        return out
    }

    /// Encodes a frame for the stream, compressing it when asked and worthwhile.
    ///
    /// - Parameters:
    ///   - frame: The frame to send.
    ///   - compress: Whether the peer accepts `Compressed` frames (both sides listed
    ///     `Capability.deflate`); the frame is then deflated when it is at least
    ///     `WireLimits.compressionThreshold` bytes and shrinks.
    ///   - maxFrameSize: The peer's frame limit; the frame must fit even once inflated.
    /// - Returns: The length prefix followed by the serialised (possibly compressed) frame.
    /// - Throws: `.frameTooLarge` when the serialised frame exceeds `maxFrameSize`.
    public static func encode(
        _ frame: Frame, compress: Bool = false, maxFrameSize: Int = WireLimits.maxFrameSize
    ) throws(WireError) -> [UInt8] {
        var body = frame.encoded()
        // Checked on the uncompressed bytes: the receiver refuses to inflate beyond its limit.
        guard body.count <= maxFrameSize else {
            throw .frameTooLarge(length: UInt64(body.count), limit: maxFrameSize)
        }
        if compress, !isCompressed(frame), let compressed = Compressed(compressing: body) {
            body = Frame.compressed(compressed).encoded()
        }
        return delimit(body)
    }

    private static func isCompressed(_ frame: Frame) -> Bool {
        if case .compressed = frame { return true }
        return false
    }
}

/// Splits a byte stream into frames, whatever the chunks it arrives in.
///
/// Append bytes as they arrive, then call `nextFrame(inflating:)` (or `nextFrameBytes()`) until it
/// returns `nil`. A length prefix is checked as soon as it is complete, before the body arrives.
///
/// Framing errors (a bad or oversized prefix, an empty frame) leave the stream out of sync, so the
/// decoder stays failed: every later call throws the same error and appended bytes are dropped.
/// A frame that is well delimited but fails to decode is consumed and its error thrown once;
/// the next frame can still be read.
public struct FrameDecoder: Sendable {
    /// Largest accepted frame (prefix excluded); may be changed at any time, e.g. lowered to
    /// the value the peer announced in its Hello. It also bounds inflated frames.
    public var maxFrameSize: Int
    /// The framing error that stopped the decoder, if any.
    public private(set) var failure: WireError?

    private var buffer: [UInt8] = []
    /// Start of the unread bytes; the consumed prefix of `buffer` is dropped in `append` once it
    /// outweighs what is left, so each byte is moved at most a bounded number of times.
    private var readIndex = 0
    /// Consumed bytes are only dropped from the front when at least this many have piled up.
    private static let compactionThreshold = 4096

    /// Creates a decoder.
    ///
    /// - Parameter maxFrameSize: Largest accepted frame, prefix excluded.
    public init(maxFrameSize: Int = WireLimits.maxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    /// Number of received bytes not yet returned as frames.
    public var buffered: Int { buffer.count - readIndex }

    /// Adds bytes received from the stream; ignored once the decoder has failed.
    ///
    /// - Parameter bytes: The next chunk of the stream, of any size.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= Self.compactionThreshold && readIndex >= buffered {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's exact bytes (prefix excluded), as needed to hash a Hello.
    ///
    /// - Returns: The serialised frame, or `nil` until all of it has arrived.
    /// - Throws: `.badLengthPrefix` for a prefix longer than `WireLimits.maxLengthPrefixBytes` or
    ///   not minimal, `.emptyFrame` for length 0, `.frameTooLarge` above `maxFrameSize`; then the
    ///   same error on every call.
    public mutating func nextFrameBytes() throws(WireError) -> [UInt8]? {
        guard let range = try nextFrameRange() else { return nil }
        return Array(buffer[range])
    }

    /// The next complete frame, decoded.
    ///
    /// - Parameter inflating: Whether a `.compressed` frame is inflated and its inner frame
    ///   returned (bounded by `maxFrameSize`); when `false` it is returned as it is.
    /// - Returns: The frame, or `nil` until all of it has arrived.
    /// - Throws: The framing errors of `nextFrameBytes()` (sticky), or the frame's decoding or
    ///   inflation error (that frame is skipped).
    public mutating func nextFrame(inflating: Bool = true) throws(WireError) -> Frame? {
        guard let range = try nextFrameRange() else { return nil }
        let limit = maxFrameSize
        // Decoded straight from the buffer: `range` stays valid until the next `append`.
        let frame = try buffer.withUnsafeBytes { raw in
            Result { () throws(WireError) in
                try Frame.protobufCDecode(UnsafeRawBufferPointer(rebasing: raw[range]), limit: limit)
            }
        }.get()
        return inflating ? try frame.inflated(maxSize: limit) : frame
    }

    /// Checks, once the stream has ended and the frames have been drained, that it ended
    /// between two frames.
    ///
    /// - Throws: The sticky failure if any, or `.truncated` when bytes of a frame are left:
    ///   `expected` is the whole frame with its prefix, or one more byte when the prefix itself
    ///   is incomplete.
    public func finish() throws(WireError) {
        if let failure { throw failure }
        guard buffered > 0 else { return }
        // At most 5 prefix bytes, so `length` < 2^35 and the sum cannot overflow.
        if case let .value(length, prefixLength) = Varint.read(
            buffer[readIndex...], maxBytes: WireLimits.maxLengthPrefixBytes)
        {
            throw .truncated(expected: prefixLength + Int(length), available: buffered)
        }
        throw .truncated(expected: buffered + 1, available: buffered)
    }

    /// Parses the prefix of the next frame and, when the frame is complete, consumes it.
    /// - Returns: The frame's range in `buffer`, or `nil` when more bytes are needed.
    private mutating func nextFrameRange() throws(WireError) -> Range<Int>? {
        if let failure { throw failure }
        let available = buffered
        guard available > 0 else { return nil }
        switch Varint.read(buffer[readIndex...], maxBytes: WireLimits.maxLengthPrefixBytes) {
        case .incomplete:
            // Five bytes all with the continuation bit already make the prefix too long.
            if available >= WireLimits.maxLengthPrefixBytes { return try fail(.badLengthPrefix) }
            return nil
        case .invalid:
            return try fail(.badLengthPrefix)
        case let .value(length, prefixLength):
            guard length > 0 else { return try fail(.emptyFrame) }
            guard length <= UInt64(max(maxFrameSize, 0)) else {
                return try fail(.frameTooLarge(length: length, limit: maxFrameSize))
            }
            let start = readIndex + prefixLength
            guard available - prefixLength >= Int(length) else { return nil }
            readIndex = start + Int(length)
            return start..<readIndex
        }
    }

    private mutating func fail(_ error: WireError) throws(WireError) -> Range<Int>? {
        failure = error
        buffer = []
        readIndex = 0
        throw error
    }
}
