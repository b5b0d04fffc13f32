/// A validated multiaddr (https://github.com/multiformats/multiaddr) restricted to the
/// protocols a peer record may use: ip4, ip6, dns, dns4, dns6, tcp, udp, quic-v1 and p2p.
///
/// Both forms are validated completely; every value that parses has exactly one binary form,
/// and `text` is its canonical text. Equality and hashing use the binary form.
///
/// Decisions where the reference implementations differ or are lax (go-multiaddr is the
/// reference unless stated otherwise):
/// - Text: trailing slashes are ignored ("/ip4/1.2.3.4/tcp/80/" equals ".../tcp/80"), empty
///   components elsewhere are an unknown protocol "". Text over `maxTextLength` bytes is
///   rejected before parsing.
/// - Ports: decimal digits only, leading zeros accepted and dropped ("/tcp/080" is "/tcp/80"),
///   as Go's `strconv.ParseUint`; no sign, blanks or other bases.
/// - ip4: strict dotted quad, no leading zeros (Go ≥ 1.17). Unlike go-multiaddr, IPv6 text
///   such as "::ffff:1.2.3.4" is not accepted as ip4, nor "1.2.3.4" as ip6 (py-multiaddr).
/// - ip6: any RFC 4291 text, printed per RFC 5952, with "::ffff:a.b.c.d" for IPv4-mapped
///   addresses (as go-multiaddr). Zones are not supported: "/ip6zone" is `.unknownProtocol`
///   and "%" inside an ip6 value is `.invalidValue`.
/// - dns, dns4, dns6: stricter than the references (which accept any UTF-8 without "/"): a
///   host name of LDH labels (RFC 1123): ASCII letters, digits and "-", labels 1–63 bytes not
///   starting or ending with "-", at most 253 bytes in total, no trailing dot, and a last label
///   that is not all digits. Underscore is rejected: it never occurs in names that have
///   address records. Internationalised names must be given in their "xn--" form. Case is
///   kept as given.
/// - p2p: the text is base58btc only (CID text forms are rejected); the value must be an
///   identity multihash of 1–42 bytes or a sha2-256 multihash of 32 bytes (libp2p peer IDs).
///   "/ipfs/" is accepted on input and printed as "/p2p/".
/// - Binary: codes and lengths are unsigned varints of at most 9 bytes in minimal encoding;
///   an unknown code is `.unknownProtocol("0x…")`; a length-prefixed value may not be empty.
public struct Multiaddr: Hashable, Sendable, CustomStringConvertible {
    /// Longest accepted text, in UTF-8 bytes: four times the binary limit, far above any
    /// canonical text that fits in `WireLimits.maxAddressLength` bytes.
    public static let maxTextLength = 4 * WireLimits.maxAddressLength

    /// The binary form.
    public let bytes: [UInt8]
    /// The components, in order.
    ///
    /// Decoded from `bytes` on each access: parsing only validates, so that checking a peer
    /// record's addresses allocates nothing per component.
    public var components: [Component] {
        var components: [Component] = []
        var spans = SpanIterator(bytes)
        while let span = spans.next() {
            components.append(Component(unchecked: span.protocolID, value: Array(bytes[span.value])))
        }
        return components
    }

    /// The canonical text form, e.g. "/ip4/192.0.2.1/tcp/4001".
    public var text: String { components.map(\.text).joined() }

    /// The canonical text form.
    public var description: String { text }

    /// Parses the text form.
    ///
    /// - Parameter text: A multiaddr such as "/dns4/node.example.org/udp/4001/quic-v1".
    /// - Throws: `.empty` for "" or only slashes, `.mustStartWithSlash`, `.unknownProtocol`,
    ///   `.missingValue`, `.invalidValue`, or `.tooLong` when the text exceeds `maxTextLength`
    ///   bytes or the binary form exceeds `WireLimits.maxAddressLength`.
    public init(_ text: String) throws(MultiaddrError) {
        let utf8Count = text.utf8.count
        guard utf8Count > 0 else { throw .empty }
        guard utf8Count <= Multiaddr.maxTextLength else {
            throw .tooLong(length: utf8Count, limit: Multiaddr.maxTextLength)
        }
        // Split on the byte "/" rather than on Characters, so that a combining mark after a
        // slash cannot hide it inside one grapheme.
        let slash = UInt8(ascii: "/")
        let utf8 = Array(text.utf8)
        var end = utf8.count
        while end > 0, utf8[end - 1] == slash { end -= 1 }
        guard end > 0 else { throw .empty }
        guard utf8[0] == slash else { throw .mustStartWithSlash }
        var parts = utf8[1..<end].split(separator: slash, omittingEmptySubsequences: false)[...]
        var components: [Component] = []
        while let nameBytes = parts.popFirst() {
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard let id = ProtocolID(name: name) else { throw .unknownProtocol(name) }
            if id.valueKind == .none {
                components.append(try Component(id))
                continue
            }
            guard let value = parts.popFirst() else { throw .missingValue(protocol: id.name) }
            components.append(try Component(id, value: String(decoding: value, as: UTF8.self)))
        }
        try self.init(components: components)
    }

