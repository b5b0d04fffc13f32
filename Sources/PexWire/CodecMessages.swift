// Field-by-field mapping of every message onto its protobuf-c struct, and the structural
// validation of decoded values (sizes, counts, UTF-8; nothing that needs a key or a clock).

import CPexProto

// MARK: - Records

extension PeerRecord: ProtobufCBridged {
    typealias CMessage = Pex__V1__PeerRecord
    static let protoName = "PeerRecord"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__peer_record__init($0) }
    static var maxEncodedSize: Int { WireLimits.maxRecordSize }
    static func tooLarge(_ length: Int, limit: Int) -> WireError {
        .fieldTooLong(field: "PeerRecord", length: length, limit: limit)
    }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__peer_record__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.public_key = arena.binary(publicKey)
        message.pointee.seq = seq
        if !addresses.isEmpty {
            let array = arena.array(of: ProtobufCBinaryData.self, count: addresses.count)
            for (index, address) in addresses.enumerated() {
                (array + index).initialize(to: arena.binary(address, nonNull: true))
            }
            message.pointee.n_addresses = addresses.count
            message.pointee.addresses = array
        }
        if let networkID = arena.cString(networkID) { message.pointee.network_id = networkID }
        message.pointee.expires_at = expiresAt
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        try ProtobufC.checkLength(c.public_key, field: "PeerRecord.public_key", expected: WireLimits.publicKeyLength)
        let addresses = ProtobufC.elements(c.addresses, c.n_addresses)
        guard addresses.count >= WireLimits.minAddressesPerRecord else { throw .tooFewAddresses }
        guard addresses.count <= WireLimits.maxAddressesPerRecord else {
            throw .tooManyAddresses(count: addresses.count, limit: WireLimits.maxAddressesPerRecord)
        }
        for address in addresses where address.len > WireLimits.maxAddressLength {
            throw .fieldTooLong(field: "PeerRecord.addresses", length: address.len, limit: WireLimits.maxAddressLength)
        }
        let networkID = try Self.networkID(c.network_id)
        self.init(
            publicKey: ProtobufC.bytes(c.public_key), seq: c.seq, addresses: addresses.map(ProtobufC.bytes),
            networkID: networkID, expiresAt: c.expires_at)
    }
}

extension PeerRecord {
    /// Reads and validates the network id field.
    ///
    /// A valid id is plain ASCII from a small set, so it is checked on the raw bytes and turned
    /// into a String without UTF-8 validation; anything else takes the general path, which
    /// reports the same errors in the same order as it always has.
    private static func networkID(_ pointer: UnsafePointer<CChar>?) throws(WireError) -> String {
        if let pointer, UInt(bitPattern: pointer) != ProtobufC.emptyStringAddress {
            let bytes = ProtobufC.stringBytes(pointer)
            if bytes.count <= WireLimits.maxNetworkIDLength, WireLimits.isNetworkIDBytes(bytes) {
                return String(decoding: bytes, as: UTF8.self)
            }
        }
        let networkID = try ProtobufC.string(pointer, field: "PeerRecord.network_id", maxLength: .max)
        try WireLimits.validateNetworkID(networkID)
        return networkID
    }
}

