// Encoding and decoding of the admin protocol (proto/pex/v1/admin.proto) through protobuf-c,
// on the same bridge as the wire messages (CodecBridge.swift).

import CPexProto

// MARK: - Public entry points

extension AdminRequest: WireMessage {
    /// The protobuf encoding of the request, without the length prefix.
    ///
    /// - Returns: The serialised `pex.v1.AdminRequest`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes and validates a request.
    ///
    /// - Parameter bytes: The serialised `pex.v1.AdminRequest`, at most `AdminLimits.maxMessageSize` bytes.
    /// - Throws: `.frameTooLarge` over the limit, `.malformed` when protobuf-c cannot parse the
    ///   bytes or no request is set, `.badAddress` for an address that is not a valid multiaddr,
    ///   `.invalidPublicKey` for a bad key.
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }

    /// The request with its varint length prefix, ready for the socket.
    ///
    /// - Returns: The length prefix followed by `encoded()`.
    public func delimited() -> [UInt8] { FrameEncoder.delimit(encoded()) }
}

extension AdminResponse: WireMessage {
    /// The protobuf encoding of the response, without the length prefix.
    ///
    /// - Returns: The serialised `pex.v1.AdminResponse`.
    public func encoded() -> [UInt8] { protobufCEncoded() }

    /// Decodes and validates a response.
    ///
    /// - Parameter bytes: The serialised `pex.v1.AdminResponse`, at most `AdminLimits.maxMessageSize` bytes.
    /// - Throws: `.frameTooLarge` over the limit, `.malformed` when protobuf-c cannot parse the
    ///   bytes or no response is set, or the first invalid field's error (key, address, string,
    ///   record).
    public init(decoding bytes: some Collection<UInt8>) throws(WireError) {
        self = try Self.protobufCDecode(bytes, limit: Self.maxEncodedSize)
    }

    /// The response with its varint length prefix, ready for the socket.
    ///
    /// - Returns: The length prefix followed by `encoded()`.
    public func delimited() -> [UInt8] { FrameEncoder.delimit(encoded()) }
}

// MARK: - Helpers

extension EncodeArena {
    /// An initialised struct of a message with no Swift counterpart (empty requests, wrappers).
    func initialized<T>(_: T.Type, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let message = array(of: T.self, count: 1)
        initialize(message)
        return message
    }

    /// `addresses` as a repeated bytes field.
    func addresses(_ addresses: [Multiaddr]) -> (Int, UnsafeMutablePointer<ProtobufCBinaryData>?) {
        guard !addresses.isEmpty else { return (0, nil) }
        let array = array(of: ProtobufCBinaryData.self, count: addresses.count)
        for (index, address) in addresses.enumerated() {
            (array + index).initialize(to: binary(address.bytes, nonNull: true))
        }
        return (addresses.count, array)
    }
}

enum AdminFields {
    /// Reads one binary multiaddr; `index` locates it in error messages.
    static func address(_ data: ProtobufCBinaryData, index: Int) throws(WireError) -> Multiaddr {
        do {
            return try Multiaddr(bytes: ProtobufC.bytes(data))
        } catch {
            throw .badAddress(index: index, error)
        }
    }

    /// Reads a repeated bytes field of multiaddrs.
    static func addresses(_ pointer: UnsafeMutablePointer<ProtobufCBinaryData>?, _ count: Int) throws(WireError)
        -> [Multiaddr]
    {
        var out: [Multiaddr] = []
        out.reserveCapacity(count)
        for (index, data) in ProtobufC.elements(pointer, count).enumerated() {
            out.append(try address(data, index: index))
        }
        return out
    }

    /// Reads a 32-byte Ed25519 public key field.
    static func publicKey(_ data: ProtobufCBinaryData, field: String) throws(WireError) -> PublicKey {
        try ProtobufC.checkLength(data, field: field, expected: WireLimits.publicKeyLength)
        return try PublicKey(bytes: ProtobufC.bytes(data))
    }

    /// A sub-message protobuf-c reported as set; NULL would be a library fault, reported as
    /// malformed rather than trapping.
    static func body<T>(_ pointer: UnsafeMutablePointer<T>?, in message: String) throws(WireError) -> UnsafePointer<T> {
        guard let pointer else { throw .malformed(message: message) }
        return UnsafePointer(pointer)
    }
}

// MARK: - Request