    /// Decodes and validates the binary form.
    ///
    /// - Parameter bytes: `(varint code, value)+` as in a peer record.
    /// - Throws: `.empty`, `.tooLong` (checked first), `.truncated` when the input ends inside a
    ///   component, `.badVarint`, `.unknownProtocol`, or `.invalidValue`.
    public init(bytes: [UInt8]) throws(MultiaddrError) {
        var leading = LeadingSpans()
        try self.init(bytes: bytes, leading: &leading)
    }

    /// `init(bytes:)` that also keeps the first components for `dialShape(_:)`, sparing a
    /// second walk over the bytes.
    init(bytes: [UInt8], leading: inout LeadingSpans) throws(MultiaddrError) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= WireLimits.maxAddressLength else {
            throw .tooLong(length: bytes.count, limit: WireLimits.maxAddressLength)
        }
        try bytes.withUnsafeBufferPointer { (buffer) throws(MultiaddrError) in
            var offset = 0
            while offset < buffer.count {
                let span: Span
                (span, offset) = try Multiaddr.readComponent(buffer, at: offset)
                try Component.validate(span.protocolID, UnsafeBufferPointer(rebasing: buffer[span.value]))
                leading.record(span)
            }
        }
        self.bytes = bytes
    }

    /// A multiaddr made of `components`.
    ///
    /// - Parameter components: At least one component.
    /// - Throws: `.empty` for no component, `.tooLong` when the binary form exceeds
    ///   `WireLimits.maxAddressLength` bytes.
    public init(components: [Component]) throws(MultiaddrError) {
        guard !components.isEmpty else { throw .empty }
        let bytes = components.flatMap(\.bytes)
        guard bytes.count <= WireLimits.maxAddressLength else {
            throw .tooLong(length: bytes.count, limit: WireLimits.maxAddressLength)
        }
        self.bytes = bytes
    }

    /// This multiaddr followed by `other`, e.g. an address with "/p2p/<id>" appended.
    ///
    /// - Parameter other: The multiaddr to append.
    /// - Returns: The concatenation.
    /// - Throws: `.tooLong` when the result exceeds `WireLimits.maxAddressLength` bytes.
    public func encapsulating(_ other: Multiaddr) throws(MultiaddrError) -> Multiaddr {
        try Multiaddr(components: components + other.components)
    }

    /// Equal binary forms (components follow from the bytes).
    public static func == (lhs: Multiaddr, rhs: Multiaddr) -> Bool { lhs.bytes.sameBytes(as: rhs.bytes) }

    /// Hashes the binary form in one block (not byte by byte, as `[UInt8]` does).
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    /// One component located in `bytes`: its protocol and the range of its value.
    struct Span {
        let protocolID: ProtocolID
        let value: Range<Int>
    }

    /// Reads the code, the length where the protocol has one, and locates the value of the
    /// component starting at `offset`; the value itself is not checked.
    /// - Returns: The component and the offset just after it.
    private static func readComponent(
        _ bytes: UnsafeBufferPointer<UInt8>, at offset: Int
    ) throws(MultiaddrError) -> (Span, Int) {
        var offset = offset
        let code: UInt64
        (code, offset) = try readVarint(bytes, at: offset)
        guard let id = ProtocolID(rawValue: code) else {
            throw .unknownProtocol(code == 0x2a ? "ip6zone" : "0x" + String(code, radix: 16))
        }
        let length: Int
        switch id.valueKind {
        case .none:
            length = 0
        case let .fixed(size):
            length = size
        case .lengthPrefixed:
            let announced: UInt64
            (announced, offset) = try readVarint(bytes, at: offset)
            guard announced > 0 else {
                throw .invalidValue(protocol: id.name, value: "", reason: "empty value")
            }
            guard announced <= UInt64(bytes.count - offset) else { throw .truncated }
            length = Int(announced)
        }
        guard length <= bytes.count - offset else { throw .truncated }
        return (Span(protocolID: id, value: offset..<(offset + length)), offset + length)
    }

    /// Reads a varint the way multiformats' unsigned-varint spec allows: at most 9 bytes,
    /// minimal encoding.
    private static func readVarint(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(MultiaddrError) -> (UInt64, Int) {
        // Fast paths for the one- and two-byte varints of every supported code and length;
        // a one-byte varint is always minimal, a two-byte one unless its last byte is 0.
        if offset < bytes.count {
            let first = bytes[offset]
            if first < 0x80 { return (UInt64(first), offset + 1) }
            if offset + 1 < bytes.count, case let second = bytes[offset + 1], second < 0x80, second != 0 {
                return (UInt64(first & 0x7f) | UInt64(second) << 7, offset + 2)
            }
        }
        switch Varint.read(UnsafeBufferPointer(rebasing: bytes[offset...]), maxBytes: 9) {
        case let .value(value, length): return (value, offset + length)
        case .incomplete: throw .truncated
        case .invalid: throw .badVarint
        }
    }

    /// The components of a valid binary form, located without copying.
    struct SpanIterator: IteratorProtocol {
        private let bytes: [UInt8]
        private var offset = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func next() -> Span? {
            let offset = self.offset
            guard offset < bytes.count else { return nil }
            // `bytes` passed `init(bytes:)` or was built from components, so this cannot fail;
            // if it did, the walk would just end.
            let read = bytes.withUnsafeBufferPointer { try? Multiaddr.readComponent($0, at: offset) }
            guard let (span, next) = read else {
                self.offset = bytes.count
                return nil
            }
            self.offset = next
            return span
        }
    }

    /// The first five components of an address, all that `dialShape(_:)` ever looks at.
    struct LeadingSpans: IteratorProtocol {
        private var spans: (Span?, Span?, Span?, Span?, Span?) = (nil, nil, nil, nil, nil)
        private var count = 0
        private var read = 0

        /// Keeps `span` if fewer than five are kept.
        mutating func record(_ span: Span) {
            switch count {
            case 0: spans.0 = span
            case 1: spans.1 = span
            case 2: spans.2 = span
            case 3: spans.3 = span
            case 4: spans.4 = span
            default: return
            }
            count += 1
        }

        mutating func next() -> Span? {
            let span: Span?
            switch read {
            case 0: span = spans.0
            case 1: span = spans.1
            case 2: span = spans.2
            case 3: span = spans.3
            case 4: span = spans.4
            default: span = nil
            }
            read += 1
            return span
        }
    }

    /// The two bytes of a tcp or udp value as a port.
    private func port(of span: Span) -> UInt16 {
        UInt16(bytes[span.value.lowerBound]) << 8 | UInt16(bytes[span.value.lowerBound + 1])
    }
}

