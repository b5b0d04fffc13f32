import PexWire

/// Target `multiaddr`: arbitrary bytes as a binary multiaddr and, when they are UTF-8, as a
/// text multiaddr and as an IP address text.
///
/// Checked invariants for every multiaddr that parses, from either form:
/// - Its canonical text parses back to the same multiaddr and prints identically.
/// - Its binary form parses back to the same multiaddr with the same components.
/// - It can be rebuilt from its components, and each component from its text value.
/// - Classification (`dialTarget()`, accessors) is total and consistent: a dial target has a
///   non-zero port and the multiaddr's peer ID.
/// For IP address text: the printed form parses back to the same address.
public enum MultiaddrCheck {
    /// Runs the check on one input.
    /// - Parameter input: Binary multiaddr bytes, or UTF-8 text.
    /// - Throws: `FuzzFailure` when an invariant does not hold.
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        if let address = try? Multiaddr(bytes: input) {
            try checkParsed(address)
        }
        guard let text = String(validating: input, as: UTF8.self) else { return }
        if let address = try? Multiaddr(text) {
            try checkParsed(address)
        }
        if let ip = IPAddress(text) {
            guard let again = IPAddress(ip.description), again == ip, again.description == ip.description else {
                throw FuzzFailure(.multiaddr, "IP address \(ip) (from \"\(text)\") does not round-trip through its text")
            }
        }
    }

    /// The invariants every parsed multiaddr must meet.
    /// - Parameter address: A multiaddr that parsed from text or bytes.
    /// - Throws: `FuzzFailure` naming the first broken invariant.
    public static func checkParsed(_ address: Multiaddr) throws(FuzzFailure) {
        let text = address.text
        let fromText: Multiaddr
        do {
            fromText = try Multiaddr(text)
        } catch {
            throw FuzzFailure(.multiaddr, "canonical text \"\(text)\" does not parse: \(error)")
        }
        guard fromText == address, fromText.text == text, fromText.components == address.components else {
            throw FuzzFailure(.multiaddr, "text round trip changed \"\(text)\" into \"\(fromText.text)\"")
        }

        let fromBytes: Multiaddr
        do {
            fromBytes = try Multiaddr(bytes: address.bytes)
        } catch {
            throw FuzzFailure(.multiaddr, "binary form of \"\(text)\" does not parse: \(error)")
        }
        guard fromBytes == address, fromBytes.components == address.components, fromBytes.text == text else {
            throw FuzzFailure(.multiaddr, "binary round trip changed \"\(text)\" into \"\(fromBytes.text)\"")
        }

        let rebuilt: Multiaddr
        do {
            rebuilt = try Multiaddr(components: address.components)
        } catch {
            throw FuzzFailure(.multiaddr, "components of \"\(text)\" are rejected: \(error)")
        }
        guard rebuilt == address else {
            throw FuzzFailure(.multiaddr, "rebuilding \"\(text)\" from its components gave \"\(rebuilt.text)\"")
        }
        for component in address.components {
            let again: Multiaddr.Component
            do {
                again = try Multiaddr.Component(component.protocolID, value: component.valueText)
            } catch {
                throw FuzzFailure(.multiaddr, "component \"\(component.text)\" of \"\(text)\" does not parse: \(error)")
            }
            guard again == component else {
                throw FuzzFailure(.multiaddr, "component \"\(component.text)\" of \"\(text)\" changed into \"\(again.text)\"")
            }
        }

        // Not being dialable is a valid outcome; it must agree with `isDialable`, and a dial
        // target must be usable.
        let target = try? address.dialTarget()
        guard (target != nil) == address.isDialable else {
            throw FuzzFailure(.multiaddr, "isDialable disagrees with dialTarget() for \"\(text)\"")
        }
        if let target, target.port == 0 || target.peerIDMultihash != address.peerIDMultihash {
            throw FuzzFailure(.multiaddr, "inconsistent dial target for \"\(text)\": \(target)")
        }
        _ = (address.ipAddress, address.dnsName, address.port)
    }
}
