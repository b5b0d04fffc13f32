import PexWire
import Yams

/// Why a peers.yaml file was refused. Entry indexes are 0-based positions in the `peers` list.
public enum PeersFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is not valid YAML.
    case syntax(String)
    /// The document is not a mapping with a `peers` list.
    case notPeersDocument(String)
    /// Entry `index` lacks `field`.
    case missingField(index: Int, field: String)
    /// Entry `index` has an unusable `field` (for an address, `field` is `addresses[i]`).
    case invalidField(index: Int, field: String, reason: String)
    /// Entry `index` has the same public key as entry `firstIndex`.
    case duplicateKey(index: Int, firstIndex: Int)

    public var description: String {
        switch self {
        case let .syntax(message): "peers file is not valid YAML: \(message)"
        case let .notPeersDocument(reason): "not a peers file: \(reason)"
        case let .missingField(index, field): "peers[\(index)]: missing \(field)"
        case let .invalidField(index, field, reason): "peers[\(index)].\(field): \(reason)"
        case let .duplicateKey(index, firstIndex): "peers[\(index)]: same public_key as peers[\(firstIndex)]"
        }
    }
}

/// The original project's peers.yaml: a list of members, each a base64 Ed25519 key and the
/// multiaddrs to reach it.
///
/// ```yaml
/// peers:
///   - public_key: 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
///     addresses:
///       - /ip4/192.0.2.1/tcp/4001
/// ```
///
/// Fields other than `public_key` and `addresses` are ignored, as the original reader did.
public enum PeersFile {
    /// One member.
    public struct Peer: Hashable, Sendable {
        /// The member's Ed25519 key (`public_key`, base64 in the file).
        public var publicKey: PublicKey
        /// 1 to `WireLimits.maxAddressesPerRecord` addresses, no duplicates.
        public var addresses: [Multiaddr]

        /// Creates an entry.
        ///
        /// - Parameters:
        ///   - publicKey: The member's key.
        ///   - addresses: Its addresses.
        public init(publicKey: PublicKey, addresses: [Multiaddr]) {
            self.publicKey = publicKey
            self.addresses = addresses
        }

        /// The key and addresses of a signed record (the signature is not checked: the store
        /// only holds records that were verified on arrival).
        ///
        /// - Parameter record: A signed peer record.
        /// - Throws: `WireError` when the record or one of its addresses does not decode.
        public init(record: SignedPeerRecord) throws(WireError) {
            let decoded = try PeerRecord(decoding: record.record)
            guard let key = PublicKey(unvalidated: decoded.publicKey) else {
                throw .wrongFieldLength(field: "PeerRecord.public_key", length: decoded.publicKey.count,
                                        expected: WireLimits.publicKeyLength)
            }
            var addresses: [Multiaddr] = []
            for (index, bytes) in decoded.addresses.enumerated() {
                do {
                    addresses.append(try Multiaddr(bytes: bytes))
                } catch {
                    throw .badAddress(index: index, error)
                }
            }
            self.init(publicKey: key, addresses: addresses)
        }
    }