// MARK: - Protocols and components

extension Multiaddr {
    /// The supported protocols, by multicodec code (multiformats/multicodec table.csv).
    public enum ProtocolID: UInt64, CaseIterable, Hashable, Sendable {
        case ip4 = 0x04
        case tcp = 0x06
        case ip6 = 0x29
        case dns = 0x35
        case dns4 = 0x36
        case dns6 = 0x37
        case udp = 0x0111
        case quicV1 = 0x01cd
        case p2p = 0x01a5

        /// The text name ("quic-v1" for `.quicV1`).
        public var name: String {
            switch self {
            case .ip4: "ip4"
            case .tcp: "tcp"
            case .ip6: "ip6"
            case .dns: "dns"
            case .dns4: "dns4"
            case .dns6: "dns6"
            case .udp: "udp"
            case .quicV1: "quic-v1"
            case .p2p: "p2p"
            }
        }

        /// The protocol with text name `name`; "ipfs" is the legacy name of p2p.
        init?(name: String) {
            if name == "ipfs" { self = .p2p; return }
            guard let match = ProtocolID.allCases.first(where: { $0.name == name }) else { return nil }
            self = match
        }

        enum ValueKind: Equatable {
            case none
            case fixed(Int)
            case lengthPrefixed
        }

        var valueKind: ValueKind {
            switch self {
            case .ip4: .fixed(4)
            case .ip6: .fixed(16)
            case .tcp, .udp: .fixed(2)
            case .dns, .dns4, .dns6, .p2p: .lengthPrefixed
            case .quicV1: .none
            }
        }
    }

