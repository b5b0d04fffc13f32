import PexWire

/// A token bucket with exact integer arithmetic.
///
/// Tokens are kept in millionths (`microtokens`) and refilled from the elapsed nanoseconds times
/// the rate, with the division remainder carried to the next refill. Refilling in many small steps
/// therefore gives exactly the same tokens as one big step: no floating-point drift, and two nodes
/// fed the same instants agree to the microtoken.
///
/// Refill stops at `burst`. `credit(_:)` may lift the bucket above `burst` (up to `creditLimit`),
/// in the spirit of Bitcoin Core's address bucket, which grows by the size of a GETADDR answer when
/// a node asks for addresses: an answer we asked for must not be cut by the unsolicited-traffic
/// limit. While the bucket holds `burst` or more, time does not refill it.
public struct TokenBucket: Sendable, Equatable {
    /// Microtokens per token.
    public static let scale: UInt64 = 1_000_000
    private static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// The refill rate in microtokens per second (the configured `Double` rounded once).
    public let microtokensPerSecond: UInt64
    /// Most whole tokens time can refill.
    public let burst: Int
    /// Most whole tokens the bucket can hold after credits.
    public let creditLimit: Int
    /// Tokens now held, in microtokens (as of the last operation, before any refill due since).
    public private(set) var microtokens: UInt64

    private let capacity: UInt64
    private let creditCapacity: UInt64
    /// Refill remainder, in microtoken-nanoseconds per second; always below one billion.
    private var carry: UInt64 = 0
    private var lastRefill: Instant

    /// Creates a bucket.
    ///
    /// - Parameters:
    ///   - ratePerSecond: Tokens added per second. Converted once to whole microtokens per second
    ///     (rounded); negative, NaN or infinite rates count as 0, huge ones saturate.
    ///   - burst: Most tokens time can refill; negative counts as 0.
    ///   - now: The instant refilling starts from.
    ///   - full: Whether the bucket starts with `burst` tokens (else with none).
    ///   - creditLimit: Most tokens the bucket may hold after `credit(_:)`; `nil` means twice
    ///     `burst`. Values below `burst` count as `burst`. The cap keeps a peer that we asked many
    ///     times without getting an answer from banking an unbounded allowance.
    public init(ratePerSecond: Double, burst: Int, now: Instant, full: Bool = true, creditLimit: Int? = nil) {
        microtokensPerSecond = Self.fixedPoint(ratePerSecond)
        self.burst = max(burst, 0)
        let limit = creditLimit ?? (self.burst > Int.max / 2 ? Int.max : self.burst * 2)
        self.creditLimit = max(limit, self.burst)
        capacity = Self.micro(self.burst) ?? .max
        creditCapacity = Self.micro(self.creditLimit) ?? .max
        microtokens = full ? capacity : 0
        lastRefill = now
    }

    /// Whole tokens available at `now`, after refilling.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: The whole tokens held; fractions are kept but not counted.
    public mutating func available(now: Instant) -> Int {
        refill(now: now)
        return Int(microtokens / Self.scale)
    }

    /// Takes `n` tokens if all of them are available.
    ///
    /// - Parameters:
    ///   - n: Tokens wanted; zero or negative takes nothing and succeeds.
    ///   - now: The current instant.
    /// - Returns: `true` when the tokens were taken, `false` (and nothing taken) otherwise.
    public mutating func tryTake(_ n: Int = 1, now: Instant) -> Bool {
        refill(now: now)
        // More microtokens than a UInt64 holds can never be available.
        guard let need = Self.micro(n), microtokens >= need else { return false }
        microtokens -= need
        return true
    }

    /// Takes as many of `n` tokens as are available.
    ///
    /// - Parameters:
    ///   - n: Tokens wanted (e.g. records in a message); zero or negative takes nothing.
    ///   - now: The current instant.
    /// - Returns: How many of the `n` were allowed; the caller processes that many and drops the rest.
    public mutating func take(upTo n: Int, now: Instant) -> Int {
        refill(now: now)
        guard n > 0 else { return 0 }
        let granted = min(UInt64(n), microtokens / Self.scale)
        microtokens -= granted * Self.scale
        return Int(granted)
    }

    /// Adds `n` tokens, beyond `burst` if need be, up to `creditLimit`.
    ///
    /// - Parameter n: Tokens to add; zero or negative adds nothing.
    public mutating func credit(_ n: Int) {
        guard microtokens < creditCapacity else { return }
        let (sum, overflow) = microtokens.addingReportingOverflow(Self.micro(n) ?? .max)
        microtokens = overflow ? creditCapacity : min(sum, creditCapacity)
    }