    /// Parses and validates a peers file.
    ///
    /// An empty document, or `peers:` with no value, is a file with no peers.
    ///
    /// - Parameter text: The file's contents.
    /// - Returns: The entries, in file order.
    /// - Throws: `PeersFileError` naming the entry and field at fault: YAML syntax, a missing or
    ///   non-text `public_key`, a key that is not valid base64 or not a valid Ed25519 key, a missing
    ///   or non-list `addresses`, fewer than 1 or more than 10 addresses, a malformed or repeated
    ///   address, or a key listed twice.
    public static func parse(_ text: String) throws(PeersFileError) -> [Peer] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw .syntax("\(error)")
        }
        guard let root, !isNull(root) else { return [] }
        guard let mapping = root.mapping else { throw .notPeersDocument("the top level is not a mapping") }
        guard let list = mapping["peers"] else { throw .notPeersDocument("no `peers` key") }
        if isNull(list) { return [] }
        guard let entries = list.sequence else { throw .notPeersDocument("`peers` is not a list") }

        var peers: [Peer] = []
        var seen: [PublicKey: Int] = [:]
        for (index, entry) in entries.enumerated() {
            let peer = try parseEntry(entry, index: index)
            if let first = seen[peer.publicKey] { throw .duplicateKey(index: index, firstIndex: first) }
            seen[peer.publicKey] = index
            peers.append(peer)
        }
        return peers
    }

    private static func parseEntry(_ entry: Node, index: Int) throws(PeersFileError) -> Peer {
        guard let fields = entry.mapping else {
            throw .invalidField(index: index, field: "", reason: "the entry is not a mapping")
        }
        guard let keyNode = fields["public_key"], !isNull(keyNode) else {
            throw .missingField(index: index, field: "public_key")
        }
        guard let keyText = keyNode.scalar?.string else {
            throw .invalidField(index: index, field: "public_key", reason: "not a text value")
        }
        let key: PublicKey
        do {
            key = try PublicKey(base64: keyText)
        } catch {
            throw .invalidField(index: index, field: "public_key", reason: "\(error)")
        }

        guard let addressesNode = fields["addresses"], !isNull(addressesNode) else {
            throw .missingField(index: index, field: "addresses")
        }
        guard let list = addressesNode.sequence else {
            throw .invalidField(index: index, field: "addresses", reason: "not a list")
        }
        let range = WireLimits.minAddressesPerRecord...WireLimits.maxAddressesPerRecord
        guard range.contains(list.count) else {
            throw .invalidField(index: index, field: "addresses",
                                reason: "\(list.count) addresses, expected \(range.lowerBound) to \(range.upperBound)")
        }
        var addresses: [Multiaddr] = []
        for (position, node) in list.enumerated() {
            let field = "addresses[\(position)]"
            guard let text = node.scalar?.string else {
                throw .invalidField(index: index, field: field, reason: "not a text value")
            }
            let address: Multiaddr
            do {
                address = try Multiaddr(text)
            } catch {
                throw .invalidField(index: index, field: field, reason: "\(error)")
            }
            if let first = addresses.firstIndex(of: address) {
                throw .invalidField(index: index, field: field, reason: "same address as addresses[\(first)]")
            }
            addresses.append(address)
        }
        return Peer(publicKey: key, addresses: addresses)
    }

    /// A plain scalar that YAML reads as null (`~`, `null`, nothing).
    private static func isNull(_ node: Node) -> Bool {
        guard let scalar = node.scalar, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// Writes peers in the original layout, one block entry per peer.
    ///
    /// - Parameter peers: The entries, written in the given order.
    /// - Returns: YAML text that `parse(_:)` reads back to the same entries; `peers: []` when
    ///   `peers` is empty.
    public static func render(_ peers: [Peer]) -> String {
        guard !peers.isEmpty else { return "peers: []\n" }
        var out = "peers:\n"
        for peer in peers {
            out += "  - public_key: \(scalar(peer.publicKey.base64))\n"
            out += "    addresses:\n"
            for address in peer.addresses {
                out += "      - \(scalar(address.text))\n"
            }
        }
        return out
    }

    /// The text as a plain scalar when that reads back unchanged (keys and ordinary multiaddrs),
    /// otherwise double-quoted with escapes (a `/unix` path may hold any character).
    static func scalar(_ text: String) -> String {
        let safe = text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "-"), UInt8(ascii: ":"):
                true
            default:
                false
            }
        }
        // Plain only when YAML reads it back as this same string: not after a sign or other
        // indicator, not resolving to a number, bool or null ("123", "+1", "no"), and without a
        // final ":" that would make it a mapping key ("/ip6/::"). ":" inside is fine ("/ip6/::1/tcp/1").
        if safe, !text.hasSuffix(":"), let first = text.unicodeScalars.first,
           first == "/" || first == "+" || first.properties.isAlphabetic || ("0"..."9").contains(first),
           Node(text).tag == Tag(.str) {
            return text
        }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case "\r": quoted += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    quoted += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
                } else {
                    quoted += String(scalar)
                }
            }
        }
        return quoted + "\""
    }
}
