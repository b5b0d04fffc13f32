import PexCore
import PexWire

/// The server side of the admin protocol, as a pure function: the runtime's unix-socket server
/// decodes a request, takes an `AdminSnapshot` of the node, calls `handle`, feeds the reply's
/// command (if any) to the node and writes the response back.
public enum AdminService {
    /// What to do for one request.
    public struct Reply: Sendable {
        /// The response to send.
        public var response: AdminResponse
        /// The command to give the node before sending the response, for requests that change
        /// something (bootstrap list, dial, disconnect).
        public var command: Command?

        /// Creates a reply.
        ///
        /// - Parameters:
        ///   - response: The response to send.
        ///   - command: The command for the node, if any.
        public init(response: AdminResponse, command: Command? = nil) {
            self.response = response
            self.command = command
        }
    }

    /// Answers one request from a snapshot.
    ///
    /// - Parameters:
    ///   - request: The decoded request.
    ///   - snapshot: The node's state now.
    /// - Returns: The response, and the command to apply for requests that change the node.
    public static func handle(_ request: AdminRequest, snapshot: AdminSnapshot) -> Reply {
        switch request {
        case .status:
            return Reply(response: .status(status(snapshot)))
        case let .peers(connectedOnly):
            let ready = Set(snapshot.readyPeers)
            let peers = snapshot.peers.compactMap { entry -> AdminPeer? in
                let connected = ready.contains(entry.record.publicKey)
                guard connected || !connectedOnly else { return nil }
                return AdminPeer(
                    publicKey: entry.record.publicKey, seq: entry.record.seq, addresses: entry.record.addresses,
                    expiresAt: entry.record.expiresAt, connected: connected, table: entry.table,
                    lastSeen: entry.lastSeen?.unixSeconds ?? 0, lastSuccess: entry.lastSuccess?.unixSeconds ?? 0,
                    attempts: UInt32(clamping: entry.attempts))
            }
            return Reply(response: .peers(peers))
        case .metrics:
            return Reply(response: .metrics(PrometheusExporter.render(snapshot)))
        case .exportPeers:
            return Reply(response: .exportPeers(snapshot.peers.map(\.record.signed)))
        case let .addBootstrap(address):
            if let refusal = dialRefusal(address) { return Reply(response: .error(refusal)) }
            return Reply(response: .accepted, command: .addBootstrapPeer(address))
        case let .removeBootstrap(address):
            return Reply(response: .accepted, command: .removeBootstrapPeer(address))
        case let .connect(address):
            if let refusal = dialRefusal(address) { return Reply(response: .error(refusal)) }
            return Reply(response: .accepted, command: .connect(address))
        case let .disconnect(key):
            guard key != snapshot.publicKey else { return Reply(response: .error("cannot disconnect from ourselves")) }
            return Reply(response: .accepted, command: .disconnect(key))
        }
    }

    /// Answers the bytes of one request (without the length prefix); undecodable bytes get an
    /// `.error` response naming the fault.
    ///
    /// - Parameters:
    ///   - bytes: The serialised `AdminRequest`.
    ///   - snapshot: The node's state now.
    /// - Returns: As `handle(_:snapshot:)`.
    public static func handle(requestBytes bytes: some Collection<UInt8>, snapshot: AdminSnapshot) -> Reply {
        do {
            return handle(try AdminRequest(decoding: bytes), snapshot: snapshot)
        } catch {
            return Reply(response: .error("bad request: \(error)"))
        }
    }

    static func status(_ snapshot: AdminSnapshot) -> AdminStatus {
        AdminStatus(
            state: AdminNodeState(snapshot.state), publicKey: snapshot.publicKey, networkID: snapshot.networkID,
            readyPeers: UInt32(clamping: snapshot.readyPeers.count), knownRecords: UInt64(snapshot.peers.count),
            uptimeSeconds: (snapshot.now - snapshot.startedAt).nanoseconds / 1_000_000_000,
            inbound: UInt32(clamping: snapshot.inbound), outbound: UInt32(clamping: snapshot.outbound),
            ownSeq: snapshot.ownSeq, listenAddresses: snapshot.listenAddresses, agent: snapshot.agent)
    }

    /// Why the node cannot dial `address`, or `nil` when it can (a TCP dial target).
    static func dialRefusal(_ address: Multiaddr) -> String? {
        do throws(Multiaddr.NotDialable) {
            guard try address.dialTarget().transport == .tcp else { return "\(address): only TCP is supported" }
            return nil
        } catch {
            return "\(address): not dialable: \(error.reason)"
        }
    }
}

extension AdminNodeState {
    /// The admin protocol's name for a node state.
    ///
    /// - Parameter state: The core's state.
    public init(_ state: NodeState) {
        self = switch state {
        case .bootstrapping: .bootstrapping
        case .initialSync: .initialSync
        case .maintenance: .maintenance
        case .stopped: .stopped
        }
    }
}

/// Splits the bytes a client sends into admin requests (varint length prefix, as the wire
/// protocol), for the runtime's socket server.
public struct AdminRequestDecoder: Sendable {
    /// Largest request accepted: requests are small, so a client cannot make the daemon
    /// buffer megabytes.
    public static let maxRequestSize = 64 * 1024
    private var frames = FrameDecoder(maxFrameSize: AdminRequestDecoder.maxRequestSize)

    /// An empty decoder.
    public init() {}

    /// Adds bytes read from the socket.
    ///
    /// - Parameter bytes: The next chunk, any size.
    public mutating func append(_ bytes: some Sequence<UInt8>) { frames.append(bytes) }

    /// The next complete request's bytes, prefix removed, for `AdminService.handle(requestBytes:snapshot:)`.
    ///
    /// - Returns: The serialised request, or `nil` until all of it has arrived.
    /// - Throws: `WireError` for a bad or oversized length prefix; the stream is then unusable
    ///   and the connection should be closed after an error response.
    public mutating func nextRequestBytes() throws(WireError) -> [UInt8]? { try frames.nextFrameBytes() }
}
