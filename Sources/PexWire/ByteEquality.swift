#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Array where Element == UInt8 {
    /// Byte equality through `memcmp`: the same result as `==`, which compares element by
    /// element. Records, keys and addresses are compared on every table lookup that finds them.
    @inlinable
    package func sameBytes(as other: [UInt8]) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                a.baseAddress == b.baseAddress || count == 0 || memcmp(a.baseAddress!, b.baseAddress!, count) == 0
            }
        }
    }
}