    /// Brings the bucket up to `now`. Time before the last refill (a clock stepping back) adds nothing.
    private mutating func refill(now: Instant) {
        guard now > lastRefill else { return }
        let elapsed = (now - lastRefill).nanoseconds
        lastRefill = now
        guard microtokens < capacity else {
            // A full bucket wastes the time, so the remainder must not survive it either.
            carry = 0
            return
        }
        let ns = Self.nanosecondsPerSecond
        // Whole seconds add an exact multiple of the rate; only the sub-second part divides.
        let (fromSeconds, secondsOverflow) = (elapsed / ns).multipliedReportingOverflow(by: microtokensPerSecond)
        // (elapsed % ns) * rate + carry < ns * 2^64, so the high word stays below `ns` and the
        // full-width division cannot overflow.
        let product = (elapsed % ns).multipliedFullWidth(by: microtokensPerSecond)
        let (low, lowOverflow) = product.low.addingReportingOverflow(carry)
        let high = product.high + (lowOverflow ? 1 : 0)
        let (fromFraction, remainder) = ns.dividingFullWidth((high: high, low: low))
        let (gained, sumOverflow) = fromSeconds.addingReportingOverflow(fromFraction)
        let room = capacity - microtokens
        if secondsOverflow || sumOverflow || gained >= room {
            microtokens = capacity
            carry = 0
        } else {
            microtokens += gained
            carry = remainder
        }
    }

    /// `tokens` in microtokens (0 for negative counts), `nil` when that overflows a `UInt64`.
    private static func micro(_ tokens: Int) -> UInt64? {
        guard tokens > 0 else { return 0 }
        let (product, overflow) = UInt64(tokens).multipliedReportingOverflow(by: scale)
        return overflow ? nil : product
    }

    private static func fixedPoint(_ ratePerSecond: Double) -> UInt64 {
        guard ratePerSecond.isFinite, ratePerSecond > 0 else { return ratePerSecond == .infinity ? .max : 0 }
        let scaled = (ratePerSecond * Double(scale)).rounded()
        // 2^64 is exactly representable; anything at or above it saturates.
        return scaled >= 18_446_744_073_709_551_616.0 ? .max : UInt64(scaled)
    }
}

/// The traffic classes a connection is rate-limited on.
public enum RateClass: String, CaseIterable, Sendable {
    /// `PeerRequest` messages received.
    case request
    /// Records carried in announcements, updates and responses received.
    case records
    /// Frames of any kind received.
    case frames
    /// Pings received.
    case ping
}

/// Rates and bursts of the per-connection buckets.
public struct RateLimitConfig: Sendable, Equatable {
    /// One bucket's parameters.
    public struct Bucket: Sendable, Equatable {
        /// Tokens refilled per second.
        public var ratePerSecond: Double
        /// Most tokens time refills (and the initial fill).
        public var burst: Int
        /// Most tokens after credits; `nil` means twice `burst` (see `TokenBucket`).
        public var creditLimit: Int?

        /// Creates bucket parameters.
        ///
        /// - Parameters:
        ///   - ratePerSecond: Tokens refilled per second.
        ///   - burst: Most tokens time refills.
        ///   - creditLimit: Most tokens after credits; `nil` means twice `burst`.
        public init(ratePerSecond: Double, burst: Int, creditLimit: Int? = nil) {
            self.ratePerSecond = ratePerSecond
            self.burst = burst
            self.creditLimit = creditLimit
        }
    }

    /// `PeerRequest`s: one per 10 s, burst 3. A requester pages through a full list with a few
    /// requests in a row, then waits for changes.
    public var request = Bucket(ratePerSecond: 0.1, burst: 3)
    /// Unsolicited records: 0.1 per second, burst 1000 (Bitcoin Core's address rate and bucket
    /// size). A request we send credits its `max_peers` on top; credits stop at 2000 records.
    public var records = Bucket(ratePerSecond: 0.1, burst: 1000, creditLimit: 2000)
    /// Any frame: 20 per second, burst 200; a ceiling on parsing work, far above honest traffic.
    public var frames = Bucket(ratePerSecond: 20, burst: 200)
    /// Pings: one per 5 s, burst 4 (keepalive needs far fewer).
    public var ping = Bucket(ratePerSecond: 0.2, burst: 4)

    /// The documented defaults.
    public init() {}

    /// The defaults.
    public static let `default` = RateLimitConfig()

