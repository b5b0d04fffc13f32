import PexWire

/// Every tunable of a node in one value. Defaults suit a 64–512 member federation on a small
/// machine. `Command.reload` replaces it at run time without dropping connections; the sizes of
/// tables and caches (address book, signature and seen caches, ban list, misbehaviour tracker,
/// full-list window) keep their start-up values until the next start.
public struct NodeConfig: Sendable, Equatable {
    // MARK: Identity and network

    /// Network id: records and Hellos of other networks are rejected.
    public var networkID: String
    /// Addresses advertised in our own record (1 to 10). The runtime sets them from its listeners.
    public var advertisedAddresses: [Multiaddr]
    /// Software name and version sent in Hello.
    public var agent = "pex/0.1.0"
    /// Federation roster mode: when set, only these keys may connect, and only their records are
    /// stored or relayed. `nil` is an open network.
    public var roster: Set<PublicKey>?
    /// Lab mode: loopback and private addresses are acceptable in records and for dialing, and
    /// the one-outbound-per-network-group rule is lifted (every lab address is in one group).
    public var labMode = false

    // MARK: Bootstrap, in fallback order after the persisted peers

    /// Configured bootstrap peers (`/ip4`, `/ip6` or `/dns*` with `/tcp`).
    public var bootstrapPeers: [Multiaddr] = []
    /// DNS names whose addresses are bootstrap peers on `dnsSeedPort`.
    public var dnsSeeds: [String] = []
    public var dnsSeedPort: UInt16 = 4001
    /// The built-in last resort.
    public var fixedPeers: [Multiaddr] = []
    /// Exponential backoff with full jitter per address: the n-th retry waits a random time in
    /// [0, min(cap, base × 2^n)].
    public var backoffBase: TimeSpan = .seconds(1)
    public var backoffCap: TimeSpan = .minutes(5)
    /// Bootstrap addresses dialled at once, picked at random among the eligible ones. A
    /// bootstrap connection is an address fetch: it is released once its exchange has filled
    /// the book with `targetOutbound` candidates and another connection is ready, so a few
    /// bootstrap nodes can serve any number of newcomers one after another. At least 1.
    public var bootstrapDialsAtOnce = 1

    // MARK: Connections

    /// Outbound connections the node keeps (feelers not counted).
    public var targetOutbound = 8
    /// Ready inbound connections. When all are taken, a newly authenticated inbound peer evicts
    /// the least valuable unprotected one (netgroup diversity, latency, usefulness and age are
    /// protected), or is refused when every one is protected.
    public var maxInbound = 32
    /// Inbound connections from one IP address.
    public var maxConnectionsPerIP = 4
    /// Connections still in their handshake.
    public var maxPendingHandshakes = 16
    public var handshakeTimeout: TimeSpan = .seconds(10)
    /// A Ping is sent after this long without receiving anything…
    public var pingInterval: TimeSpan = .seconds(15)
    /// …and the connection is closed after this long without receiving anything.
    public var idleTimeout: TimeSpan = .seconds(45)
    /// How often a short test connection ("feeler") checks an untried address.
    public var feelerInterval: TimeSpan = .minutes(2)

    // MARK: Exchange

    /// Periodic sync: every `syncInterval` ± `syncJitter`, the `syncFanout` ready peers synced
    /// longest ago are asked for what changed.
    public var syncInterval: TimeSpan = .seconds(30)
    public var syncJitter: TimeSpan = .seconds(5)
    public var syncFanout = 2
    /// Records per response we ask for and serve (at most `WireLimits.maxRecordsPerMessage`).
    public var maxPeersPerResponse = WireLimits.maxRecordsPerMessage
    /// Full-list replies come from a snapshot renewed this often (privacy).
    public var fullListCacheWindow: TimeSpan = .minutes(5)
    /// Largest frame we accept (announced in Hello).
    public var maxFrameSize = WireLimits.maxFrameSize
    /// Offer deflate compression and delta sync.
    public var offerCompression = true
    public var offerDeltaSync = true
    /// A request not answered in this time counts as a failed sync (and the connection is closed).
    public var requestTimeout: TimeSpan = .seconds(30)

    // MARK: Announcements

    /// A new or updated record is relayed to this many ready peers (never back to its source).
    public var relayFanout = 3
    /// (key, seq) pairs remembered to drop duplicate relays.
    public var seenCacheCapacity = 8192
    /// Keys remembered per connection as known to the peer (§11.1): answers and relays skip
    /// records the peer already holds. Memory: about 32 bytes per key per connection.
    public var knownRecordsPerConnection = 1024
    /// Lifetime of our own record, and how long before expiry it is re-signed.
    public var recordLifetime: TimeSpan = .hours(24)
    public var recordRefreshMargin: TimeSpan = .hours(6)

    // MARK: Tables, limits and bans

    public var addressBook = AddressBookConfig()
    /// Rates and bursts of every connection's buckets (§20.1 of docs/PROTOCOL.md).
    ///
    /// The `request` rate read here is never below `RateLimitConfig.requestRate(syncInterval:syncJitter:)`
    /// of this configuration: peers of a federation share its sync schedule, so a node that syncs
    /// every `syncInterval` must accept their requests at that pace, or honest peers syncing faster
    /// than the default get rate-limited, disconnected and banned. The value set is kept
    /// (`configuredRateLimits`): a higher configured rate wins, and a longer `syncInterval` brings
    /// the effective rate back down to it.
    public var rateLimits: RateLimitConfig {
        get {
            var limits = configuredRateLimits
            let needed = RateLimitConfig.requestRate(syncInterval: syncInterval, syncJitter: syncJitter)
            if needed > limits.request.ratePerSecond { limits.request.ratePerSecond = needed }
            return limits
        }
        set { configuredRateLimits = newValue }
    }
    /// The rate limits as configured, before the request rate is fitted to the sync schedule.
    public private(set) var configuredRateLimits = RateLimitConfig()
    public var misbehaviour = MisbehaviourConfig()
    public var signatureCacheCapacity = 8192
    public var maxBans = 10_000

    /// A configuration with defaults for everything but the network and our own addresses.
    public init(networkID: String, advertisedAddresses: [Multiaddr]) {
        self.networkID = networkID
        self.advertisedAddresses = advertisedAddresses
    }
}