extension SignedPeerRecord: ProtobufCBridged {
    typealias CMessage = Pex__V1__SignedPeerRecord
    static let protoName = "SignedPeerRecord"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__signed_peer_record__init($0) }
    /// The record, the signature, and their tags and length prefixes (3 + 2 bytes) with room to spare.
    static var maxEncodedSize: Int { WireLimits.maxRecordSize + WireLimits.signatureLength + 16 }
    static func tooLarge(_ length: Int, limit: Int) -> WireError {
        .fieldTooLong(field: "SignedPeerRecord", length: length, limit: limit)
    }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__signed_peer_record__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.record = arena.binary(record)
        message.pointee.signature = arena.binary(signature)
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        guard c.record.len <= WireLimits.maxRecordSize else {
            throw .fieldTooLong(field: "SignedPeerRecord.record", length: c.record.len, limit: WireLimits.maxRecordSize)
        }
        try ProtobufC.checkLength(c.signature, field: "SignedPeerRecord.signature", expected: WireLimits.signatureLength)
        self.init(record: ProtobufC.bytes(c.record), signature: ProtobufC.bytes(c.signature))
    }

    /// Stores `records` as a repeated `SignedPeerRecord` field.
    static func fill(
        _ records: [SignedPeerRecord], in arena: EncodeArena,
        count: inout Int, array: inout UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>?
    ) {
        guard !records.isEmpty else { return }
        let pointers = arena.array(of: UnsafeMutablePointer<CMessage>?.self, count: records.count)
        for (index, record) in records.enumerated() {
            (pointers + index).initialize(to: arena.message(record))
        }
        count = records.count
        array = pointers
    }

    /// Reads a repeated `SignedPeerRecord` field, at most `WireLimits.maxRecordsPerMessage` long.
    static func records(
        _ array: UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>?, _ count: Int, in message: String
    ) throws(WireError) -> [SignedPeerRecord] {
        guard count <= WireLimits.maxRecordsPerMessage else {
            throw .tooManyRecords(count: count, limit: WireLimits.maxRecordsPerMessage)
        }
        var records: [SignedPeerRecord] = []
        records.reserveCapacity(count)
        for pointer in ProtobufC.elements(array, count) {
            guard let pointer else { throw .malformed(message: message) }
            records.append(try SignedPeerRecord(unpacked: pointer))
        }
        return records
    }
}

// MARK: - Handshake

extension Hello: ProtobufCBridged {
    typealias CMessage = Pex__V1__Hello
    static let protoName = "Hello"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__hello__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__hello__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.min_version = minVersion
        message.pointee.max_version = maxVersion
        if let networkID = arena.cString(networkID) { message.pointee.network_id = networkID }
        if let record { message.pointee.record = arena.message(record) }
        message.pointee.nonce = arena.binary(nonce)
        if !capabilities.isEmpty {
            let array = arena.array(of: Pex__V1__Capability.self, count: capabilities.count)
            for (index, capability) in capabilities.enumerated() {
                (array + index).initialize(to: Pex__V1__Capability(rawValue: capability.rawValue))
            }
            message.pointee.n_capabilities = capabilities.count
            message.pointee.capabilities = array
        }
        message.pointee.max_frame_size = maxFrameSize
        if let agent = arena.cString(agent) { message.pointee.agent = agent }
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        let networkID = try ProtobufC.string(c.network_id, field: "Hello.network_id", maxLength: .max)
        try WireLimits.validateNetworkID(networkID)
        guard let record = c.record else { throw .missingField("Hello.record") }
        let signedRecord = try SignedPeerRecord(unpacked: record)
        try ProtobufC.checkLength(c.nonce, field: "Hello.nonce", expected: WireLimits.nonceLength)
        guard c.n_capabilities <= WireLimits.maxCapabilities else {
            throw .fieldTooLong(field: "Hello.capabilities", length: c.n_capabilities, limit: WireLimits.maxCapabilities)
        }
        let agent = try ProtobufC.string(c.agent, field: "Hello.agent", maxLength: WireLimits.maxAgentLength)
        self.init(
            minVersion: c.min_version, maxVersion: c.max_version, networkID: networkID, record: signedRecord,
            nonce: ProtobufC.bytes(c.nonce),
            capabilities: ProtobufC.elements(c.capabilities, c.n_capabilities).map { Capability(rawValue: $0.rawValue) },
            maxFrameSize: c.max_frame_size, agent: agent)
    }
}

extension Auth: ProtobufCBridged {
    typealias CMessage = Pex__V1__Auth
    static let protoName = "Auth"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__auth__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__auth__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.signature = arena.binary(signature)
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        try ProtobufC.checkLength(c.signature, field: "Auth.signature", expected: WireLimits.signatureLength)
        self.init(signature: ProtobufC.bytes(c.signature))
    }
}

// MARK: - Peer exchange

extension SyncCursor: ProtobufCBridged {
    typealias CMessage = Pex__V1__SyncCursor
    static let protoName = "SyncCursor"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__sync_cursor__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__sync_cursor__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.epoch = epoch
        message.pointee.position = position
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        self.init(epoch: message.pointee.epoch, position: message.pointee.position)
    }
}

