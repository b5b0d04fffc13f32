/// Unsigned LEB128 varints as protobuf writes them; used for the frame length prefix and
/// inside binary multiaddrs.
public enum Varint {
    /// Appends the varint encoding of `value` to `buffer`.
    public static func append(_ value: UInt64, to buffer: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.append(UInt8(v))
    }

    /// The varint encoding of `value`.
    public static func encode(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(10)
        append(value, to: &out)
        return out
    }

    /// Number of bytes `value` takes as a varint.
    public static func encodedLength(_ value: UInt64) -> Int {
        var n = 1
        var v = value >> 7
        while v != 0 { n += 1; v >>= 7 }
        return n
    }

    /// Outcome of reading a varint from the front of a buffer.
    public enum ReadResult: Equatable, Sendable {
        /// A complete value and the number of bytes it used.
        case value(UInt64, length: Int)
        /// The buffer ends inside the varint.
        case incomplete
        /// More than `maxBytes` bytes, a value over 64 bits, or a non-minimal encoding.
        case invalid
    }

    /// Reads one varint from the start of `bytes`, rejecting encodings longer than `maxBytes`
    /// and non-minimal ones (a trailing 0x00 continuation), so each value has one encoding.
    public static func read<C: Collection>(_ bytes: C, maxBytes: Int = 10) -> ReadResult
    where C.Element == UInt8 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var count = 0
        for byte in bytes {
            count += 1
            if count > maxBytes || count > 10 { return .invalid }
            let payload = UInt64(byte & 0x7f)
            if shift == 63 && payload > 1 { return .invalid }
            result |= payload << shift
            if byte & 0x80 == 0 {
                if count > 1 && byte == 0 { return .invalid }
                return .value(result, length: count)
            }
            shift += 7
        }
        return .incomplete
    }
}