    /// One protocol and its value, e.g. "/tcp/4001".
    public struct Component: Hashable, Sendable, CustomStringConvertible {
        /// The protocol.
        public let protocolID: ProtocolID
        /// The binary value without its length prefix; empty for quic-v1.
        public let value: [UInt8]

        /// A component from a protocol and its text value.
        ///
        /// - Parameters:
        ///   - protocolID: The protocol.
        ///   - value: The text value ("4001", "2001:db8::1", a base58btc peer ID, …); `nil` for
        ///     quic-v1, which takes none.
        /// - Throws: `.missingValue` when a needed value is `nil`, `.invalidValue` when it is
        ///   malformed or given to quic-v1.
        public init(_ protocolID: ProtocolID, value: String? = nil) throws(MultiaddrError) {
            self.protocolID = protocolID
            guard let value else {
                guard protocolID.valueKind == .none else { throw .missingValue(protocol: protocolID.name) }
                self.value = []
                return
            }
            self.value = try Component.parseValue(protocolID, value)
        }

        init(unchecked protocolID: ProtocolID, value: [UInt8]) {
            self.protocolID = protocolID
            self.value = value
        }

        /// The canonical text of the value, or `nil` for quic-v1.
        public var valueText: String? {
            switch protocolID {
            case .ip4: IPAddress.ipv4Text(value[...])
            case .ip6: IPAddress.ipv6Text(value)
            case .tcp, .udp: String(UInt16(value[0]) << 8 | UInt16(value[1]))
            case .dns, .dns4, .dns6: String(decoding: value, as: UTF8.self)
            case .p2p: Base58.encode(value)
            case .quicV1: nil
            }
        }

        /// The canonical text, e.g. "/tcp/4001" or "/quic-v1".
        public var text: String {
            guard let valueText else { return "/" + protocolID.name }
            return "/" + protocolID.name + "/" + valueText
        }

        /// The canonical text.
        public var description: String { text }

        /// The binary form: varint code, varint length where the protocol has one, value.
        public var bytes: [UInt8] {
            var out = Varint.encode(protocolID.rawValue)
            if protocolID.valueKind == .lengthPrefixed { Varint.append(UInt64(value.count), to: &out) }
            out.append(contentsOf: value)
            return out
        }

        /// Text value to binary value, fully validated.
        static func parseValue(_ id: ProtocolID, _ text: String) throws(MultiaddrError) -> [UInt8] {
            func invalid(_ reason: String) -> MultiaddrError {
                .invalidValue(protocol: id.name, value: text, reason: reason)
            }
            let utf8 = Array(text.utf8)
            switch id {
            case .ip4:
                do { return try IPAddress.parseIPv4(utf8[...]) } catch { throw invalid(error.reason) }
            case .ip6:
                do { return try IPAddress.parseIPv6(utf8[...]) } catch { throw invalid(error.reason) }
            case .tcp, .udp:
                guard !utf8.isEmpty, utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                    throw invalid("not a decimal port number")
                }
                var port = 0
                for digit in utf8 {
                    port = port * 10 + Int(digit - UInt8(ascii: "0"))
                    // Stop before a long digit string could overflow.
                    guard port <= Int(UInt16.max) else { throw invalid("port out of range 0-65535") }
                }
                return [UInt8(port >> 8), UInt8(port & 0xff)]
            case .dns, .dns4, .dns6:
                if let reason = dnsNameProblem(utf8) { throw invalid(reason) }
                return utf8
            case .p2p:
                // Base58 decoding is quadratic; any valid peer ID is at most 60 characters.
                guard utf8.count <= 64 else { throw invalid("too long for a peer ID") }
                guard let multihash = Base58.decode(text), !multihash.isEmpty else {
                    throw invalid("not base58btc (CID text forms are not supported)")
                }
                if let reason = multihashProblem(multihash) { throw invalid(reason) }
                return multihash
            case .quicV1:
                throw invalid("quic-v1 takes no value")
            }
        }

        /// Checks a binary value whose length is already right for the protocol.
        static func validate(_ id: ProtocolID, _ value: UnsafeBufferPointer<UInt8>) throws(MultiaddrError) {
            let problem: String?
            switch id {
            case .dns, .dns4, .dns6: problem = dnsNameProblem(value)
            case .p2p: problem = multihashProblem(value)
            case .ip4, .ip6, .tcp, .udp, .quicV1: problem = nil
            }
            if let problem {
                throw .invalidValue(protocol: id.name, value: printable(value), reason: problem)
            }
        }