extension PeerRequest: ProtobufCBridged {
    typealias CMessage = Pex__V1__PeerRequest
    static let protoName = "PeerRequest"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__peer_request__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__peer_request__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.request_id = requestID
        message.pointee.max_peers = maxPeers
        // A NULL cursor is "absent" and an empty one is packed as an empty message, so
        // `since: nil` and `since: SyncCursor(0, 0)` stay distinct on the wire.
        if let since { message.pointee.since = arena.message(since) }
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        self.init(
            requestID: c.request_id, maxPeers: c.max_peers,
            since: try c.since.map { (cursor) throws(WireError) in try SyncCursor(unpacked: cursor) })
    }
}

extension PeerResponse: ProtobufCBridged {
    typealias CMessage = Pex__V1__PeerResponse
    static let protoName = "PeerResponse"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__peer_response__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__peer_response__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.request_id = requestID
        SignedPeerRecord.fill(records, in: arena, count: &message.pointee.n_records, array: &message.pointee.records)
        if let next { message.pointee.next = arena.message(next) }
        message.pointee.more = more ? 1 : 0
        message.pointee.full = full ? 1 : 0
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        self.init(
            requestID: c.request_id,
            records: try SignedPeerRecord.records(c.records, c.n_records, in: Self.protoName),
            next: try c.next.map { (cursor) throws(WireError) in try SyncCursor(unpacked: cursor) },
            more: c.more != 0, full: c.full != 0)
    }
}

extension PeerAnnouncement: ProtobufCBridged {
    typealias CMessage = Pex__V1__PeerAnnouncement
    static let protoName = "PeerAnnouncement"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__peer_announcement__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__peer_announcement__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        SignedPeerRecord.fill(records, in: arena, count: &message.pointee.n_records, array: &message.pointee.records)
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        self.init(records: try SignedPeerRecord.records(c.records, c.n_records, in: Self.protoName))
    }
}

extension PeerUpdate: ProtobufCBridged {
    typealias CMessage = Pex__V1__PeerUpdate
    static let protoName = "PeerUpdate"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__peer_update__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__peer_update__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        SignedPeerRecord.fill(records, in: arena, count: &message.pointee.n_records, array: &message.pointee.records)
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        self.init(records: try SignedPeerRecord.records(c.records, c.n_records, in: Self.protoName))
    }
}

// MARK: - Keepalive and errors

extension Ping: ProtobufCBridged {
    typealias CMessage = Pex__V1__Ping
    static let protoName = "Ping"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__ping__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__ping__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.nonce = nonce
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        self.init(nonce: message.pointee.nonce)
    }
}

extension Pong: ProtobufCBridged {
    typealias CMessage = Pex__V1__Pong
    static let protoName = "Pong"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__pong__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__pong__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.nonce = nonce
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        self.init(nonce: message.pointee.nonce)
    }
}

extension ErrorMessage: ProtobufCBridged {
    typealias CMessage = Pex__V1__Error
    static let protoName = "Error"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__error__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__error__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.code = Pex__V1__ErrorCode(rawValue: code.rawValue)
        if let text = arena.cString(self.message) { message.pointee.message = text }
        message.pointee.closing = closing ? 1 : 0
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        self.init(
            code: ErrorCode(rawValue: c.code.rawValue),
            message: try ProtobufC.string(c.message, field: "Error.message", maxLength: WireLimits.maxErrorMessageLength),
            closing: c.closing != 0)
    }
}

extension Compressed: ProtobufCBridged {
    typealias CMessage = Pex__V1__Compressed
    static let protoName = "Compressed"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__compressed__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__compressed__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        message.pointee.codec = Pex__V1__CompressionCodec(rawValue: codec.rawValue)
        message.pointee.uncompressed_size = uncompressedSize
        message.pointee.data = arena.binary(data)
    }

    /// The codec and size are checked when inflating, against the receiver's limit.
    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        self.init(
            codec: CompressionCodec(rawValue: c.codec.rawValue), uncompressedSize: c.uncompressed_size,
            data: ProtobufC.bytes(c.data))
    }
}

// MARK: - Frame

extension Frame: ProtobufCBridged {
    typealias CMessage = Pex__V1__Frame
    static let protoName = "Frame"
    nonisolated(unsafe) static let descriptor = loadDescriptor { pex__v1__frame__init($0) }
    static func initialize(_ message: UnsafeMutablePointer<CMessage>) { pex__v1__frame__init(message) }

