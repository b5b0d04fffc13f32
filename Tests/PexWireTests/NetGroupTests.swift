import XCTest
@testable import PexWire

/// Expectations from Bitcoin Core's own unit tests, src/test/netbase_tests.cpp (test cases
/// netbase_networks, netbase_properties, netbase_lookupnumeric, embedded_test, subnet_test,
/// netbase_getgroup) and src/test/net_tests.cpp (cnetaddr_basic,
/// cnetaddr_tostring_canonical_ipv6), for the IPv4/IPv6 cases.
final class NetGroupTests: XCTestCase {
    private func ip(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> IPAddress {
        guard let address = IPAddress(text) else {
            XCTFail("\(text) does not parse", file: file, line: line)
            return IPAddress(ipv4: 0, 0, 0, 0)
        }
        return address
    }

    // MARK: netbase_tests.cpp

    func testNetbaseNetworks() {
        // GetNetwork(): NET_UNROUTABLE unless routable, else the address's own network.
        XCTAssertFalse(ip("127.0.0.1").isRoutable)
        XCTAssertFalse(ip("::1").isRoutable)
        XCTAssertTrue(ip("8.8.8.8").isRoutable)
        XCTAssertEqual(ip("8.8.8.8").family, .ipv4)
        XCTAssertTrue(ip("2001::8888").isRoutable)
        XCTAssertEqual(ip("2001::8888").family, .ipv6)
    }

    func testNetbaseProperties() {
        XCTAssertTrue(ip("127.0.0.1").isIPv4)
        XCTAssertTrue(ip("::FFFF:192.168.1.1").isIPv4)
        XCTAssertTrue(ip("::1").isIPv6)
        XCTAssertTrue(ip("10.0.0.1").isRFC1918)
        XCTAssertTrue(ip("192.168.1.1").isRFC1918)
        XCTAssertTrue(ip("172.31.255.255").isRFC1918)
        XCTAssertTrue(ip("198.18.0.0").isRFC2544)
        XCTAssertTrue(ip("198.19.255.255").isRFC2544)
        XCTAssertTrue(ip("2001:0DB8::").isRFC3849)
        XCTAssertTrue(ip("169.254.1.1").isRFC3927)
        XCTAssertTrue(ip("2002::1").isRFC3964)
        XCTAssertTrue(ip("FC00::").isRFC4193)
        XCTAssertTrue(ip("2001::2").isRFC4380)
        XCTAssertTrue(ip("2001:10::").isRFC4843)
        XCTAssertTrue(ip("2001:20::").isRFC7343)
        XCTAssertTrue(ip("FE80::").isRFC4862)
        XCTAssertTrue(ip("64:FF9B::").isRFC6052)
        XCTAssertTrue(ip("127.0.0.1").isLocal)
        XCTAssertTrue(ip("::1").isLocal)
        XCTAssertTrue(ip("8.8.8.8").isRoutable)
        XCTAssertTrue(ip("2001::1").isRoutable)
        XCTAssertTrue(ip("127.0.0.1").isValid)
    }

    func testNetbaseGetGroup() {
        XCTAssertEqual(ip("127.0.0.1").netGroup, [0]) // Local -> !Routable()
        // "257.0.0.1" does not resolve, leaving Bitcoin Core with the default CNetAddr "::",
        // which is !Valid -> !Routable().
        XCTAssertNil(IPAddress("257.0.0.1"))
        XCTAssertEqual(ip("::").netGroup, [0])
        XCTAssertEqual(ip("10.0.0.1").netGroup, [0]) // RFC1918 -> !Routable()
        XCTAssertEqual(ip("169.254.1.1").netGroup, [0]) // RFC3927 -> !Routable()
        XCTAssertEqual(ip("1.2.3.4").netGroup, [1, 1, 2]) // IPv4
        XCTAssertEqual(ip("::FFFF:0:102:304").netGroup, [1, 1, 2]) // RFC6145
        XCTAssertEqual(ip("64:FF9B::102:304").netGroup, [1, 1, 2]) // RFC6052
        XCTAssertEqual(ip("2002:102:304:9999:9999:9999:9999:9999").netGroup, [1, 1, 2]) // RFC3964
        XCTAssertEqual(ip("2001:0:9999:9999:9999:9999:FEFD:FCFB").netGroup, [1, 1, 2]) // RFC4380
        XCTAssertEqual(ip("2001:470:abcd:9999:9999:9999:9999:9999").netGroup, [2, 32, 1, 4, 112, 175]) // he.net
        XCTAssertEqual(ip("2001:2001:9999:9999:9999:9999:9999:9999").netGroup, [2, 32, 1, 32, 1]) // IPv6

        XCTAssertFalse(ip("127.0.0.1").hasLinkedIPv4)
        XCTAssertFalse(ip("10.0.0.1").hasLinkedIPv4)
        XCTAssertFalse(ip("169.254.1.1").hasLinkedIPv4)
        XCTAssertTrue(ip("1.2.3.4").hasLinkedIPv4)
        let linked = IPAddress(ipv4: 1, 2, 3, 4)
        XCTAssertEqual(ip("1.2.3.4").linkedIPv4, linked)
        XCTAssertEqual(ip("::FFFF:0:102:304").linkedIPv4, linked)
        XCTAssertEqual(ip("64:FF9B::102:304").linkedIPv4, linked)
        XCTAssertEqual(ip("2002:102:304:9999:9999:9999:9999:9999").linkedIPv4, linked)
        XCTAssertEqual(ip("2001:0:9999:9999:9999:9999:FEFD:FCFB").linkedIPv4, linked)
        XCTAssertNil(ip("2001:2001::1").linkedIPv4)
    }

    func testNetbaseLookupNumericAndEmbedded() {
        // "::ffff:127.0.0.1" is the IPv4 address 127.0.0.1.
        XCTAssertEqual(ip("::ffff:127.0.0.1"), ip("127.0.0.1"))
        XCTAssertEqual(ip("::ffff:127.0.0.1").description, "127.0.0.1")
        // embedded_test: "::FFFF:0102:0304" is IPv4 and prints as 1.2.3.4.
        XCTAssertTrue(ip("::FFFF:0102:0304").isIPv4)
        XCTAssertEqual(ip("::FFFF:0102:0304").description, ip("1.2.3.4").description)
        // An "internal" pseudo address does not resolve (it yields "[::]:0"); the address one
        // bit away is an ordinary IPv6 address.
        XCTAssertFalse(ip("fd6b:88c0:8724:1:2:3:4:5").isValid)
        XCTAssertTrue(ip("fd6c:88c0:8724:1:2:3:4:5").isValid)
        XCTAssertEqual(ip("fd6c:88c0:8724:1:2:3:4:5").description, "fd6c:88c0:8724:1:2:3:4:5")
    }

    func testSubnetTestValidity() {
        // subnet_test: "::" and "0.0.0.0" are considered invalid addresses.
        XCTAssertFalse(ip("::").isValid)
        XCTAssertFalse(ip("0.0.0.0").isValid)
        XCTAssertTrue(ip("1:2:3:4:5:6:7:1234").isValid)
    }

    // MARK: net_tests.cpp

    func testCNetAddrBasic() {
        XCTAssertFalse(ip("0.0.0.0").isValid)
        XCTAssertTrue(ip("0.0.0.0").isIPv4)
        XCTAssertEqual(ip("0.0.0.0").description, "0.0.0.0")
        XCTAssertFalse(ip("255.255.255.255").isValid)
        XCTAssertEqual(ip("255.255.255.255").description, "255.255.255.255")
        XCTAssertTrue(ip("12.34.56.78").isValid)
        XCTAssertEqual(ip("12.34.56.78").description, "12.34.56.78")
        XCTAssertFalse(ip("::").isValid)
        XCTAssertTrue(ip("::").isIPv6)
        XCTAssertEqual(ip("::").description, "::")
        XCTAssertTrue(ip("1122:3344:5566:7788:9900:aabb:ccdd:eeff").isValid)
        XCTAssertEqual(ip("1122:3344:5566:7788:9900:aabb:ccdd:eeff").description, "1122:3344:5566:7788:9900:aabb:ccdd:eeff")
        // cnetaddr_unserialize_v2: an address carrying the retired Tor v2 OnionCat prefix is
        // not valid; plain bytes print in canonical form.
        XCTAssertFalse(IPAddress(bytes: MultiaddrHex.bytes("fd87d87eeb430102030405060708090a"))!.isValid)
        XCTAssertEqual(IPAddress(bytes: MultiaddrHex.bytes("0102030405060708090a0b0c0d0e0f10"))!.description,
                       "102:304:506:708:90a:b0c:d0e:f10")
    }

    func testCanonicalIPv6Text() throws {
        // net_tests.cpp cnetaddr_tostring_canonical_ipv6 (RFC 5952).
        let canonical: [(String, String)] = [
            ("0000:0000:0000:0000:0000:0000:0000:0000", "::"),
            ("000:0000:000:00:0:00:000:0000", "::"),
            ("000:000:000:000:000:000:000:000", "::"),
            ("00:00:00:00:00:00:00:00", "::"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8:85a3::8a2e:370:7334"),
            ("2001:0db8::0001", "2001:db8::1"),
            ("2001:0db8::0001:0000", "2001:db8::1:0"),
            ("2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0000:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:db8:0000:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:db8:0:0:0::1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:0::1", "2001:db8::1"),
            ("2001:db8:0:0:aaaa::1", "2001:db8::aaaa:0:0:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8:0::1", "2001:db8::1"),
            ("2001:db8:85a3:0:0:8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
            ("2001:db8::0:1", "2001:db8::1"),
            ("2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:DB8::1", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:0:1", "2001:db8:aaaa:bbbb:cccc:dddd:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd::1", "2001:db8:aaaa:bbbb:cccc:dddd:0:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:01", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:AAAA", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
            ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:AaAa", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"),
        ]
        for (input, output) in canonical {
            XCTAssertTrue(ip(input).isIPv6, input)
            XCTAssertEqual(ip(input).description, output, input)
            // The multiaddr ip6 value uses the same canonical form.
            XCTAssertEqual(try Multiaddr("/ip6/" + input).text, "/ip6/" + output, input)
        }
    }

    // MARK: Each rule of IsValid / IsRoutable / GetGroup, at its boundaries

    func testRangeBoundaries() {
        let cases: [(String, KeyPath<IPAddress, Bool>, Bool)] = [
            ("9.255.255.255", \.isRFC1918, false), ("10.0.0.0", \.isRFC1918, true),
            ("10.255.255.255", \.isRFC1918, true), ("11.0.0.0", \.isRFC1918, false),
            ("172.15.255.255", \.isRFC1918, false), ("172.16.0.0", \.isRFC1918, true),
            ("172.32.0.0", \.isRFC1918, false), ("192.168.0.0", \.isRFC1918, true),
            ("192.167.255.255", \.isRFC1918, false), ("192.169.0.0", \.isRFC1918, false),
            ("198.17.255.255", \.isRFC2544, false), ("198.20.0.0", \.isRFC2544, false),
            ("169.253.255.255", \.isRFC3927, false), ("169.255.0.0", \.isRFC3927, false),
            ("100.63.255.255", \.isRFC6598, false), ("100.64.0.0", \.isRFC6598, true),
            ("100.127.255.255", \.isRFC6598, true), ("100.128.0.0", \.isRFC6598, false),
            ("192.0.2.0", \.isRFC5737, true), ("192.0.3.0", \.isRFC5737, false),
            ("198.51.100.255", \.isRFC5737, true), ("198.51.101.0", \.isRFC5737, false),
            ("203.0.113.7", \.isRFC5737, true), ("203.0.114.0", \.isRFC5737, false),
            ("2001:db8:ffff::", \.isRFC3849, true), ("2001:db9::", \.isRFC3849, false),
            ("2003::", \.isRFC3964, false),
            ("64:ff9b::1:0:0", \.isRFC6052, false), ("64:ff9b:1::", \.isRFC6052, false),
            ("2001:1::", \.isRFC4380, false),
            ("fe80::1:0:0:0:1", \.isRFC4862, false), ("fe80::ffff:ffff:ffff:ffff", \.isRFC4862, true),
            ("fbff::", \.isRFC4193, false), ("fdff::", \.isRFC4193, true), ("fe00::", \.isRFC4193, false),
            ("::ffff:0:0:0", \.isRFC6145, true), ("::ffff:1:0:0", \.isRFC6145, false),
            ("::1:ffff:0:0:0", \.isRFC6145, false),
            ("2001:1f::", \.isRFC4843, true), ("2001:2f::", \.isRFC4843, false),
            ("2001:2f::", \.isRFC7343, true), ("2001:30::", \.isRFC7343, false),
            ("2001:470:ffff::", \.isHeNet, true), ("2001:471::", \.isHeNet, false),
            ("0.255.255.255", \.isLocal, true), ("1.0.0.0", \.isLocal, false),
            ("126.255.255.255", \.isLocal, false), ("127.255.255.255", \.isLocal, true),
            ("::2", \.isLocal, false),
            // IPv6 predicates never hold for IPv4 and vice versa.
            ("10.0.0.1", \.isRFC4193, false), ("fc00::", \.isRFC1918, false),
            ("::ffff:10.0.0.1", \.isRFC1918, true), ("::ffff:10.0.0.1", \.isRFC6145, false),
        ]
        for (text, predicate, expected) in cases {
            XCTAssertEqual(ip(text)[keyPath: predicate], expected, "\(text) \(predicate)")
        }
    }

    func testRoutability() {
        let unroutable = [
            "0.0.0.0", "0.1.2.3", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.0.1", "172.16.0.1",
            "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.51.100.1", "203.0.113.1", "255.255.255.255",
            "::", "::1", "2001:db8::1", "fc00::1", "fd00::1", "fe80::1", "2001:10::1", "2001:20::1",
            "fd87:d87e:eb43::1", "fd6b:88c0:8724::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
        ]
        for text in unroutable {
            XCTAssertFalse(ip(text).isRoutable, text)
            XCTAssertEqual(ip(text).netClass, .unroutable, text)
            XCTAssertEqual(ip(text).netGroup, [0], text)
            XCTAssertEqual(ip(text).netGroupHex, "00", text)
            XCTAssertNil(ip(text).linkedIPv4, text)
        }
        // Bitcoin Core counts multicast, class E and site-local IPv6 as routable; so does this.
        let routable = [
            "1.1.1.1", "8.8.8.8", "224.0.0.1", "240.0.0.1", "255.255.255.254", "2001::1",
            "2606:4700::1111", "ff02::1", "fec0::1", "::2", "::1.2.3.4", "fe80:0:0:1::1",
        ]
        for text in routable {
            XCTAssertTrue(ip(text).isValid, text)
            XCTAssertTrue(ip(text).isRoutable, text)
            XCTAssertNotEqual(ip(text).netGroup, [0], text)
        }
    }

    func testGroupsOfLinkedAndPlainAddresses() {
        let cases: [(String, [UInt8], IPAddress.NetClass)] = [
            ("8.8.8.8", [1, 8, 8], .ipv4),
            ("::ffff:8.8.4.4", [1, 8, 8], .ipv4),
            // A 6to4 or Teredo address groups by its IPv4 address even when that one is private:
            // HasLinkedIPv4 requires the IPv6 address to be routable, not the embedded one.
            ("2002:a00:1::1", [1, 10, 0], .ipv4),
            ("2001:0:0:0:0:0:f5ff:fffe", [1, 10, 0], .ipv4),
            ("64:ff9b::c000:201", [1, 192, 0], .ipv4),
            ("::ffff:0:1.2.3.4", [1, 1, 2], .ipv4),
            // Plain IPv6 /32, and Hurricane Electric /36 with the low nibble filled with ones.
            ("2606:4700:10::1", [2, 0x26, 0x06, 0x47, 0x00], .ipv6),
            ("2001:470:0::1", [2, 0x20, 0x01, 0x04, 0x70, 0x0f], .ipv6),
            ("2001:470:f123::1", [2, 0x20, 0x01, 0x04, 0x70, 0xff], .ipv6),
            ("::1.2.3.4", [2, 0, 0, 0, 0], .ipv6),
        ]
        for (text, group, netClass) in cases {
            XCTAssertEqual(ip(text).netGroup, group, text)
            XCTAssertEqual(ip(text).netClass, netClass, text)
        }
        XCTAssertEqual(ip("8.8.8.8").netGroupHex, "010808")
        XCTAssertEqual(ip("2001:470:f123::1").netGroupHex, "0220010470ff")
        XCTAssertEqual(ip("2001:0:0:0:0:0:f5ff:fffe").linkedIPv4, IPAddress(ipv4: 10, 0, 0, 1))
        // Same /16 → same group; different /16 → different group.
        XCTAssertEqual(ip("8.8.1.1").netGroup, ip("8.8.255.255").netGroup)
        XCTAssertNotEqual(ip("8.8.1.1").netGroup, ip("8.9.1.1").netGroup)
    }

    // MARK: Construction and text

    func testConstruction() {
        XCTAssertEqual(IPAddress(bytes: [1, 2, 3, 4]), IPAddress(ipv4: 1, 2, 3, 4))
        XCTAssertEqual(IPAddress(bytes: MultiaddrHex.bytes("00000000000000000000ffff01020304")), IPAddress(ipv4: 1, 2, 3, 4))
        XCTAssertEqual(IPAddress(ipv4: 1, 2, 3, 4).bytes, MultiaddrHex.bytes("00000000000000000000ffff01020304"))
        XCTAssertEqual(IPAddress(ipv4: 1, 2, 3, 4).ipv4Bytes, [1, 2, 3, 4])
        XCTAssertNil(ip("::1").ipv4Bytes)
        XCTAssertEqual(ip("::1").bytes, MultiaddrHex.bytes("00000000000000000000000000000001"))
        XCTAssertNil(IPAddress(bytes: []))
        XCTAssertNil(IPAddress(bytes: [1, 2, 3]))
        XCTAssertNil(IPAddress(bytes: [UInt8](repeating: 0, count: 15)))
        for bad in ["", "1.2.3", "01.2.3.4", "1.2.3.4 ", "::1%lo", "[::1]", ":::", "example.com", "1.2.3.4/8"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }
}