extension AdminRequest: ProtobufCBridged {
    typealias CMessage = Pex__V1__AdminRequest
    static let protoName = "AdminRequest"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__admin_request__init($0) }
    static var maxEncodedSize: Int { AdminLimits.maxMessageSize }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__admin_request__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        func addressRequest(_ address: Multiaddr) -> UnsafeMutablePointer<Pex__V1__AddressRequest> {
            let body = arena.initialized(Pex__V1__AddressRequest.self) { pex__v1__address_request__init($0) }
            body.pointee.address = arena.binary(address.bytes)
            return body
        }
        switch self {
        case .status:
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_STATUS
            message.pointee.status = arena.initialized(Pex__V1__StatusRequest.self) { pex__v1__status_request__init($0) }
        case let .peers(connectedOnly):
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_PEERS
            let body = arena.initialized(Pex__V1__PeersRequest.self) { pex__v1__peers_request__init($0) }
            body.pointee.connected_only = connectedOnly ? 1 : 0
            message.pointee.peers = body
        case .metrics:
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_METRICS
            message.pointee.metrics = arena.initialized(Pex__V1__MetricsRequest.self) {
                pex__v1__metrics_request__init($0)
            }
        case .exportPeers:
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_EXPORT_PEERS
            message.pointee.export_peers = arena.initialized(Pex__V1__ExportPeersRequest.self) {
                pex__v1__export_peers_request__init($0)
            }
        case let .addBootstrap(address):
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_ADD_BOOTSTRAP
            message.pointee.add_bootstrap = addressRequest(address)
        case let .removeBootstrap(address):
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_REMOVE_BOOTSTRAP
            message.pointee.remove_bootstrap = addressRequest(address)
        case let .connect(address):
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_CONNECT
            message.pointee.connect = addressRequest(address)
        case let .disconnect(key):
            message.pointee.request_case = PEX__V1__ADMIN_REQUEST__REQUEST_DISCONNECT
            let body = arena.initialized(Pex__V1__DisconnectRequest.self) { pex__v1__disconnect_request__init($0) }
            body.pointee.public_key = arena.binary(key.bytes)
            message.pointee.disconnect = body
        }
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        func address(_ pointer: UnsafeMutablePointer<Pex__V1__AddressRequest>?) throws(WireError) -> Multiaddr {
            try AdminFields.address(AdminFields.body(pointer, in: Self.protoName).pointee.address, index: 0)
        }
        switch c.request_case {
        case PEX__V1__ADMIN_REQUEST__REQUEST_STATUS:
            self = .status
        case PEX__V1__ADMIN_REQUEST__REQUEST_PEERS:
            self = .peers(connectedOnly: try AdminFields.body(c.peers, in: Self.protoName).pointee.connected_only != 0)
        case PEX__V1__ADMIN_REQUEST__REQUEST_METRICS:
            self = .metrics
        case PEX__V1__ADMIN_REQUEST__REQUEST_EXPORT_PEERS:
            self = .exportPeers
        case PEX__V1__ADMIN_REQUEST__REQUEST_ADD_BOOTSTRAP:
            self = .addBootstrap(try address(c.add_bootstrap))
        case PEX__V1__ADMIN_REQUEST__REQUEST_REMOVE_BOOTSTRAP:
            self = .removeBootstrap(try address(c.remove_bootstrap))
        case PEX__V1__ADMIN_REQUEST__REQUEST_CONNECT:
            self = .connect(try address(c.connect))
        case PEX__V1__ADMIN_REQUEST__REQUEST_DISCONNECT:
            let body = try AdminFields.body(c.disconnect, in: Self.protoName)
            self = .disconnect(try AdminFields.publicKey(body.pointee.public_key, field: "DisconnectRequest.public_key"))
        default:
            // Nothing set, or a request added in a later version: there is nothing to answer.
            throw .malformed(message: "\(Self.protoName) (no known request)")
        }
    }
}

// MARK: - Response