    func fill(_ message: UnsafeMutablePointer<CMessage>, in arena: EncodeArena) {
        switch self {
        case let .hello(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_HELLO
            message.pointee.hello = arena.message(body)
        case let .auth(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_AUTH
            message.pointee.auth = arena.message(body)
        case let .peerRequest(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_PEER_REQUEST
            message.pointee.peer_request = arena.message(body)
        case let .peerResponse(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_PEER_RESPONSE
            message.pointee.peer_response = arena.message(body)
        case let .peerAnnouncement(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_PEER_ANNOUNCEMENT
            message.pointee.peer_announcement = arena.message(body)
        case let .peerUpdate(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_PEER_UPDATE
            message.pointee.peer_update = arena.message(body)
        case let .ping(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_PING
            message.pointee.ping = arena.message(body)
        case let .pong(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_PONG
            message.pointee.pong = arena.message(body)
        case let .error(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_ERROR
            message.pointee.error = arena.message(body)
        case let .compressed(body):
            message.pointee.body_case = PEX__V1__FRAME__BODY_COMPRESSED
            message.pointee.compressed = arena.message(body)
        case let .unknown(fieldNumber):
            // No body, one unknown field: an empty length-delimited value (wire bytes: tag, 0x00).
            // protobuf-c stores an unknown field's bytes after the tag, so the payload is the
            // one-byte length prefix.
            let payload = arena.array(of: UInt8.self, count: 1)
            payload.initialize(to: 0)
            let field = arena.array(of: ProtobufCMessageUnknownField.self, count: 1)
            field.initialize(
                to: ProtobufCMessageUnknownField(
                    tag: fieldNumber, wire_type: PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, len: 1, data: payload))
            message.pointee.base.n_unknown_fields = 1
            message.pointee.base.unknown_fields = field
        }
    }

    init(unpacked message: UnsafePointer<CMessage>) throws(WireError) {
        let c = message.pointee
        switch c.body_case {
        case PEX__V1__FRAME__BODY__NOT_SET:
            // A body this version does not know lands in the unknown fields; the first one names it.
            guard c.base.n_unknown_fields > 0, let unknown = c.base.unknown_fields else { throw .emptyFrame }
            let number = unknown.pointee.tag
            // protobuf-c accepts field number 0 (through a non-minimal tag) and numbers above the
            // protobuf maximum; neither could be written back, so neither is a valid frame.
            guard Frame.unknownFieldNumbers.contains(number) else {
                throw .malformed(message: "Frame (field number \(number))")
            }
            self = .unknown(fieldNumber: number)
        case PEX__V1__FRAME__BODY_HELLO:
            self = .hello(try Hello(unpacked: Self.body(c.hello)))
        case PEX__V1__FRAME__BODY_AUTH:
            self = .auth(try Auth(unpacked: Self.body(c.auth)))
        case PEX__V1__FRAME__BODY_PEER_REQUEST:
            self = .peerRequest(try PeerRequest(unpacked: Self.body(c.peer_request)))
        case PEX__V1__FRAME__BODY_PEER_RESPONSE:
            self = .peerResponse(try PeerResponse(unpacked: Self.body(c.peer_response)))
        case PEX__V1__FRAME__BODY_PEER_ANNOUNCEMENT:
            self = .peerAnnouncement(try PeerAnnouncement(unpacked: Self.body(c.peer_announcement)))
        case PEX__V1__FRAME__BODY_PEER_UPDATE:
            self = .peerUpdate(try PeerUpdate(unpacked: Self.body(c.peer_update)))
        case PEX__V1__FRAME__BODY_PING:
            self = .ping(try Ping(unpacked: Self.body(c.ping)))
        case PEX__V1__FRAME__BODY_PONG:
            self = .pong(try Pong(unpacked: Self.body(c.pong)))
        case PEX__V1__FRAME__BODY_ERROR:
            self = .error(try ErrorMessage(unpacked: Self.body(c.error)))
        case PEX__V1__FRAME__BODY_COMPRESSED:
            self = .compressed(try Compressed(unpacked: Self.body(c.compressed)))
        default:
            throw .malformed(message: Self.protoName)
        }
    }

    /// protobuf-c always allocates the body it reports; a NULL one would be a library fault,
    /// reported as malformed rather than trapping.
    private static func body<T>(_ pointer: UnsafeMutablePointer<T>?) throws(WireError) -> UnsafePointer<T> {
        guard let pointer else { throw .malformed(message: protoName) }
        return UnsafePointer(pointer)
    }
}
