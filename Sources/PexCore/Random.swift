/// A deterministic random generator for tests, simulations and fuzzing.
///
/// xoshiro256** seeded through SplitMix64: fast, small, and identical on every platform, so a
/// simulation seed replays bit for bit. The core takes its randomness from whatever generator the
/// driver passes in; a real node passes the system CSPRNG, since handshake nonces and the secret
/// bucketing key must be unpredictable, which this generator is not.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// A generator whose whole output is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

}

extension RandomNumberGenerator {
    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            var v = next()
            for _ in 0..<8 { out.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
        }
        return Array(out.prefix(count))
    }

    /// A uniformly random span in `0...max` (full jitter).
    public mutating func jitter(upTo max: TimeSpan) -> TimeSpan {
        max.nanoseconds == 0 ? .zero : TimeSpan(nanoseconds: UInt64.random(in: 0...max.nanoseconds, using: &self))
    }
}

/// A type-erased generator, so the node can hold whichever one the driver passed in.
public struct AnyRandom: RandomNumberGenerator {
    var base: any RandomNumberGenerator
    public init(_ base: any RandomNumberGenerator) { self.base = base }
    public mutating func next() -> UInt64 { base.next() }
}