extension AdminResponse: ProtobufCBridged {
    typealias CMessage = Pex__V1__AdminResponse
    static let protoName = "AdminResponse"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__admin_response__init($0) }
    static var maxEncodedSize: Int { AdminLimits.maxMessageSize }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__admin_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        switch self {
        case let .status(status):
            message.pointee.response_case = PEX__V1__ADMIN_RESPONSE__RESPONSE_STATUS
            message.pointee.status = arena.message(status)
        case let .peers(peers):
            message.pointee.response_case = PEX__V1__ADMIN_RESPONSE__RESPONSE_PEERS
            let body = arena.initialized(Pex__V1__PeersResponse.self) { pex__v1__peers_response__init($0) }
            if !peers.isEmpty {
                let pointers = arena.array(of: UnsafeMutablePointer<Pex__V1__PeerInfo>?.self, count: peers.count)
                for (index, peer) in peers.enumerated() { (pointers + index).initialize(to: arena.message(peer)) }
                body.pointee.n_peers = peers.count
                body.pointee.peers = pointers
            }
            message.pointee.peers = body
        case let .metrics(text):
            message.pointee.response_case = PEX__V1__ADMIN_RESPONSE__RESPONSE_METRICS
            let body = arena.initialized(Pex__V1__MetricsResponse.self) { pex__v1__metrics_response__init($0) }
            if let text = arena.cString(text) { body.pointee.text = text }
            message.pointee.metrics = body
        case let .exportPeers(records):
            message.pointee.response_case = PEX__V1__ADMIN_RESPONSE__RESPONSE_EXPORT_PEERS
            let body = arena.initialized(Pex__V1__ExportPeersResponse.self) { pex__v1__export_peers_response__init($0) }
            if !records.isEmpty {
                let pointers = arena.array(of: UnsafeMutablePointer<Pex__V1__SignedPeerRecord>?.self, count: records.count)
                for (index, record) in records.enumerated() { (pointers + index).initialize(to: arena.message(record)) }
                body.pointee.n_records = records.count
                body.pointee.records = pointers
            }
            message.pointee.export_peers = body
        case .accepted:
            message.pointee.response_case = PEX__V1__ADMIN_RESPONSE__RESPONSE_ACCEPTED
            message.pointee.accepted = arena.initialized(Pex__V1__Accepted.self) { pex__v1__accepted__init($0) }
        case let .error(text):
            message.pointee.response_case = PEX__V1__ADMIN_RESPONSE__RESPONSE_ERROR
            let body = arena.initialized(Pex__V1__AdminError.self) { pex__v1__admin_error__init($0) }
            if let text = arena.cString(text) { body.pointee.message = text }
            message.pointee.error = body
        }
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        let name = Self.protoName
        switch c.response_case {
        case PEX__V1__ADMIN_RESPONSE__RESPONSE_STATUS:
            self = .status(try AdminStatus(unpacked: AdminFields.body(c.status, in: name)))
        case PEX__V1__ADMIN_RESPONSE__RESPONSE_PEERS:
            let body = try AdminFields.body(c.peers, in: name).pointee
            var peers: [AdminPeer] = []
            peers.reserveCapacity(body.n_peers)
            for pointer in ProtobufC.elements(body.peers, body.n_peers) {
                peers.append(try AdminPeer(unpacked: AdminFields.body(pointer, in: "PeersResponse")))
            }
            self = .peers(peers)
        case PEX__V1__ADMIN_RESPONSE__RESPONSE_METRICS:
            let body = try AdminFields.body(c.metrics, in: name).pointee
            self = .metrics(try ProtobufC.string(body.text, field: "MetricsResponse.text", maxLength: .max))
        case PEX__V1__ADMIN_RESPONSE__RESPONSE_EXPORT_PEERS:
            // Not `SignedPeerRecord.records`: an export holds the whole book, beyond the
            // per-message limit of the wire protocol; the message size bounds it instead.
            let body = try AdminFields.body(c.export_peers, in: name).pointee
            var records: [SignedPeerRecord] = []
            records.reserveCapacity(body.n_records)
            for pointer in ProtobufC.elements(body.records, body.n_records) {
                records.append(try SignedPeerRecord(unpacked: AdminFields.body(pointer, in: "ExportPeersResponse")))
            }
            self = .exportPeers(records)
        case PEX__V1__ADMIN_RESPONSE__RESPONSE_ACCEPTED:
            self = .accepted
        case PEX__V1__ADMIN_RESPONSE__RESPONSE_ERROR:
            let body = try AdminFields.body(c.error, in: name).pointee
            self = .error(
                try ProtobufC.string(body.message, field: "AdminError.message", maxLength: AdminLimits.maxErrorMessageLength))
        default:
            throw .malformed(message: "\(name) (no known response)")
        }
    }
}

// MARK: - Status and peers

extension AdminNodeState {
    fileprivate var protobufC: Pex__V1__NodeStatus {
        switch self {
        case .unspecified: PEX__V1__NODE_STATUS__NODE_STATUS_UNSPECIFIED
        case .bootstrapping: PEX__V1__NODE_STATUS__NODE_STATUS_BOOTSTRAPPING
        case .initialSync: PEX__V1__NODE_STATUS__NODE_STATUS_INITIAL_SYNC
        case .maintenance: PEX__V1__NODE_STATUS__NODE_STATUS_MAINTENANCE
        case .stopped: PEX__V1__NODE_STATUS__NODE_STATUS_STOPPED
        }
    }

