/// Standard base64 (RFC 4648 §4: alphabet `A–Z a–z 0–9 + /`, `=` padding), the encoding of Go's
/// `base64.StdEncoding` that the original project used for public keys and secret-key files.
///
/// Decoding is strict so that every byte string has exactly one accepted text form: the length
/// must be a multiple of 4, padding may only end the text, no whitespace or URL-safe characters
/// are allowed, and the unused low bits of the last symbol must be zero.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let padding = UInt8(ascii: "=")
    /// 0xff marks bytes outside the alphabet (including `=`, which is handled separately).
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Encodes `bytes` as padded standard base64.
    ///
    /// - Parameter bytes: The bytes to encode.
    /// - Returns: The base64 text; empty for empty input.
    public static func encode(_ bytes: [UInt8]) -> String {
        String(decoding: encodeToASCII(bytes), as: UTF8.self)
    }

    /// Decodes padded standard base64.
    ///
    /// - Parameter text: The base64 text, without surrounding whitespace.
    /// - Returns: The decoded bytes.
    /// - Throws: `WireError.invalidBase64` for any character outside the alphabet, a length that
    ///   is not a multiple of 4, misplaced padding or non-zero unused bits.
    public static func decode(_ text: String) throws(WireError) -> [UInt8] {
        try decode(ascii: Array(text.utf8))
    }

    /// The encoding as ASCII bytes; lets secret material be written out without ever becoming
    /// a `String`, which could not be wiped afterwards.
    static func encodeToASCII(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(padding)
            out.append(padding)
        case 2:
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(padding)
        default:
            break
        }
        return out
    }

    /// Strict decoding of base64 given as ASCII bytes (see `decode(_:)`).
    static func decode(ascii chars: [UInt8]) throws(WireError) -> [UInt8] {
        guard chars.count % 4 == 0 else { throw .invalidBase64 }
        var padded = 0
        if chars.last == padding {
            padded = chars[chars.count - 2] == padding ? 2 : 1
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            // Only the final quantum may carry padding; an `=` anywhere else fails the table lookup.
            let symbols = i + 4 == chars.count ? 4 - padded : 4
            var n: UInt32 = 0
            for j in 0..<symbols {
                let v = decodeTable[Int(chars[i + j])]
                guard v != 0xff else { throw .invalidBase64 }
                n = n << 6 | UInt32(v)
            }
            n <<= UInt32(6 * (4 - symbols))
            switch symbols {
            case 4:
                out.append(UInt8(truncatingIfNeeded: n >> 16))
                out.append(UInt8(truncatingIfNeeded: n >> 8))
                out.append(UInt8(truncatingIfNeeded: n))
            case 3:
                guard n & 0xff == 0 else { throw .invalidBase64 }
                out.append(UInt8(truncatingIfNeeded: n >> 16))
                out.append(UInt8(truncatingIfNeeded: n >> 8))
            default:
                // Two symbols (12 bits) carry one byte; a padded quantum never has fewer.
                guard n & 0xffff == 0 else { throw .invalidBase64 }
                out.append(UInt8(truncatingIfNeeded: n >> 16))
            }
            i += 4
        }
        return out
    }
}