        /// Why `name` is not an acceptable host name, or `nil` if it is (see `Multiaddr`).
        static func dnsNameProblem(_ name: some BidirectionalCollection<UInt8>) -> String? {
            guard !name.isEmpty else { return "empty name" }
            guard name.count <= 253 else { return "longer than 253 bytes" }
            let labels = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            for label in labels {
                guard !label.isEmpty else { return "empty label (leading, trailing or double dot)" }
                guard label.count <= 63 else { return "label longer than 63 bytes" }
                for c in label where !isLDH(c) {
                    return c == UInt8(ascii: "_")
                        ? "underscore is not allowed in a host name"
                        : "only ASCII letters, digits, \"-\" and \".\" are allowed"
                }
                if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                    return "label starts or ends with \"-\""
                }
            }
            // RFC 1123 §2.1: the top-level label is alphabetic, so a name never looks like an
            // IPv4 literal.
            if let last = labels.last, last.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                return "top-level label is all digits"
            }
            return nil
        }

        /// Why `bytes` is not a libp2p peer ID multihash, or `nil` if it is.
        static func multihashProblem(_ bytes: some Collection<UInt8>) -> String? {
            guard case let .value(code, codeLength) = Varint.read(bytes, maxBytes: 9) else {
                return "malformed multihash code"
            }
            guard code == 0x00 || code == 0x12 else {
                return "multihash code 0x\(String(code, radix: 16)) is neither identity nor sha2-256"
            }
            guard case let .value(length, lengthLength) = Varint.read(bytes.dropFirst(codeLength), maxBytes: 9) else {
                return "malformed multihash length"
            }
            let digestCount = bytes.count - codeLength - lengthLength
            guard length == UInt64(digestCount) else {
                return "multihash announces \(length) digest bytes, has \(digestCount)"
            }
            if code == 0x12 {
                return digestCount == 32 ? nil : "sha2-256 digest must be 32 bytes"
            }
            return (1...42).contains(digestCount) ? nil : "identity digest must be 1 to 42 bytes"
        }

        private static func isLDH(_ c: UInt8) -> Bool {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): true
            default: false
            }
        }

        /// A binary value for an error message: as text when printable ASCII, else hex, so
        /// that hostile bytes never reach logs verbatim.
        private static func printable(_ value: some Collection<UInt8>) -> String {
            if value.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return String(decoding: value, as: UTF8.self) }
            let digits = Array("0123456789abcdef")
            return "0x" + String(value.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
        }
    }
}

// MARK: - Host, port and dialability

extension Multiaddr {
    /// The IP address of the first component when it is ip4 or ip6; an ip6 IPv4-mapped value is
    /// returned as IPv4 (see `IPAddress`).
    public var ipAddress: IPAddress? {
        var spans = SpanIterator(bytes)
        guard let first = spans.next(), first.protocolID == .ip4 || first.protocolID == .ip6 else { return nil }
        return IPAddress(bytes: Array(bytes[first.value]))
    }

    /// The name of the first component when it is dns, dns4 or dns6.
    public var dnsName: String? {
        var spans = SpanIterator(bytes)
        guard let first = spans.next(), [.dns, .dns4, .dns6].contains(first.protocolID) else { return nil }
        return String(decoding: bytes[first.value], as: UTF8.self)
    }

    /// The port of the first tcp or udp component.
    public var port: UInt16? {
        var spans = SpanIterator(bytes)
        while let span = spans.next() {
            if span.protocolID == .tcp || span.protocolID == .udp { return port(of: span) }
        }
        return nil
    }

    /// The multihash of the last component when it is p2p.
    public var peerIDMultihash: [UInt8]? {
        var spans = SpanIterator(bytes)
        var last: Span?
        while let span = spans.next() { last = span }
        guard let last, last.protocolID == .p2p else { return nil }
        return Array(bytes[last.value])
    }

    /// Where and how to connect for a dialable multiaddr.
    public struct DialTarget: Hashable, Sendable {
        /// Which address records a DNS name may be resolved to.
        public enum DNSFamily: Hashable, Sendable {
            case any
            case ipv4Only
            case ipv6Only
        }

        /// The host to connect to.
        public enum Host: Hashable, Sendable {
            case ip(IPAddress)
            case dns(name: String, family: DNSFamily)
        }

        /// The transport.
        public enum Transport: Hashable, Sendable {
            case tcp
            case quicV1
        }

        /// The host: an IP address or a name to resolve.
        public let host: Host
        /// The TCP or UDP port; never 0.
        public let port: UInt16
        /// TCP, or QUIC v1 over UDP.
        public let transport: Transport
        /// The multihash of a trailing "/p2p/<id>", if present.
        public let peerIDMultihash: [UInt8]?
    }