    /// Unknown values (a newer server) read as `.unspecified`, as proto3 open enums allow.
    fileprivate init(protobufC value: Pex__V1__NodeStatus) {
        switch value {
        case PEX__V1__NODE_STATUS__NODE_STATUS_BOOTSTRAPPING: self = .bootstrapping
        case PEX__V1__NODE_STATUS__NODE_STATUS_INITIAL_SYNC: self = .initialSync
        case PEX__V1__NODE_STATUS__NODE_STATUS_MAINTENANCE: self = .maintenance
        case PEX__V1__NODE_STATUS__NODE_STATUS_STOPPED: self = .stopped
        default: self = .unspecified
        }
    }
}

extension AdminPeerTable {
    fileprivate var protobufC: Pex__V1__PeerTable {
        switch self {
        case .unspecified: PEX__V1__PEER_TABLE__PEER_TABLE_UNSPECIFIED
        case .new: PEX__V1__PEER_TABLE__PEER_TABLE_NEW
        case .tried: PEX__V1__PEER_TABLE__PEER_TABLE_TRIED
        case .protected: PEX__V1__PEER_TABLE__PEER_TABLE_PROTECTED
        }
    }

    /// Unknown values read as `.unspecified`.
    fileprivate init(protobufC value: Pex__V1__PeerTable) {
        switch value {
        case PEX__V1__PEER_TABLE__PEER_TABLE_NEW: self = .new
        case PEX__V1__PEER_TABLE__PEER_TABLE_TRIED: self = .tried
        case PEX__V1__PEER_TABLE__PEER_TABLE_PROTECTED: self = .protected
        default: self = .unspecified
        }
    }
}

extension AdminStatus: ProtobufCBridged {
    typealias CMessage = Pex__V1__StatusResponse
    static let protoName = "StatusResponse"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__status_response__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__status_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.state = state.protobufC
        message.pointee.public_key = arena.binary(publicKey.bytes)
        if let networkID = arena.cString(networkID) { message.pointee.network_id = networkID }
        message.pointee.ready_peers = readyPeers
        message.pointee.known_records = knownRecords
        message.pointee.uptime_seconds = uptimeSeconds
        message.pointee.inbound = inbound
        message.pointee.outbound = outbound
        message.pointee.own_seq = ownSeq
        (message.pointee.n_listen_addresses, message.pointee.listen_addresses) = arena.addresses(listenAddresses)
        if let agent = arena.cString(agent) { message.pointee.agent = agent }
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        let networkID = try ProtobufC.string(
            c.network_id, field: "StatusResponse.network_id", maxLength: WireLimits.maxNetworkIDLength)
        try WireLimits.validateNetworkID(networkID)
        self.init(
            state: AdminNodeState(protobufC: c.state),
            publicKey: try AdminFields.publicKey(c.public_key, field: "StatusResponse.public_key"),
            networkID: networkID, readyPeers: c.ready_peers, knownRecords: c.known_records,
            uptimeSeconds: c.uptime_seconds, inbound: c.inbound, outbound: c.outbound, ownSeq: c.own_seq,
            listenAddresses: try AdminFields.addresses(c.listen_addresses, c.n_listen_addresses),
            agent: try ProtobufC.string(c.agent, field: "StatusResponse.agent", maxLength: WireLimits.maxAgentLength))
    }
}

extension AdminPeer: ProtobufCBridged {
    typealias CMessage = Pex__V1__PeerInfo
    static let protoName = "PeerInfo"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__peer_info__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__peer_info__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.public_key = arena.binary(publicKey.bytes)
        message.pointee.seq = seq
        (message.pointee.n_addresses, message.pointee.addresses) = arena.addresses(addresses)
        message.pointee.expires_at = expiresAt
        message.pointee.connected = connected ? 1 : 0
        message.pointee.table = table.protobufC
        message.pointee.last_seen = lastSeen
        message.pointee.last_success = lastSuccess
        message.pointee.attempts = attempts
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        // Same bound as a record's: the entry lists one record's addresses.
        guard c.n_addresses <= WireLimits.maxAddressesPerRecord else {
            throw .tooManyAddresses(count: c.n_addresses, limit: WireLimits.maxAddressesPerRecord)
        }
        self.init(
            publicKey: try AdminFields.publicKey(c.public_key, field: "PeerInfo.public_key"), seq: c.seq,
            addresses: try AdminFields.addresses(c.addresses, c.n_addresses), expiresAt: c.expires_at,
            connected: c.connected != 0, table: AdminPeerTable(protobufC: c.table), lastSeen: c.last_seen,
            lastSuccess: c.last_success, attempts: c.attempts)
    }
}