    /// Requests per second a node must accept from one peer that syncs on the given schedule.
    ///
    /// A peer asks at most once per `syncInterval − syncJitter` on one connection (the periodic
    /// sync never fires sooner; continuation pages cost no token, and the request sent when a
    /// connection becomes ready is covered by the burst). The rate returned is twice that, so
    /// that late timers, network delay bunching two requests, and peers configured with a sync
    /// interval down to half of ours still pass. A node applies it as a floor under the
    /// configured `request` rate (`NodeConfig.rateLimits`), so the defaults (30 s ± 5 s: 0.08
    /// per second) keep the documented one request per 10 s.
    ///
    /// - Parameters:
    ///   - syncInterval: The period of the periodic sync.
    ///   - syncJitter: Its uniform jitter either way; a jitter not shorter than the interval
    ///     counts as leaving one millisecond between two syncs.
    /// - Returns: Requests per second; `2 / max(syncInterval − syncJitter, 1 ms)`.
    public static func requestRate(syncInterval: TimeSpan, syncJitter: TimeSpan) -> Double {
        let floor: UInt64 = 1_000_000
        let gap = syncInterval.nanoseconds > syncJitter.nanoseconds ? syncInterval.nanoseconds - syncJitter.nanoseconds : 0
        return 2 / TimeSpan(nanoseconds: max(gap, floor)).seconds
    }

    /// The parameters of one class.
    public subscript(_ rateClass: RateClass) -> Bucket {
        get {
            switch rateClass {
            case .request: request
            case .records: records
            case .frames: frames
            case .ping: ping
            }
        }
        set {
            switch rateClass {
            case .request: request = newValue
            case .records: records = newValue
            case .frames: frames = newValue
            case .ping: ping = newValue
            }
        }
    }
}

/// The rate limits of one connection: one `TokenBucket` per `RateClass`, all starting full.
public struct PeerRateLimits: Sendable, Equatable {
    /// The parameters the buckets were made from.
    public let config: RateLimitConfig
    private var request, records, frames, ping: TokenBucket

    /// Creates full buckets for a new connection.
    ///
    /// - Parameters:
    ///   - config: Rates and bursts.
    ///   - now: The instant the connection opened.
    public init(config: RateLimitConfig = .default, now: Instant) {
        self.config = config
        func make(_ b: RateLimitConfig.Bucket) -> TokenBucket {
            TokenBucket(ratePerSecond: b.ratePerSecond, burst: b.burst, now: now, creditLimit: b.creditLimit)
        }
        request = make(config.request)
        records = make(config.records)
        frames = make(config.frames)
        ping = make(config.ping)
    }

    /// The bucket of one class, for inspection.
    public subscript(_ rateClass: RateClass) -> TokenBucket {
        switch rateClass {
        case .request: request
        case .records: records
        case .frames: frames
        case .ping: ping
        }
    }

    /// Runs `body` on the bucket of one class.
    private mutating func withBucket<R>(_ rateClass: RateClass, _ body: (inout TokenBucket) -> R) -> R {
        switch rateClass {
        case .request: body(&request)
        case .records: body(&records)
        case .frames: body(&frames)
        case .ping: body(&ping)
        }
    }

    /// Whole tokens available in one class at `now`.
    ///
    /// - Parameters:
    ///   - rateClass: The class.
    ///   - now: The current instant.
    /// - Returns: The whole tokens held after refilling.
    public mutating func available(_ rateClass: RateClass, now: Instant) -> Int {
        withBucket(rateClass) { $0.available(now: now) }
    }

    /// Takes `n` tokens of one class if all are available (one request, one frame, one ping).
    ///
    /// - Parameters:
    ///   - rateClass: The class.
    ///   - n: Tokens wanted.
    ///   - now: The current instant.
    /// - Returns: `true` when allowed; `false` means the event is over the limit.
    public mutating func tryTake(_ rateClass: RateClass, _ n: Int = 1, now: Instant) -> Bool {
        withBucket(rateClass) { $0.tryTake(n, now: now) }
    }

    /// Takes as many of `n` tokens of one class as are available (records of one message).
    ///
    /// - Parameters:
    ///   - rateClass: The class.
    ///   - n: Tokens wanted.
    ///   - now: The current instant.
    /// - Returns: How many were allowed; the rest are dropped.
    public mutating func take(_ rateClass: RateClass, upTo n: Int, now: Instant) -> Int {
        withBucket(rateClass) { $0.take(upTo: n, now: now) }
    }

    /// Credits the records bucket for a `PeerRequest` we send to this peer, so that the answer we
    /// asked for is not cut by the limit on unsolicited records.
    ///
    /// - Parameter request: The request being sent.
    /// - Returns: The records credited: its effective `max_peers` (0 and values above
    ///   `WireLimits.maxRecordsPerMessage` count as that maximum).
    @discardableResult
    public mutating func creditRecords(for request: PeerRequest) -> Int {
        let wanted = request.recordsAsked
        records.credit(wanted)
        return wanted
    }
}
