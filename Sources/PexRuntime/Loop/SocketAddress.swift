import CLibUV
import Foundation
import PexWire

/// An IP address and TCP port, convertible to and from `sockaddr` and multiaddrs.
package struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    package let ip: IPAddress
    package let port: UInt16

    package init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// Reads a `sockaddr_in` or `sockaddr_in6`.
    ///
    /// - Parameter address: Memory holding a socket address of either family.
    /// - Returns: `nil` for another family.
    package init?(_ address: UnsafeRawPointer) {
        // The family is the first field common to every sockaddr layout; the rest is read
        // through the type that family names.
        let family = address.load(as: sockaddr.self).sa_family
        switch Int32(family) {
        case AF_INET:
            let sin = address.load(as: sockaddr_in.self)
            let bytes = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            guard let ip = IPAddress(bytes: bytes) else { return nil }
            self.init(ip: ip, port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = address.load(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            guard let ip = IPAddress(bytes: bytes) else { return nil }
            self.init(ip: ip, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// A listen address: `/ip4/<a>/tcp/<port>` or `/ip6/<a>/tcp/<port>`; the unspecified
    /// address and port 0 (an ephemeral port) are allowed.
    ///
    /// - Parameter multiaddr: The configured address.
    /// - Throws: `RuntimeError.unsupportedListenAddress` naming what is wrong.
    package init(listening multiaddr: Multiaddr) throws(RuntimeError) {
        let components = multiaddr.components
        guard components.count == 2, components[1].protocolID == .tcp,
              components[0].protocolID == .ip4 || components[0].protocolID == .ip6 else {
            throw .unsupportedListenAddress(multiaddr.text, reason: "expected /ip4|ip6/<address>/tcp/<port>")
        }
        guard let ip = multiaddr.ipAddress, let port = multiaddr.port else {
            throw .unsupportedListenAddress(multiaddr.text, reason: "no IP address or port")
        }
        self.init(ip: ip, port: port)
    }

    /// A dial address: `/ip4|ip6/<a>/tcp/<port>` (optionally `/p2p/<id>`), port not 0.
    ///
    /// - Parameter multiaddr: The address the core asked to dial.
    /// - Throws: `RuntimeError.undialable` for names (the core resolves them first), QUIC and
    ///   anything `Multiaddr.dialTarget()` refuses.
    package init(dialing multiaddr: Multiaddr) throws(RuntimeError) {
        let target: Multiaddr.DialTarget
        do {
            target = try multiaddr.dialTarget()
        } catch {
            throw .undialable(multiaddr.text, reason: error.reason)
        }
        guard target.transport == .tcp else { throw .undialable(multiaddr.text, reason: "only TCP is supported") }
        guard case let .ip(ip) = target.host else {
            throw .undialable(multiaddr.text, reason: "a DNS name must be resolved first")
        }
        self.init(ip: ip, port: target.port)
    }

    /// The address as `/ip4/…/tcp/…` or `/ip6/…/tcp/…`.
    package var multiaddr: Multiaddr? {
        try? Multiaddr("/\(ip.isIPv4 ? "ip4" : "ip6")/\(ip)/tcp/\(port)")
    }

    /// Whether this is 0.0.0.0 or ::.
    package var isUnspecified: Bool { !(ip.ipv4Bytes ?? ip.bytes).contains { $0 != 0 } }

    package var description: String { ip.isIPv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)" }

    /// Calls `body` with this address as a `sockaddr` that lives for the duration of the call.
    package func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        if let v4 = ip.ipv4Bytes {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: v4) }
            return withUnsafePointer(to: &sin) { body(UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self)) }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: ip.bytes) }
        return withUnsafePointer(to: &sin6) { body(UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self)) }
    }
}