    /// Why a multiaddr cannot be dialed (becomes `WireError.undialableAddress`).
    public struct NotDialable: Error, Hashable, Sendable, CustomStringConvertible {
        /// A short human-readable reason.
        public let reason: String
        /// The reason.
        public var description: String { reason }
    }

    /// Whether `dialTarget()` succeeds.
    public var isDialable: Bool { (try? dialTarget()) != nil }

    /// The dial target of an address a peer record may carry: exactly
    /// `(ip4|ip6|dns|dns4|dns6)/tcp/<port>` or `(ip4|ip6|dns|dns4|dns6)/udp/<port>/quic-v1`,
    /// optionally followed by `/p2p/<id>`, with a port other than 0.
    ///
    /// Routability is a separate policy: check `ipAddress?.isRoutable` where it matters.
    ///
    /// - Returns: Host, port, transport and optional peer ID.
    /// - Throws: `NotDialable` with the reason.
    public func dialTarget() throws(NotDialable) -> DialTarget {
        var spans = SpanIterator(bytes)
        let shape = try dialShape(&spans)
        let hostValue = Array(bytes[shape.host.value])
        let host: DialTarget.Host
        switch shape.host.protocolID {
        case .dns4: host = .dns(name: String(decoding: hostValue, as: UTF8.self), family: .ipv4Only)
        case .dns6: host = .dns(name: String(decoding: hostValue, as: UTF8.self), family: .ipv6Only)
        case .dns: host = .dns(name: String(decoding: hostValue, as: UTF8.self), family: .any)
        default:
            // `dialShape` only lets ip4 and ip6 through besides names, and their fixed-size
            // values always form an address.
            guard let ip = IPAddress(bytes: hostValue) else { throw NotDialable(reason: "bad IP") }
            host = .ip(ip)
        }
        return DialTarget(
            host: host, port: shape.port, transport: shape.transport,
            peerIDMultihash: shape.peerID.map { Array(bytes[$0]) })
    }

    /// Where the parts of a dialable multiaddr are in `bytes`.
    struct DialShape {
        /// An ip4, ip6, dns, dns4 or dns6 component.
        let host: Span
        let port: UInt16
        let transport: DialTarget.Transport
        /// The value of a trailing p2p component.
        let peerID: Range<Int>?
    }

    /// The checks of `dialTarget()`, without building its result (which allocates).
    /// - Parameter rest: This address's components from the first, or at least its first five.
    func dialShape(_ rest: inout some IteratorProtocol<Span>) throws(NotDialable) -> DialShape {
        guard let hostComponent = rest.next() else { throw NotDialable(reason: "no components") }
        switch hostComponent.protocolID {
        case .ip4, .ip6:
            // 0.0.0.0 and :: mean "this host" to a dialler on Linux: never a peer's address.
            guard bytes[hostComponent.value].contains(where: { $0 != 0 }) else {
                throw NotDialable(reason: "the unspecified address is not dialable")
            }
        case .dns, .dns4, .dns6:
            break
        case .tcp, .udp, .quicV1, .p2p:
            throw NotDialable(reason: "must start with ip4, ip6, dns, dns4 or dns6, not \(hostComponent.protocolID.name)")
        }
        guard let transportComponent = rest.next() else {
            throw NotDialable(reason: "no transport: expected /tcp/<port> or /udp/<port>/quic-v1")
        }
        let transport: DialTarget.Transport
        switch transportComponent.protocolID {
        case .tcp:
            transport = .tcp
        case .udp:
            guard rest.next()?.protocolID == .quicV1 else {
                throw NotDialable(reason: "udp must be followed by /quic-v1")
            }
            transport = .quicV1
        default:
            throw NotDialable(reason: "transport \(transportComponent.protocolID.name) is not supported: expected tcp or udp/quic-v1")
        }
        let port = port(of: transportComponent)
        guard port != 0 else { throw NotDialable(reason: "port 0 is not dialable") }
        var peerID: Range<Int>?
        if let next = rest.next() {
            guard next.protocolID == .p2p else {
                throw NotDialable(reason: "unexpected /\(next.protocolID.name) after the transport: only /p2p/<id> may follow")
            }
            peerID = next.value
        }
        if let extra = rest.next() {
            throw NotDialable(reason: "unexpected /\(extra.protocolID.name) after /p2p")
        }
        return DialShape(host: hostComponent, port: port, transport: transport, peerID: peerID)
    }
}
