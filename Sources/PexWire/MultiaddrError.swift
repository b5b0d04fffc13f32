/// Every way a multiaddr (text or binary) can be wrong.
public enum MultiaddrError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Empty input: no bytes, or text that is empty or only slashes.
    case empty
    /// Text not starting with "/".
    case mustStartWithSlash
    /// A protocol name or code this implementation does not know.
    case unknownProtocol(String)
    /// A protocol that takes a value has none.
    case missingValue(protocol: String)
    /// The value is not valid for the protocol (bad IP, port out of range, bad DNS name, …).
    case invalidValue(protocol: String, value: String, reason: String)
    /// Binary input ends inside a component.
    case truncated
    /// Binary varint (code or length) is malformed.
    case badVarint
    /// A binary form longer than `WireLimits.maxAddressLength` bytes, or text longer than
    /// `Multiaddr.maxTextLength` bytes; `limit` says which.
    case tooLong(length: Int, limit: Int)

    /// A one-line human-readable message.
    public var description: String {
        switch self {
        case .empty: "empty multiaddr"
        case .mustStartWithSlash: "multiaddr must start with \"/\""
        case let .unknownProtocol(name): "unknown protocol \"\(name)\""
        case let .missingValue(proto): "protocol \(proto) needs a value"
        case let .invalidValue(proto, value, reason): "invalid \(proto) value \"\(value)\": \(reason)"
        case .truncated: "binary multiaddr is truncated"
        case .badVarint: "binary multiaddr has a malformed varint"
        case let .tooLong(length, limit): "multiaddr is \(length) bytes, limit \(limit)"
        }
    }
}
