import ArgumentParser
import PexWire

/// `pexd addr`: validates multiaddrs and shows their canonical and binary forms and how the
/// address book classifies them.
struct Addr: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate multiaddrs; show canonical text, binary hex, routability and network group.",
        discussion: """
            One line per input. The network group is Bitcoin Core's group bytes in hex (network class \
            byte, then the prefix: /16 for IPv4, /32 for IPv6, /36 for Hurricane Electric); all \
            unroutable addresses share group 00. DNS addresses have neither until resolved. \
            Exits with 2 if any input is invalid.
            """)

    @Argument(help: "Multiaddrs such as /ip4/192.0.2.1/tcp/4001.")
    var addresses: [String]

    @Flag(help: "Print one JSON object per input (input, valid, error, text, hex, routable, netgroup, dialable).")
    var json = false

    func validate() throws {
        if addresses.isEmpty { throw ValidationError("give at least one multiaddr") }
    }

    func run() throws {
        var anyInvalid = false
        for input in addresses {
            let parsed: Multiaddr
            do {
                parsed = try Multiaddr(input)
            } catch {
                anyInvalid = true
                if json {
                    print(JSONValue.object([
                        ("input", .string(input)), ("valid", .bool(false)), ("error", .string(error.description)),
                    ]).rendered)
                } else {
                    print("\(input)\tinvalid: \(error)")
                }
                continue
            }
            let ip = parsed.ipAddress
            let dialError: String?
            do { _ = try parsed.dialTarget(); dialError = nil } catch { dialError = error.reason }
            if json {
                var fields: [(String, JSONValue)] = [
                    ("input", .string(input)), ("valid", .bool(true)), ("text", .string(parsed.text)),
                    ("hex", .string(hex(parsed.bytes))),
                    ("routable", ip.map { .bool($0.isRoutable) } ?? .null),
                    ("netgroup", ip.map { .string($0.netGroupHex) } ?? .null),
                    ("dialable", .bool(dialError == nil)),
                ]
                if let dialError { fields.append(("dial_error", .string(dialError))) }
                print(JSONValue.object(fields).rendered)
            } else {
                var line = "\(parsed.text)\thex=\(hex(parsed.bytes))"
                if let ip { line += "\troutable=\(ip.isRoutable ? "yes" : "no")\tnetgroup=\(ip.netGroupHex)" }
                line += dialError.map { "\tdialable=no (\($0))" } ?? "\tdialable=yes"
                print(line)
            }
        }
        if anyInvalid { throw ExitCode(2) }
    }
}
