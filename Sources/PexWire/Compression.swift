// Raw deflate (RFC 1951, no zlib or gzip header) over the system zlib, and the Compressed frame.
//
// Inflation is bounded before it starts: the announced size is checked against the receiver's
// limit, the output buffer is exactly that size, and a stream that would produce one byte more
// is refused, so a small frame cannot expand into a large allocation.

import CZlib

/// Raw deflate compression of frame bytes (`CompressionCodec.deflate`).
public enum Deflate {
    /// zlib's window bits for a raw stream: 2^15-byte window, negative for "no header".
    static let rawWindowBits: Int32 = -15
    /// zlib's default memory level (`DEF_MEM_LEVEL`, not exported by zlib.h).
    static let memoryLevel: Int32 = 8

    /// Compresses `bytes` as a raw deflate stream.
    ///
    /// - Parameters:
    ///   - bytes: The data to compress.
    ///   - level: zlib compression level, 0 (store) to 9 (smallest); default 6.
    /// - Returns: The stream, or `nil` when zlib cannot be set up (out of memory), in which
    ///   case the caller sends the data uncompressed.
    public static func compress(_ bytes: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) -> [UInt8]? {
        guard bytes.count <= Int(UInt32.max) else { return nil }
        // zlib keeps a pointer back to the z_stream, so it must not move between calls.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard deflateInit2_(stream, level, Z_DEFLATED, rawWindowBits, memoryLevel, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { return nil }
        defer { deflateEnd(stream) }
        let bound = Int(deflateBound(stream, uLong(bytes.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let finished = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.pointee.avail_in = uInt(input.count)
                stream.pointee.next_out = out.baseAddress
                stream.pointee.avail_out = uInt(out.count)
                // deflateBound guarantees room for the whole stream in a single call.
                return deflate(stream, Z_FINISH) == Z_STREAM_END
            }
        }
        guard finished else { return nil }
        output.removeLast(Int(stream.pointee.avail_out))
        return output
    }

    /// Inflates a raw deflate stream that must produce exactly `expectedSize` bytes.
    ///
    /// The output buffer is allocated once at `expectedSize`; inflation stops as soon as the
    /// stream would exceed it.
    /// - Parameters:
    ///   - data: The compressed stream.
    ///   - expectedSize: The announced uncompressed size; the caller has bounded it.
    /// - Returns: Exactly `expectedSize` bytes.
    /// - Throws: `.decompressionTooLarge(limit: expectedSize)` when the stream holds more,
    ///   `.decompressedSizeMismatch` when it holds less, `.badCompressedData` when it is corrupt,
    ///   truncated or followed by extra bytes.
    public static func decompress(_ data: [UInt8], expectedSize: Int) throws(WireError) -> [UInt8] {
        // zlib counts in 32 bits; `Compressed` announces sizes as UInt32 anyway.
        guard expectedSize <= Int(UInt32.max), data.count <= Int(UInt32.max) else {
            throw .decompressionTooLarge(limit: Int(UInt32.max))
        }
        guard expectedSize >= 0 else { throw .decompressedSizeMismatch(announced: expectedSize, actual: 0) }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard inflateInit2_(stream, rawWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .badCompressedData("zlib could not be initialised")
        }
        defer { inflateEnd(stream) }
        var output = [UInt8](repeating: 0, count: expectedSize)
        let produced = data.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                Result { () throws(WireError) in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                    stream.pointee.avail_in = uInt(input.count)
                    return try inflate(stream, into: out)
                }
            }
        }
        let actual = try produced.get()
        guard actual == expectedSize else { throw .decompressedSizeMismatch(announced: expectedSize, actual: actual) }
        return output
    }

    /// Runs `inflate` until the stream ends, filling `out` and then probing one byte further.
    /// - Returns: The number of bytes written to `out`.
    private static func inflate(
        _ stream: UnsafeMutablePointer<z_stream>, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws(WireError) -> Int {
        // Once `out` is full, zlib may still owe the end of the stream without further output;
        // a one-byte probe buffer tells "ends here" from "would produce more".
        var probe: UInt8 = 0
        return try withUnsafeMutablePointer(to: &probe) { (probePointer) throws(WireError) -> Int in
            var probing = out.isEmpty
            if probing {
                stream.pointee.next_out = probePointer
                stream.pointee.avail_out = 1
            } else {
                stream.pointee.next_out = out.baseAddress
                stream.pointee.avail_out = uInt(out.count)
            }
            while true {
                let status = CZlib.inflate(stream, Z_NO_FLUSH)
                if probing && stream.pointee.avail_out == 0 {
                    throw .decompressionTooLarge(limit: out.count)
                }
                switch status {
                case Z_STREAM_END:
                    guard stream.pointee.avail_in == 0 else {
                        throw .badCompressedData("\(stream.pointee.avail_in) bytes after the end of the stream")
                    }
                    return probing ? out.count : out.count - Int(stream.pointee.avail_out)
                case Z_OK, Z_BUF_ERROR:
                    if stream.pointee.avail_out == 0 {
                        probing = true
                        stream.pointee.next_out = probePointer
                        stream.pointee.avail_out = 1
                    } else if stream.pointee.avail_in == 0 {
                        throw .badCompressedData("truncated stream")
                    } else if status == Z_BUF_ERROR {
                        throw .badCompressedData("inflate made no progress")
                    }
                case Z_DATA_ERROR:
                    throw .badCompressedData(zlibMessage(stream) ?? "invalid deflate data")
                case Z_MEM_ERROR:
                    throw .badCompressedData("out of memory while inflating")
                default:
                    throw .badCompressedData("zlib status \(status)")
                }
            }
        }
    }

    private static func zlibMessage(_ stream: UnsafeMutablePointer<z_stream>) -> String? {
        stream.pointee.msg.map { String(cString: $0) }
    }
}

