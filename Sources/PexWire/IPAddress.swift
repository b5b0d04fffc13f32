/// An IPv4 or IPv6 address, classified the way Bitcoin Core classifies peer addresses.
///
/// The predicates, `isValid`, `isLocal`, `isRoutable` and `netGroup` reproduce Bitcoin Core's
/// `CNetAddr` (src/netaddress.cpp) and `NetGroupManager::GetGroup` without an asmap
/// (src/netgroup.cpp), so that peer selection and eviction diversify over the same network
/// groups a Bitcoin node would use.
///
/// Conventions that follow from Bitcoin Core's parsing (`CNetAddr::SetLegacyIPv6`):
/// - An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) *is* the IPv4 address `a.b.c.d`: its
///   `family` is `.ipv4` and every predicate treats it as IPv4.
/// - Bitcoin Core never yields a usable address for its two in-process pseudo prefixes, the
///   retired Tor v2 OnionCat range `fd87:d87e:eb43::/48` (parsed as `::`) and the "internal"
///   DNS-seed range `fd6b:88c0:8724::/48` (filtered out of lookups); here both are simply not
///   `isValid`, hence unroutable, group `[0]`.
/// - Only the IPv4 and IPv6 networks exist here: no Tor, I2P or CJDNS (Bitcoin Core also treats
///   `fc00::/8` as plain RFC 4193 IPv6 unless CJDNS is enabled).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// Address family.
    public enum Family: Hashable, Sendable {
        case ipv4
        case ipv6
    }

    /// Bitcoin Core's `enum Network` values that can occur as the first byte of a network group.
    public enum NetClass: UInt8, Hashable, Sendable {
        case unroutable = 0
        case ipv4 = 1
        case ipv6 = 2
    }

    /// The family; `.ipv4` also for IPv4-mapped IPv6 input.
    public let family: Family
    /// The 16-byte form: the IPv6 address, or `::ffff:a.b.c.d` for IPv4.
    public let bytes: [UInt8]

    /// The IPv4 address `a.b.c.d`.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(family: .ipv4, bytes: IPAddress.mappedPrefix + [a, b, c, d])
    }

    private init(family: Family, bytes: [UInt8]) {
        self.family = family
        self.bytes = bytes
    }

    /// An address from its network-order bytes.
    ///
    /// - Parameter bytes: 4 bytes (IPv4) or 16 bytes (IPv6; an IPv4-mapped address becomes IPv4).
    /// - Returns: `nil` for any other length.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.init(ipv4: bytes[0], bytes[1], bytes[2], bytes[3])
        case 16:
            self.init(family: bytes.starts(with: IPAddress.mappedPrefix) ? .ipv4 : .ipv6, bytes: bytes)
        default:
            return nil
        }
    }

    /// Parses a strict dotted-quad IPv4 address or any RFC 4291 IPv6 text form.
    ///
    /// IPv4 parts are decimal 0–255 without leading zeros ("01" is rejected, as Go ≥ 1.17 and
    /// Bitcoin Core's numeric lookup do); IPv6 accepts "::" compression, 1–4 hex digits per group
    /// in either case and a trailing embedded dotted quad. Zones ("%eth0"), brackets and
    /// surrounding blanks are rejected.
    ///
    /// - Parameter text: The address text.
    /// - Returns: `nil` when `text` is neither form.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let parsed = try? IPAddress.parseIPv6(utf8[...]) else { return nil }
            self.init(bytes: parsed)
        } else {
            guard let parsed = try? IPAddress.parseIPv4(utf8[...]) else { return nil }
            self.init(bytes: parsed)
        }
    }

    /// The four IPv4 bytes, or `nil` for an IPv6 address.
    public var ipv4Bytes: [UInt8]? { family == .ipv4 ? Array(bytes[12...]) : nil }

    /// Dotted quad for IPv4, RFC 5952 canonical text for IPv6.
    public var description: String {
        switch family {
        case .ipv4: IPAddress.ipv4Text(bytes[12...])
        case .ipv6: IPAddress.ipv6Text(bytes)
        }
    }

    /// The family is IPv4 (`CNetAddr::IsIPv4`), IPv4-mapped input included.
    public var isIPv4: Bool { family == .ipv4 }
    /// The family is IPv6 (`CNetAddr::IsIPv6`).
    public var isIPv6: Bool { family == .ipv6 }

    // MARK: Bitcoin Core range predicates (CNetAddr::IsRFCxxxx)

    /// IPv4 private networks 10/8, 192.168/16, 172.16/12 (RFC 1918).
    public var isRFC1918: Bool {
        isIPv4 && (v4(0) == 10 || (v4(0) == 192 && v4(1) == 168) || (v4(0) == 172 && (16...31).contains(v4(1))))
    }
    /// IPv4 inter-network benchmark 198.18/15 (RFC 2544).
    public var isRFC2544: Bool { isIPv4 && v4(0) == 198 && (v4(1) == 18 || v4(1) == 19) }
    /// IPv4 link-local 169.254/16 (RFC 3927).
    public var isRFC3927: Bool { isIPv4 && v4(0) == 169 && v4(1) == 254 }
    /// IPv4 carrier-grade NAT shared space 100.64/10 (RFC 6598).
    public var isRFC6598: Bool { isIPv4 && v4(0) == 100 && (64...127).contains(v4(1)) }
    /// IPv4 documentation 192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737).
    public var isRFC5737: Bool {
        isIPv4 && ((v4(0) == 192 && v4(1) == 0 && v4(2) == 2)
            || (v4(0) == 198 && v4(1) == 51 && v4(2) == 100)
            || (v4(0) == 203 && v4(1) == 0 && v4(2) == 113))
    }
    /// IPv6 documentation 2001:db8::/32 (RFC 3849).
    public var isRFC3849: Bool { hasV6Prefix([0x20, 0x01, 0x0d, 0xb8]) }
    /// IPv6 6to4 tunnel 2002::/16 (RFC 3964).
    public var isRFC3964: Bool { hasV6Prefix([0x20, 0x02]) }
    /// IPv6 well-known NAT64 prefix 64:ff9b::/96 (RFC 6052).
    public var isRFC6052: Bool { hasV6Prefix([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0]) }
    /// IPv6 Teredo tunnel 2001::/32 (RFC 4380).
    public var isRFC4380: Bool { hasV6Prefix([0x20, 0x01, 0x00, 0x00]) }
    /// IPv6 link-local fe80::/64 (RFC 4862).
    public var isRFC4862: Bool { hasV6Prefix([0xfe, 0x80, 0, 0, 0, 0, 0, 0]) }
    /// IPv6 unique local fc00::/7 (RFC 4193).
    public var isRFC4193: Bool { isIPv6 && bytes[0] & 0xfe == 0xfc }
    /// IPv6 SIIT translated IPv4 ::ffff:0:0/96 (RFC 6145).
    public var isRFC6145: Bool { hasV6Prefix([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0]) }
    /// IPv6 ORCHID 2001:10::/28 (RFC 4843).
    public var isRFC4843: Bool { hasV6Prefix([0x20, 0x01, 0x00]) && bytes[3] & 0xf0 == 0x10 }
    /// IPv6 ORCHIDv2 2001:20::/28 (RFC 7343).
    public var isRFC7343: Bool { hasV6Prefix([0x20, 0x01, 0x00]) && bytes[3] & 0xf0 == 0x20 }
    /// Hurricane Electric's IPv6 allocation 2001:470::/32, which gets /36 groups.
    public var isHeNet: Bool { hasV6Prefix([0x20, 0x01, 0x04, 0x70]) }

    // MARK: Bitcoin Core classification

    /// Loopback or "this network": IPv4 127/8 and 0/8, IPv6 ::1 (`CNetAddr::IsLocal`).
    public var isLocal: Bool {
        switch family {
        case .ipv4: v4(0) == 127 || v4(0) == 0
        case .ipv6: bytes == IPAddress.ipv6Loopback
        }
    }

    /// Could refer to a real host (`CNetAddr::IsValid`): not 0.0.0.0, 255.255.255.255, `::`,
    /// 2001:db8::/32, nor one of Bitcoin Core's pseudo prefixes (see the type's notes).
    public var isValid: Bool {
        switch family {
        case .ipv4:
            let value = ipv4Value
            return value != 0 && value != 0xffff_ffff
        case .ipv6:
            if bytes.allSatisfy({ $0 == 0 }) || isRFC3849 { return false }
            return !hasV6Prefix(IPAddress.torV2Prefix) && !hasV6Prefix(IPAddress.internalPrefix)
        }
    }

    /// Publicly routable on the global internet (`CNetAddr::IsRoutable`): valid and in none of
    /// RFC 1918, 2544, 3927, 4862, 6598, 5737, 4193, 4843, 7343, nor local.
    public var isRoutable: Bool {
        isValid && !(isRFC1918 || isRFC2544 || isRFC3927 || isRFC4862 || isRFC6598 || isRFC5737
            || isRFC4193 || isRFC4843 || isRFC7343 || isLocal)
    }

    /// Routable and either IPv4 or an IPv6 form that carries an IPv4 address (SIIT, NAT64,
    /// 6to4, Teredo) (`CNetAddr::HasLinkedIPv4`).
    public var hasLinkedIPv4: Bool {
        isRoutable && (isIPv4 || isRFC6145 || isRFC6052 || isRFC3964 || isRFC4380)
    }

    /// The IPv4 address this address carries, when `hasLinkedIPv4` (`CNetAddr::GetLinkedIPv4`):
    /// itself, the last 4 bytes (SIIT, NAT64), bytes 2–5 (6to4) or the inverted last 4 bytes
    /// (Teredo).
    public var linkedIPv4: IPAddress? {
        guard hasLinkedIPv4 else { return nil }
        if isIPv4 { return self }
        if isRFC6052 || isRFC6145 { return IPAddress(ipv4: bytes[12], bytes[13], bytes[14], bytes[15]) }
        if isRFC3964 { return IPAddress(ipv4: bytes[2], bytes[3], bytes[4], bytes[5]) }
        // Teredo stores the client's public IPv4 address with every bit flipped.
        return IPAddress(ipv4: ~bytes[12], ~bytes[13], ~bytes[14], ~bytes[15])
    }

    /// `CNetAddr::GetNetClass`: unroutable, IPv4 (including IPv6 forms with a linked IPv4
    /// address) or IPv6.
    public var netClass: NetClass {
        if !isRoutable { return .unroutable }
        if hasLinkedIPv4 { return .ipv4 }
        return .ipv6
    }

    /// Bitcoin Core's network group (`NetGroupManager::GetGroup` without asmap): the net class
    /// byte, then the IPv4 /16 (of the linked IPv4 address for SIIT, NAT64, 6to4, Teredo), the
    /// IPv6 /32, or for Hurricane Electric the /36 with the low nibble of the fifth byte set to
    /// ones. Every local, invalid or otherwise unroutable address has the single group `[0]`.
    public var netGroup: [UInt8] {
        let netClass = self.netClass
        switch netClass {
        case .unroutable:
            return [netClass.rawValue]
        case .ipv4:
            // `linkedIPv4` is non-nil whenever the class is IPv4.
            let linked = linkedIPv4?.bytes ?? bytes
            return [netClass.rawValue, linked[12], linked[13]]
        case .ipv6:
            if isHeNet { return [netClass.rawValue] + bytes[0..<4] + [bytes[4] | 0x0f] }
            return [netClass.rawValue] + bytes[0..<4]
        }
    }

    /// `netGroup` as lowercase hex, e.g. "010102" for 1.2.3.4.
    public var netGroupHex: String {
        let digits = Array("0123456789abcdef")
        return String(netGroup.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }

    // MARK: Internals

    static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
    static let ipv6Loopback: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    /// Bitcoin Core's TORV2_IN_IPV6_PREFIX and INTERNAL_IN_IPV6_PREFIX.
    static let torV2Prefix: [UInt8] = [0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43]
    static let internalPrefix: [UInt8] = [0xfd, 0x6b, 0x88, 0xc0, 0x87, 0x24]

    private func v4(_ index: Int) -> UInt8 { bytes[12 + index] }

    private var ipv4Value: UInt32 {
        bytes[12...].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private func hasV6Prefix(_ prefix: [UInt8]) -> Bool {
        isIPv6 && bytes.starts(with: prefix)
    }
}

// MARK: - Text forms

extension IPAddress {
    /// Why address text was rejected.
    struct TextError: Error, Equatable {
        let reason: String
    }

    /// "a.b.c.d" of four bytes.
    static func ipv4Text(_ b: ArraySlice<UInt8>) -> String {
        b.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952 text of 16 bytes: lowercase, no leading zeros, the longest run (the first one on
    /// a tie) of two or more zero groups as "::". IPv4-mapped addresses use the mixed form
    /// "::ffff:a.b.c.d" (RFC 5952 §5, and what go-multiaddr prints).
    static func ipv6Text(_ b: [UInt8]) -> String {
        if b.starts(with: mappedPrefix) { return "::ffff:" + ipv4Text(b[12...]) }
        let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = 0, runLength = 0
        for (i, group) in groups.enumerated() {
            if group == 0 {
                if runLength == 0 { runStart = i }
                runLength += 1
                if runLength > bestLength { bestStart = runStart; bestLength = runLength }
            } else {
                runLength = 0
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLength
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }

    /// Strict dotted quad: four decimal parts 0–255, no sign, no leading zero.
    static func parseIPv4(_ text: ArraySlice<UInt8>) throws(TextError) -> [UInt8] {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { throw TextError(reason: "expected four dot-separated decimal parts") }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(isDecimalDigit) else {
                throw TextError(reason: "each part must be 1 to 3 decimal digits")
            }
            guard part.count == 1 || part.first != UInt8(ascii: "0") else {
                throw TextError(reason: "leading zeros are not allowed")
            }
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { throw TextError(reason: "part \(value) is over 255") }
            out.append(UInt8(value))
        }
        return out
    }

    /// RFC 4291 §2.2 text: eight groups of 1–4 hex digits, at most one "::" standing for one or
    /// more zero groups, and optionally a dotted quad in place of the last two groups.
    static func parseIPv6(_ text: ArraySlice<UInt8>) throws(TextError) -> [UInt8] {
        guard !text.isEmpty else { throw TextError(reason: "empty") }
        if text.contains(UInt8(ascii: "%")) { throw TextError(reason: "zone identifiers are not supported") }
        let colon = UInt8(ascii: ":")
        var head = text
        var tail: ArraySlice<UInt8> = []
        var compressed = false
        if let i = text.indices.first(where: { $0 + 1 < text.endIndex && text[$0] == colon && text[$0 + 1] == colon }) {
            head = text[text.startIndex..<i]
            tail = text[(i + 2)...]
            compressed = true
            if tail.indices.contains(where: { $0 + 1 < tail.endIndex && tail[$0] == colon && tail[$0 + 1] == colon }) {
                throw TextError(reason: "more than one \"::\"")
            }
        }
        let headGroups = try parseGroups(head, isLast: !compressed)
        let tailGroups = compressed ? try parseGroups(tail, isLast: true) : []
        let explicit = headGroups.count + tailGroups.count
        if compressed {
            guard explicit <= 7 else { throw TextError(reason: "too many groups for \"::\"") }
        } else {
            guard explicit == 8 else { throw TextError(reason: "expected 8 groups, found \(explicit)") }
        }
        let zeros = [UInt16](repeating: 0, count: 8 - explicit)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for group in headGroups + zeros + tailGroups {
            out.append(UInt8(group >> 8))
            out.append(UInt8(group & 0xff))
        }
        return out
    }

    /// Colon-separated groups of one side of "::" (or of the whole address); an empty side has
    /// none. A dotted quad is accepted only as the very last group of the address.
    private static func parseGroups(_ text: ArraySlice<UInt8>, isLast: Bool) throws(TextError) -> [UInt16] {
        if text.isEmpty { return [] }
        let parts = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if part.contains(UInt8(ascii: ".")) {
                guard isLast, index == parts.count - 1 else {
                    throw TextError(reason: "an embedded IPv4 address must come last")
                }
                let quad: [UInt8]
                do { quad = try parseIPv4(part) } catch {
                    throw TextError(reason: "embedded IPv4: \(error.reason)")
                }
                groups.append(UInt16(quad[0]) << 8 | UInt16(quad[1]))
                groups.append(UInt16(quad[2]) << 8 | UInt16(quad[3]))
                continue
            }
            guard !part.isEmpty else { throw TextError(reason: "empty group (a lone \":\" or \":::\")") }
            guard part.count <= 4 else { throw TextError(reason: "a group has more than 4 hex digits") }
            var value: UInt16 = 0
            for c in part {
                guard let digit = hexValue(c) else {
                    throw TextError(reason: "invalid character in a hex group")
                }
                value = value << 4 | UInt16(digit)
            }
            groups.append(value)
        }
        return groups
    }

    private static func isDecimalDigit(_ c: UInt8) -> Bool {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