extension Compressed {
    /// Deflates encoded frame bytes into a `Compressed` body when that makes the frame smaller.
    ///
    /// - Parameters:
    ///   - frameBytes: A serialised, uncompressed `Frame`.
    ///   - threshold: Frames shorter than this are not worth compressing.
    /// - Returns: The body, or `nil` when `frameBytes` is below `threshold`, larger than a
    ///   `UInt32` size, or does not shrink once the Compressed wrapper is counted.
    public init?(compressing frameBytes: [UInt8], threshold: Int = WireLimits.compressionThreshold) {
        guard frameBytes.count >= threshold, let size = UInt32(exactly: frameBytes.count),
              let data = Deflate.compress(frameBytes)
        else { return nil }
        let candidate = Compressed(codec: .deflate, uncompressedSize: size, data: data)
        guard Frame.compressed(candidate).encoded().count < frameBytes.count else { return nil }
        self = candidate
    }

    /// Inflates the body into the serialised inner frame, bounded by `maxSize`.
    ///
    /// - Parameter maxSize: The receiver's frame limit; `uncompressedSize` above it is refused
    ///   before any inflation.
    /// - Returns: Exactly `uncompressedSize` bytes.
    /// - Throws: `.unsupportedCompression` for a codec other than deflate,
    ///   `.decompressionTooLarge` for an announcement over `maxSize` or a stream longer than
    ///   announced, `.decompressedSizeMismatch` for a shorter one, `.badCompressedData` for a
    ///   corrupt one.
    public func inflate(maxSize: Int = WireLimits.maxFrameSize) throws(WireError) -> [UInt8] {
        guard codec == .deflate else { throw .unsupportedCompression(codec: codec.rawValue) }
        guard Int(uncompressedSize) <= maxSize else { throw .decompressionTooLarge(limit: maxSize) }
        return try Deflate.decompress(data, expectedSize: Int(uncompressedSize))
    }
}

extension Frame {
    /// This frame as a `.compressed` frame, if compression is worthwhile.
    ///
    /// - Parameter threshold: Frames whose encoding is shorter are left alone.
    /// - Returns: The compressed frame, or `nil` when this frame is already compressed, is below
    ///   `threshold`, or does not shrink.
    public func deflated(threshold: Int = WireLimits.compressionThreshold) -> Frame? {
        if case .compressed = self { return nil }
        return Compressed(compressing: encoded(), threshold: threshold).map(Frame.compressed)
    }

    /// The frame carried by a `.compressed` frame, or `self` for any other frame.
    ///
    /// - Parameter maxSize: The receiver's frame limit, bounding the inflated size.
    /// - Returns: The decoded inner frame, never itself compressed.
    /// - Throws: The errors of `Compressed.inflate(maxSize:)`, `.nestedCompression` when the inner
    ///   frame is compressed again, or the inner frame's decoding error.
    public func inflated(maxSize: Int = WireLimits.maxFrameSize) throws(WireError) -> Frame {
        guard case let .compressed(body) = self else { return self }
        let inner = try Frame(decoding: body.inflate(maxSize: maxSize), maxSize: maxSize)
        if case .compressed = inner { throw .nestedCompression }
        return inner
    }
}
