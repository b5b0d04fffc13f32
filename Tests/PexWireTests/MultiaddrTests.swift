import XCTest
@testable import PexWire

/// Hex helpers for the multiaddr and net group test vectors (named to stay unique in the
/// test module).
enum MultiaddrHex {
    /// Bytes of a lowercase hex string.
    static func bytes(_ hex: String) -> [UInt8] {
        let chars = Array(hex.utf8)
        precondition(chars.count % 2 == 0, "odd-length hex in a test vector")
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: preconditionFailure("bad hex digit in a test vector")
            }
        }
        return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
    }

    /// Lowercase hex of `bytes`.
    static func string(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }
}

final class MultiaddrTests: XCTestCase {
    // Peer IDs used throughout. The first two come from go-multiaddr multiaddr_test.go, the
    // third from py-multiaddr tests/test_transforms.py (test_cid_autoconvert_to_string).
    let shaPeer = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"
    let shaPeerMultihash = "1220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b"
    let edPeer = "12D3KooWPA6ax6t3jqTyGq73Zm1RmwppYqxaXzrtarfcTWGp5Wzx"
    let edPeerMultihash = "002408011220c635ed472d58edd8b9ee4641ec7557dc806b4886e568491ab00bff1269a7be65"

    private func textError(_ text: String) -> MultiaddrError? {
        do {
            _ = try Multiaddr(text)
            return nil
        } catch {
            return error
        }
    }

    private func bytesError(_ bytes: [UInt8]) -> MultiaddrError? {
        do {
            _ = try Multiaddr(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    /// Asserts `.invalidValue` for `protocolName`, and that the reason mentions `reason`.
    private func assertInvalidValue(_ error: MultiaddrError?, _ protocolName: String, _ reason: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        guard case let .invalidValue(proto, _, why) = error else {
            return XCTFail("expected invalidValue(\(protocolName)), got \(String(describing: error))", file: file, line: line)
        }
        XCTAssertEqual(proto, protocolName, file: file, line: line)
        XCTAssertTrue(why.contains(reason), "reason \"\(why)\" lacks \"\(reason)\"", file: file, line: line)
    }

    // MARK: Published text <-> binary vectors

    func testPublishedTextBinaryVectors() throws {
        let vectors: [(String, String)] = [
            // go-multiaddr multiaddr_test.go, TestStringToBytes / TestBytesToString;
            // the same three in py-multiaddr tests/test_transforms.py, BYTES_MAP_STR_TEST_DATA.
            ("/ip4/127.0.0.1/udp/1234", "047f000001910204d2"),
            ("/ip4/127.0.0.1/tcp/4321", "047f0000010610e1"),
            ("/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"),
            // multiformats/multiaddr test/multiaddr.feature, "Simple string form".
            ("/ip4/192.0.2.42/tcp/443", "04c000022a0601bb"),
            // go-multiaddr multiaddr_test.go TestZone, with the ip6zone prefix removed.
            ("/ip6/::1", "2900000000000000000000000000000001"),
            // py-multiaddr tests/test_transforms.py ADDR_BYTES_STR_TEST_DATA (value bytes), framed.
            ("/ip4/10.11.12.13", "040a0b0c0d"),
            ("/ip6/1aa1:2bb2:3cc3:4dd4:5ee5:6ff6:7ab7:8ac8", "291aa12bb23cc34dd45ee56ff67ab78ac8"),
            ("/tcp/43981", "06abcd"),
            ("/p2p/\(shaPeer)", "a50322" + shaPeerMultihash),
            // py-multiaddr tests/test_transforms.py test_cid_autoconvert_to_string (identity
            // multihash of an Ed25519 key), framed.
            ("/p2p/\(edPeer)", "a50326" + edPeerMultihash),
        ]
        for (text, hex) in vectors {
            let fromText = try Multiaddr(text)
            XCTAssertEqual(MultiaddrHex.string(fromText.bytes), hex, text)
            let fromBytes = try Multiaddr(bytes: MultiaddrHex.bytes(hex))
            XCTAssertEqual(fromBytes.text, text, hex)
            XCTAssertEqual(fromBytes, fromText)
        }
    }

    func testSpecFeatureComponents() throws {
        // multiformats/multiaddr test/multiaddr.feature, "Simple packed form" component table.
        let addr = try Multiaddr(bytes: MultiaddrHex.bytes("04c000022a0601bb"))
        XCTAssertEqual(addr.text, "/ip4/192.0.2.42/tcp/443")
        XCTAssertEqual(addr.text.utf8.count, 23)
        XCTAssertEqual(addr.components.map(\.text), ["/ip4/192.0.2.42", "/tcp/443"])
        XCTAssertEqual(addr.components.map { MultiaddrHex.string($0.bytes) }, ["04c000022a", "0601bb"])
        XCTAssertEqual(addr.components.map(\.valueText), ["192.0.2.42", "443"])
        XCTAssertEqual(addr.components.map { MultiaddrHex.string($0.value) }, ["c000022a", "01bb"])
        XCTAssertEqual(addr.components.map(\.protocolID), [.ip4, .tcp])
        XCTAssertEqual(addr.components.map(\.protocolID.rawValue), [4, 6])
    }

    func testDerivedVectorsForTheOtherProtocols() throws {
        // Encoded by hand from the multicodec table: dns4 = 0x36, udp = 0x0111 (varint 91 02),
        // quic-v1 = 0x01cd (varint cd 03), p2p = 0x01a5 (varint a5 03), dns = 0x35, dns6 = 0x37.
        let vectors: [(String, String)] = [
            ("/dns4/abc.com/tcp/1234", "3607616263" + "2e636f6d" + "0604d2"),
            ("/dns/abc.com/udp/1234/quic-v1", "3507616263" + "2e636f6d" + "910204d2" + "cd03"),
            ("/dns6/abc.com/udp/65535", "3707616263" + "2e636f6d" + "9102ffff"),
            ("/ip4/1.2.3.4/udp/4001/quic-v1/p2p/\(shaPeer)", "0401020304" + "91020fa1" + "cd03" + "a50322" + shaPeerMultihash),
        ]
        for (text, hex) in vectors {
            XCTAssertEqual(MultiaddrHex.string(try Multiaddr(text).bytes), hex, text)
            XCTAssertEqual(try Multiaddr(bytes: MultiaddrHex.bytes(hex)).text, text, hex)
        }
    }

    // MARK: Valid text

    func testGoMultiaddrValidCasesRoundTrip() throws {
        // The entries of go-multiaddr multiaddr_test.go `good` (and py-multiaddr
        // tests/test_multiaddr.py test_valid) that use only the supported protocols and
        // base58btc peer IDs; each is already canonical, save the trailing slash and "/ipfs/".
        let good = [
            "/ip4/1.2.3.4",
            "/ip4/0.0.0.0",
            "/ip6/::1",
            "/ip6/2601:9:4f81:9700:803e:ca65:66e8:c21",
            "/ip6/2601:9:4f81:9700:803e:ca65:66e8:c21/udp/1234/quic-v1",
            "/udp/0",
            "/tcp/0",
            "/udp/1234",
            "/tcp/1234",
            "/udp/65535",
            "/tcp/65535",
            "/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC",
            "/p2p/12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV",
            "/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC/tcp/1234",
            "/ip4/127.0.0.1/udp/1234",
            "/ip4/127.0.0.1/udp/0",
            "/ip4/127.0.0.1/tcp/1234",
            "/ip4/127.0.0.1/udp/1234/quic-v1",
            "/ip4/127.0.0.1/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC",
            "/ip4/127.0.0.1/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC/tcp/1234",
            "/ip4/127.0.0.1/tcp/0/p2p/12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV",
            "/dns/example.com",
            // go-multiaddr TestRoundTrip.
            "/ip6/::ffff:127.0.0.1/tcp/111",
            "/ip4/127.0.0.1/tcp/123",
            "/ip4/127.0.0.1/udp/123/ip6/::",
            "/p2p/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP",
            // py-multiaddr tests/test_multiaddr.py test_quic_valid.
            "/ip6/::1/udp/4001/quic-v1",
            "/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095/udp/4001/quic-v1/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC",
            "/ip4/10.0.0.1/udp/4001/quic-v1",
            "/ip6/2001:db8::2/udp/4001/quic-v1",
        ]
        for text in good {
            let addr = try Multiaddr(text)
            XCTAssertEqual(addr.text, text)
            XCTAssertEqual(addr.description, text)
            let again = try Multiaddr(bytes: addr.bytes)
            XCTAssertEqual(again, addr)
            XCTAssertEqual(again.text, text)
        }
    }

    func testNormalisation() throws {
        let cases: [(String, String)] = [
            // js-multiaddr test/index.spec.ts, describe('normalize').
            ("/ip6/0001:08a0:00c5:4201:3ac9:86ff:fe31:0709", "/ip6/1:8a0:c5:4201:3ac9:86ff:fe31:709"),
            ("/ip6/0000:0000:0000:0000:0000:0000:0000:0001", "/ip6/::1"),
            ("/ip6/::00:0:000:0:001", "/ip6/::1"),
            ("/ip6/::101.45.75.219/tcp/9090", "/ip6/::652d:4bdb/tcp/9090"),
            ("/ip6/::1.45.5.219/tcp/9090", "/ip6/::12d:5db/tcp/9090"),
            ("/ip6/0:00:0000:0002:0000:059c:0a24:0801/tcp/64142", "/ip6/::2:0:59c:a24:801/tcp/64142"),
            // go-multiaddr TestIPFSvP2P; js-multiaddr roundTrip replaces /ipfs/ with /p2p/.
            ("/ipfs/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP", "/p2p/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP"),
            ("/ip4/127.0.0.1/ipfs/\(shaPeer)/tcp/1234", "/ip4/127.0.0.1/p2p/\(shaPeer)/tcp/1234"),
            // go-multiaddr TestEqual / `good`: trailing slashes are consumed.
            ("/ip4/127.0.0.1/tcp/1234/", "/ip4/127.0.0.1/tcp/1234"),
            ("/ip4/127.0.0.1/tcp/1234///", "/ip4/127.0.0.1/tcp/1234"),
            // Ports as Go's strconv.ParseUint: leading zeros are accepted.
            ("/tcp/00080", "/tcp/80"),
            ("/udp/0000", "/udp/0"),
            // Upper-case hex and a mapped address written in hex.
            ("/ip6/2001:DB8::AbCd", "/ip6/2001:db8::abcd"),
            ("/ip6/::ffff:7f00:1", "/ip6/::ffff:127.0.0.1"),
            ("/ip6/1:0:0:2:0:0:0:3", "/ip6/1:0:0:2::3"),
            ("/ip6/1:0:0:2:0:0:3:4", "/ip6/1::2:0:0:3:4"),
            ("/ip6/1:2:3:4:5:6:7::", "/ip6/1:2:3:4:5:6:7:0"),
            ("/ip6/::2:3:4:5:6:7:8", "/ip6/0:2:3:4:5:6:7:8"),
        ]
        for (input, canonical) in cases {
            let addr = try Multiaddr(input)
            XCTAssertEqual(addr.text, canonical, input)
            XCTAssertEqual(try Multiaddr(canonical), addr, input)
        }
    }

    func testEqualityUsesTheBinaryForm() throws {
        // go-multiaddr TestEqual.
        let m1 = try Multiaddr("/ip4/127.0.0.1/udp/1234")
        let m2 = try Multiaddr("/ip4/127.0.0.1/tcp/1234")
        let m3 = try Multiaddr("/ip4/127.0.0.1/tcp/1234")
        let m4 = try Multiaddr("/ip4/127.0.0.1/tcp/1234/")
        XCTAssertNotEqual(m1, m2)
        XCTAssertEqual(m2, m3)
        XCTAssertEqual(m2, m4)
        XCTAssertEqual(Set([m1, m2, m3, m4]).count, 2)
        XCTAssertEqual(m2.hashValue, m4.hashValue)
    }

    // MARK: Invalid text

    func testGoMultiaddrConstructFailures() {
        // go-multiaddr multiaddr_test.go TestConstructFails (and py-multiaddr test_invalid),
        // the entries that concern the supported protocols, each with the specific error.
        let cases: [(String, MultiaddrError)] = [
            ("/ip4", .missingValue(protocol: "ip4")),
            ("/ip6", .missingValue(protocol: "ip6")),
            ("/udp", .missingValue(protocol: "udp")),
            ("/tcp", .missingValue(protocol: "tcp")),
            ("/dns", .missingValue(protocol: "dns")),
            ("/dns4", .missingValue(protocol: "dns4")),
            ("/dns6", .missingValue(protocol: "dns6")),
            ("/ip4/127.0.0.1/udp", .missingValue(protocol: "udp")),
            ("/ip4/127.0.0.1/tcp", .missingValue(protocol: "tcp")),
            ("/ip4/127.0.0.1/ipfs", .missingValue(protocol: "p2p")),
            ("/ip4/127.0.0.1/p2p", .missingValue(protocol: "p2p")),
            ("/ip6zone", .unknownProtocol("ip6zone")),
            ("/ip6zone/", .unknownProtocol("ip6zone")),
            ("/ip6zone//ip6/fe80::1", .unknownProtocol("ip6zone")),
            ("/ip6zone/x/ip6/fe80::1", .unknownProtocol("ip6zone")),
            ("/sctp", .unknownProtocol("sctp")),
            ("/unix", .unknownProtocol("unix")),
            ("/cancer", .unknownProtocol("cancer")),
            ("/quic-v1/65536", .unknownProtocol("65536")),
            ("/ip4/127.0.0.1/quic-v1/1234", .unknownProtocol("1234")),
            ("/ip4/127.0.0.1/udp/1234/quic", .unknownProtocol("quic")),
            ("/ip4/1.2.3.4/tcp/80/unix", .unknownProtocol("unix")),
            ("/dnsaddr/example.com", .unknownProtocol("dnsaddr")),
            ("/", .empty),
            ("", .empty),
            ("////", .empty),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(textError(text), expected, text)
        }
        // Malformed values.
        assertInvalidValue(textError("/ip4/::1"), "ip4", "four")
        assertInvalidValue(textError("/ip4/fdpsofodsajfdoisa"), "ip4", "four")
        assertInvalidValue(textError("/udp/65536"), "udp", "range")
        assertInvalidValue(textError("/tcp/65536"), "tcp", "range")
        assertInvalidValue(textError("/ip4/127.0.0.1/udp/jfodsajfidosajfoidsa"), "udp", "decimal")
        assertInvalidValue(textError("/ip4/127.0.0.1/tcp/jfodsajfidosajfoidsa"), "tcp", "decimal")
        assertInvalidValue(textError("/ip4/1.2.3.4/tcp/-1"), "tcp", "decimal")
        // "tcp" is valid base58 but decodes to a multihash with code 0x02.
        assertInvalidValue(textError("/ip4/127.0.0.1/ipfs/tcp"), "p2p", "neither identity nor sha2-256")
        assertInvalidValue(textError("/ip4/127.0.0.1/p2p/tcp"), "p2p", "neither identity nor sha2-256")
        // sha2-256 multihash whose digest is longer than 32 bytes.
        assertInvalidValue(textError("/p2p/QmxoHT6iViN5xAjoz1VZ553cL31U9F94ht3QvWR1FrEbZY"), "p2p",
                           "multihash announces 33 digest bytes, has 32")
        // py-multiaddr tests/test_transforms.py test_codec_to_bytes_value_error.
        assertInvalidValue(textError("/ip4/1124.2.3"), "ip4", "four")
        assertInvalidValue(textError("/ip6/123.123.123.123"), "ip6", "8 groups")
        assertInvalidValue(textError("/tcp/a"), "tcp", "decimal")
        assertInvalidValue(textError("/tcp/100000"), "tcp", "range")
        assertInvalidValue(textError("/p2p/15230d52ebb89d85b02a284948203a"), "p2p", "base58btc")
        // js-multiaddr: unknown protocol after a valid prefix.
        XCTAssertEqual(textError("/ip4/127.0.0.1/unknown"), .unknownProtocol("unknown"))
    }

    func testTextStructureErrors() {
        XCTAssertEqual(textError("ip4/1.2.3.4"), .mustStartWithSlash)
        XCTAssertEqual(textError("ip4/1.2.3.4/"), .mustStartWithSlash)
        XCTAssertEqual(textError(" /ip4/1.2.3.4"), .mustStartWithSlash)
        // Empty components in the middle (go-multiaddr: "empty protos in between").
        XCTAssertEqual(textError("/ip4/1.2.3.4//tcp/1"), .unknownProtocol(""))
        XCTAssertEqual(textError("//ip4/1.2.3.4"), .unknownProtocol(""))
        // A combining mark after a slash does not hide the slash.
        XCTAssertEqual(textError("/ip4/1.2.3.4/\u{301}tcp/1"), .unknownProtocol("\u{301}tcp"))
        XCTAssertEqual(textError("/ip4/1.2.3.4/tcp/1/\u{301}"), .unknownProtocol("\u{301}"))
        // Names are case-sensitive.
        XCTAssertEqual(textError("/IP4/1.2.3.4"), .unknownProtocol("IP4"))
        // quic-v1 takes no value, so a following value is read as a protocol name.
        XCTAssertEqual(textError("/ip4/1.2.3.4/udp/1/quic-v1/x"), .unknownProtocol("x"))
        // An empty value between slashes is invalid, not missing.
        assertInvalidValue(textError("/ip4//tcp/1"), "ip4", "four")
        assertInvalidValue(textError("/tcp//ip4/1.2.3.4"), "tcp", "decimal")
    }

    func testPortText() throws {
        for bad in ["+80", "-0", " 80", "80 ", "0x50", "8_0", "1e2", "٣", "６"] {
            assertInvalidValue(textError("/tcp/\(bad)"), "tcp", "decimal")
        }
        assertInvalidValue(textError("/udp/99999999999999999999999999"), "udp", "range")
        XCTAssertEqual(try Multiaddr("/udp/65535").port, 65535)
        XCTAssertEqual(try Multiaddr("/tcp/0").port, 0)
    }

    func testIPv4Text() throws {
        XCTAssertEqual(try Multiaddr("/ip4/255.255.255.255").text, "/ip4/255.255.255.255")
        XCTAssertEqual(try Multiaddr("/ip4/0.0.0.0").bytes, [4, 0, 0, 0, 0])
        let cases: [(String, String)] = [
            ("01.2.3.4", "leading zeros"),
            ("1.2.3.00", "leading zeros"),
            ("256.1.1.1", "over 255"),
            ("1.2.3", "four"),
            ("1.2.3.4.5", "four"),
            ("1.2.3.", "1 to 3"),
            (".1.2.3", "1 to 3"),
            ("1..2.3", "1 to 3"),
            ("1.2.3.0004", "1 to 3"),
            ("1.2.3.a", "1 to 3"),
            ("1.2.3.-4", "1 to 3"),
            ("::ffff:1.2.3.4", "1 to 3"),
        ]
        for (value, reason) in cases {
            assertInvalidValue(textError("/ip4/\(value)"), "ip4", reason)
        }
    }

    func testIPv6Text() throws {
        let cases: [(String, String)] = [
            ("1:2:3:4:5:6:7", "8 groups"),
            ("1:2:3:4:5:6:7:8:9", "8 groups"),
            ("1:2:3:4:5:6:7:8::", "too many groups"),
            ("::1:2:3:4:5:6:7:8", "too many groups"),
            ("1::2::3", "more than one"),
            (":::", "empty group"),
            ("1:::2", "empty group"),
            (":1:2:3:4:5:6:7", "empty group"),
            ("1:2:3:4:5:6:7:", "empty group"),
            ("1::2:", "empty group"),
            ("12345::", "more than 4"),
            ("g::1", "invalid character"),
            ("[::1]", "invalid character"),
            (" ::1", "invalid character"),
            ("fe80::1%eth0", "zone"),
            ("fe80::1%25", "zone"),
            ("::1.2.3.4:5", "must come last"),
            ("1.2.3.4::", "must come last"),
            ("::1.2.3", "embedded IPv4"),
            ("::1.2.3.04", "embedded IPv4"),
            ("::256.2.3.4", "embedded IPv4"),
            ("1:2:3:4:5:6:7:1.2.3.4", "8 groups"),
            ("1:2:3:4:5:6:7::1.2.3.4", "too many groups"),
        ]
        for (value, reason) in cases {
            assertInvalidValue(textError("/ip6/\(value)"), "ip6", reason)
        }
        XCTAssertEqual(try Multiaddr("/ip6/1:2:3:4:5:6:1.2.3.4").text, "/ip6/1:2:3:4:5:6:102:304")
        XCTAssertEqual(try Multiaddr("/ip6/::").text, "/ip6/::")
    }

    func testDNSNames() throws {
        let valid = [
            "example.com", "a", "EXAMPLE.Com", "xn--fuball-cta.example", "a-b.c0", "1.2.3.example",
            "localhost", String(repeating: "a", count: 63) + ".com",
        ]
        for name in valid {
            let addr = try Multiaddr("/dns4/\(name)/tcp/1")
            XCTAssertEqual(addr.dnsName, name)
            XCTAssertEqual(try Multiaddr(bytes: addr.bytes).text, "/dns4/\(name)/tcp/1")
        }
        // The longest name, 253 bytes, fills a whole 256-byte address on its own.
        let longest = [String(repeating: "a", count: 63), String(repeating: "b", count: 63),
                       String(repeating: "c", count: 63), String(repeating: "d", count: 61)].joined(separator: ".")
        XCTAssertEqual(try Multiaddr("/dns/\(longest)").bytes.count, WireLimits.maxAddressLength)
        let invalid: [(String, String)] = [
            (String(repeating: "a", count: 64) + ".com", "longer than 63"),
            ([String](repeating: String(repeating: "a", count: 63), count: 4).joined(separator: "."), "longer than 253"),
            ("example.com.", "empty label"),
            (".example.com", "empty label"),
            ("example..com", "empty label"),
            ("_dnsaddr.example.com", "underscore"),
            ("ex_ample.com", "underscore"),
            ("-example.com", "starts or ends"),
            ("example-.com", "starts or ends"),
            ("fußball.example", "only ASCII"),
            ("موقع.وزارة-الاتصالات.مصر", "only ASCII"),
            ("exa mple.com", "only ASCII"),
            ("a:b", "only ASCII"),
            ("1.2.3.4", "all digits"),
            ("example.123", "all digits"),
        ]
        for (name, reason) in invalid {
            assertInvalidValue(textError("/dns/\(name)"), "dns", reason)
            assertInvalidValue(textError("/dns6/\(name)/tcp/1"), "dns6", reason)
        }
    }

    func testPeerIDs() throws {
        let addr = try Multiaddr("/p2p/\(edPeer)")
        XCTAssertEqual(addr.components.first?.valueText, edPeer)
        XCTAssertEqual(addr.peerIDMultihash, MultiaddrHex.bytes(edPeerMultihash))
        XCTAssertEqual(try Multiaddr("/p2p/\(shaPeer)").peerIDMultihash, MultiaddrHex.bytes(shaPeerMultihash))

        // Identity multihashes of 1 and 42 bytes are accepted, 0 and 43 are not.
        for length in [1, 42] {
            let multihash = [0x00, UInt8(length)] + [UInt8](repeating: 0x07, count: length)
            let text = "/p2p/" + Base58.encode(multihash)
            XCTAssertEqual(try Multiaddr(text).peerIDMultihash, multihash)
        }
        for (multihash, reason) in [
            ([0x00, 0x00], "identity digest must be 1 to 42"),
            ([0x00, 43] + [UInt8](repeating: 7, count: 43), "identity digest must be 1 to 42"),
            ([0x12, 0x20] + [UInt8](repeating: 7, count: 31), "announces 32 digest bytes, has 31"),
            ([0x12, 0x1f] + [UInt8](repeating: 7, count: 31), "sha2-256 digest must be 32"),
            ([0x13, 0x20] + [UInt8](repeating: 7, count: 32), "neither identity nor sha2-256"),
            ([0x80], "malformed multihash code"),
            ([0x12], "malformed multihash length"),
            ([0x12, 0x80, 0x00], "malformed multihash length"),
        ] as [([UInt8], String)] {
            assertInvalidValue(textError("/p2p/" + Base58.encode(multihash)), "p2p", reason)
            // The same value in binary form.
            var binary: [UInt8] = [0xa5, 0x03, UInt8(multihash.count)]
            binary += multihash
            assertInvalidValue(bytesError(binary), "p2p", reason)
        }
        // go-multiaddr TestInvalidP2PAddrString: CID forms are not base58btc multihashes here.
        assertInvalidValue(textError("/p2p/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl-"), "p2p", "base58btc")
        assertInvalidValue(textError("/p2p/?unknownmultibase"), "p2p", "base58btc")
        // A base32 CID happens to use only base58 characters; it decodes to a non-multihash.
        assertInvalidValue(textError("/p2p/bafzbeigvf25ytwc3akrijfecaotc74udrhcxzh2cx3we5qqnw5vgrei4bm"), "p2p", "multihash")
        // Characters outside the base58 alphabet, and an overlong value (checked before decoding).
        assertInvalidValue(textError("/p2p/Qm0OIl"), "p2p", "base58btc")
        assertInvalidValue(textError("/p2p/" + String(repeating: "z", count: 65)), "p2p", "too long")
    }

    // MARK: Limits

    func testLengthLimits() throws {
        // 15 ip6 components are 255 bytes; a 16th exceeds `WireLimits.maxAddressLength`.
        let fifteen = String(repeating: "/ip6/::1", count: 15)
        XCTAssertEqual(try Multiaddr(fifteen).bytes.count, 255)
        XCTAssertEqual(textError(fifteen + "/tcp/1"), .tooLong(length: 258, limit: WireLimits.maxAddressLength))
        // Text over `maxTextLength` is rejected before any parsing.
        let longText = "/tcp/" + String(repeating: "0", count: Multiaddr.maxTextLength)
        XCTAssertEqual(textError(longText), .tooLong(length: longText.utf8.count, limit: Multiaddr.maxTextLength))
        let longestText = "/tcp/" + String(repeating: "0", count: Multiaddr.maxTextLength - 6) + "1"
        XCTAssertEqual(try Multiaddr(longestText).text, "/tcp/1")
        // Binary over the limit is rejected whatever it contains.
        XCTAssertEqual(bytesError([UInt8](repeating: 0xff, count: 257)), .tooLong(length: 257, limit: 256))
        let binary = try Multiaddr(fifteen).bytes
        XCTAssertEqual(bytesError(binary + [0x06]), .truncated)
        XCTAssertEqual(bytesError(binary + [0x06, 0x00]), .tooLong(length: 257, limit: 256))
    }

    // MARK: Binary decoding errors

    func testBinaryErrors() throws {
        let cases: [(String, MultiaddrError)] = [
            ("", .empty),
            // Fixed-size values cut short.
            ("04", .truncated),
            ("047f0000", .truncated),
            ("0604", .truncated),
            ("047f000001910204", .truncated),
            ("29000000000000000000000000000000", .truncated),
            // Code varint cut short, and length varint missing or cut short.
            ("a5", .truncated),
            ("047f00000191", .truncated),
            ("a503", .truncated),
            ("3680", .truncated),
            // A length-prefixed value longer than what remains.
            ("3605616263", .truncated),
            ("a50322" + "1220d52e", .truncated),
            // Non-minimal varints, and a varint longer than 9 bytes.
            ("8400", .badVarint),
            ("8480808080808080808001", .badVarint),
            ("368000", .badVarint),
            // Unknown codes (py-multiaddr test_bytes_to_string_value_error: "cd02" is code 333),
            // the draft "quic" (0x01cc, "cc03") among them.
            ("cd020c0d", .unknownProtocol("0x14d")),
            ("00", .unknownProtocol("0x0")),
            ("cc03", .unknownProtocol("0x1cc")),
            ("ffffffff0f", .unknownProtocol("0xffffffff")),
            // go-multiaddr TestZone binary: ip6zone is not supported.
            ("2a046574683029" + "00000000000000000000000000000001", .unknownProtocol("ip6zone")),
        ]
        for (hex, expected) in cases {
            XCTAssertEqual(bytesError(MultiaddrHex.bytes(hex)), expected, hex)
        }
        // Zero-length values.
        XCTAssertEqual(bytesError(MultiaddrHex.bytes("3500")), .invalidValue(protocol: "dns", value: "", reason: "empty value"))
        XCTAssertEqual(bytesError(MultiaddrHex.bytes("a50300")), .invalidValue(protocol: "p2p", value: "", reason: "empty value"))
        // go-multiaddr TestInvalidP2PAddrBytes: sha2-256 announcing 33 digest bytes.
        assertInvalidValue(bytesError(MultiaddrHex.bytes("a503221221c05877cbae039d70a5e600ea02c6f9f2942439285c9e344e26f8d280c850fad6")),
                           "p2p", "announces 33 digest bytes, has 32")
        // py-multiaddr test_bytes_to_string_value_error: "a:b" is not a host name.
        XCTAssertEqual(bytesError(MultiaddrHex.bytes("3503613a62")),
                       .invalidValue(protocol: "dns", value: "a:b", reason: "only ASCII letters, digits, \"-\" and \".\" are allowed"))
        // Non-printable bytes are reported in hex, a "/" in a name is rejected.
        XCTAssertEqual(bytesError(MultiaddrHex.bytes("36026100")),
                       .invalidValue(protocol: "dns4", value: "0x6100", reason: "only ASCII letters, digits, \"-\" and \".\" are allowed"))
        assertInvalidValue(bytesError(MultiaddrHex.bytes("3703612f62")), "dns6", "only ASCII")
        // Invalid UTF-8 in a name.
        assertInvalidValue(bytesError(MultiaddrHex.bytes("3602c328")), "dns4", "only ASCII")
    }

    func testBinaryAcceptsEveryFixedValue() throws {
        // Any 4 or 16 bytes form an address, any 2 bytes a port.
        let addr = try Multiaddr(bytes: MultiaddrHex.bytes("04ffffffff" + "06ffff" + "29" + String(repeating: "ff", count: 16) + "91020000"))
        XCTAssertEqual(addr.text, "/ip4/255.255.255.255/tcp/65535/ip6/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/udp/0")
    }

    func testMutatedInputsNeverTrapAndAcceptedOnesRoundTrip() throws {
        // Deterministic SplitMix64, so a failure reproduces.
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        let seeds = try [
            "/ip4/127.0.0.1/udp/1234/quic-v1/p2p/\(shaPeer)", "/dns4/abc.com/tcp/1234",
            "/ip6/2001:db8::1/tcp/80/p2p/\(edPeer)", "/dns/a-b.example/udp/9/quic-v1",
        ].map { try Multiaddr($0) }
        var accepted = 0
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count].bytes
            for _ in 0...(next() % 4) {
                let position = Int(next() % UInt64(bytes.count + 1))
                switch next() % 3 {
                case 0 where position < bytes.count: bytes[position] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: next()), at: position)
                default: if position < bytes.count { bytes.remove(at: position) }
                }
            }
            guard let addr = try? Multiaddr(bytes: bytes) else { continue }
            accepted += 1
            XCTAssertEqual(addr.bytes, bytes)
            let reparsed = try Multiaddr(addr.text)
            XCTAssertEqual(reparsed, addr, addr.text)
            XCTAssertEqual(reparsed.text, addr.text)
            _ = addr.isDialable
        }
        XCTAssertGreaterThan(accepted, 100)

        let alphabet = Array("/ip46dnsudtcpquic-v1p2p0123456789abcdef:.%Qm")
        for round in 0..<20_000 {
            var text = Array(seeds[round % seeds.count].text)
            for _ in 0...(next() % 3) {
                let position = Int(next() % UInt64(text.count + 1))
                let c = alphabet[Int(next() % UInt64(alphabet.count))]
                if next() % 2 == 0, position < text.count { text[position] = c } else { text.insert(c, at: position) }
            }
            guard let addr = try? Multiaddr(String(text)) else { continue }
            XCTAssertEqual(try Multiaddr(bytes: addr.bytes), addr)
            XCTAssertEqual(try Multiaddr(addr.text), addr)
        }
    }

    // MARK: Components API

    func testComponentConstruction() throws {
        let tcp = try Multiaddr.Component(.tcp, value: "4001")
        XCTAssertEqual(tcp.text, "/tcp/4001")
        XCTAssertEqual(tcp.description, "/tcp/4001")
        XCTAssertEqual(tcp.bytes, [0x06, 0x0f, 0xa1])
        let quic = try Multiaddr.Component(.quicV1)
        XCTAssertEqual(quic.text, "/quic-v1")
        XCTAssertNil(quic.valueText)
        XCTAssertEqual(quic.bytes, [0xcd, 0x03])
        XCTAssertEqual(try Multiaddr.Component(.dns, value: "a.example").bytes, [0x35, 0x09] + Array("a.example".utf8))

        XCTAssertThrowsError(try Multiaddr.Component(.ip4)) { error in
            XCTAssertEqual(error as? MultiaddrError, .missingValue(protocol: "ip4"))
        }
        XCTAssertThrowsError(try Multiaddr.Component(.quicV1, value: "1")) { error in
            XCTAssertEqual(error as? MultiaddrError, .invalidValue(protocol: "quic-v1", value: "1", reason: "quic-v1 takes no value"))
        }

        let addr = try Multiaddr(components: [try .init(.ip6, value: "2001:db8::1"), try .init(.udp, value: "443"), quic])
        XCTAssertEqual(addr.text, "/ip6/2001:db8::1/udp/443/quic-v1")
        XCTAssertEqual(addr, try Multiaddr("/ip6/2001:db8::1/udp/443/quic-v1"))
        XCTAssertThrowsError(try Multiaddr(components: [])) { error in
            XCTAssertEqual(error as? MultiaddrError, .empty)
        }

        let withPeer = try addr.encapsulating(try Multiaddr("/p2p/\(shaPeer)"))
        XCTAssertEqual(withPeer.text, "/ip6/2001:db8::1/udp/443/quic-v1/p2p/\(shaPeer)")
        let big = try Multiaddr(String(repeating: "/ip6/::1", count: 15))
        XCTAssertThrowsError(try big.encapsulating(addr)) { error in
            guard case .tooLong(let length, 256)? = error as? MultiaddrError else { return XCTFail("\(error)") }
            XCTAssertEqual(length, 255 + addr.bytes.count)
        }
    }

    func testProtocolTable() {
        // Codes from the multicodec table (multiformats/multiaddr protocols.csv).
        let expected: [(Multiaddr.ProtocolID, UInt64, String)] = [
            (.ip4, 4, "ip4"), (.tcp, 6, "tcp"), (.ip6, 41, "ip6"), (.dns, 53, "dns"),
            (.dns4, 54, "dns4"), (.dns6, 55, "dns6"), (.udp, 273, "udp"), (.quicV1, 461, "quic-v1"),
            (.p2p, 421, "p2p"),
        ]
        XCTAssertEqual(Multiaddr.ProtocolID.allCases.count, expected.count)
        for (id, code, name) in expected {
            XCTAssertEqual(id.rawValue, code)
            XCTAssertEqual(id.name, name)
            XCTAssertEqual(Multiaddr.ProtocolID(name: name), id)
        }
        XCTAssertEqual(Multiaddr.ProtocolID(name: "ipfs"), .p2p)
        XCTAssertNil(Multiaddr.ProtocolID(name: "quic"))
    }

    // MARK: Helpers

    func testHostAndPortHelpers() throws {
        let v4 = try Multiaddr("/ip4/192.0.2.1/tcp/4001")
        XCTAssertEqual(v4.ipAddress, IPAddress(ipv4: 192, 0, 2, 1))
        XCTAssertEqual(v4.port, 4001)
        XCTAssertNil(v4.dnsName)
        XCTAssertNil(v4.peerIDMultihash)

        let mapped = try Multiaddr("/ip6/::ffff:10.1.2.3/udp/9/quic-v1")
        XCTAssertEqual(mapped.ipAddress?.family, .ipv4)
        XCTAssertEqual(mapped.ipAddress?.description, "10.1.2.3")
        XCTAssertEqual(mapped.port, 9)

        let dns = try Multiaddr("/dns6/node.example/udp/443/quic-v1/p2p/\(shaPeer)")
        XCTAssertNil(dns.ipAddress)
        XCTAssertEqual(dns.dnsName, "node.example")
        XCTAssertEqual(dns.port, 443)
        XCTAssertEqual(dns.peerIDMultihash, MultiaddrHex.bytes(shaPeerMultihash))

        let bare = try Multiaddr("/p2p/\(shaPeer)/tcp/1")
        XCTAssertNil(bare.ipAddress)
        XCTAssertNil(bare.dnsName)
        XCTAssertEqual(bare.port, 1)
        XCTAssertNil(bare.peerIDMultihash)
        XCTAssertNil(try Multiaddr("/ip4/1.2.3.4").port)
    }

    // MARK: Dialability

    func testDialableShapes() throws {
        let cases: [(String, Multiaddr.DialTarget)] = [
            ("/ip4/192.0.2.1/tcp/4001",
             .init(host: .ip(IPAddress(ipv4: 192, 0, 2, 1)), port: 4001, transport: .tcp, peerIDMultihash: nil)),
            ("/ip6/2001:db8::1/udp/443/quic-v1",
             .init(host: .ip(IPAddress("2001:db8::1")!), port: 443, transport: .quicV1, peerIDMultihash: nil)),
            ("/dns/node.example/tcp/1/p2p/\(shaPeer)",
             .init(host: .dns(name: "node.example", family: .any), port: 1, transport: .tcp,
                   peerIDMultihash: MultiaddrHex.bytes(shaPeerMultihash))),
            ("/dns4/node.example/udp/65535/quic-v1/p2p/\(edPeer)",
             .init(host: .dns(name: "node.example", family: .ipv4Only), port: 65535, transport: .quicV1,
                   peerIDMultihash: MultiaddrHex.bytes(edPeerMultihash))),
            ("/dns6/node.example/tcp/80",
             .init(host: .dns(name: "node.example", family: .ipv6Only), port: 80, transport: .tcp, peerIDMultihash: nil)),
            ("/ip6/::ffff:1.2.3.4/tcp/80",
             .init(host: .ip(IPAddress(ipv4: 1, 2, 3, 4)), port: 80, transport: .tcp, peerIDMultihash: nil)),
        ]
        for (text, target) in cases {
            let addr = try Multiaddr(text)
            XCTAssertTrue(addr.isDialable, text)
            XCTAssertEqual(try addr.dialTarget(), target, text)
        }
    }

    func testUndialableShapes() throws {
        let cases: [(String, String)] = [
            ("/tcp/80", "must start with ip4, ip6, dns, dns4 or dns6, not tcp"),
            ("/p2p/\(shaPeer)", "must start with ip4, ip6, dns, dns4 or dns6, not p2p"),
            ("/ip4/1.2.3.4", "no transport: expected /tcp/<port> or /udp/<port>/quic-v1"),
            ("/ip4/1.2.3.4/udp/4001", "udp must be followed by /quic-v1"),
            ("/ip4/1.2.3.4/udp/4001/tcp/1", "udp must be followed by /quic-v1"),
            ("/ip4/1.2.3.4/p2p/\(shaPeer)", "transport p2p is not supported: expected tcp or udp/quic-v1"),
            ("/ip4/1.2.3.4/ip4/1.2.3.4/tcp/1", "transport ip4 is not supported: expected tcp or udp/quic-v1"),
            ("/ip4/1.2.3.4/tcp/0", "port 0 is not dialable"),
            ("/dns/a.example/udp/0/quic-v1", "port 0 is not dialable"),
            ("/ip4/1.2.3.4/tcp/1/quic-v1", "unexpected /quic-v1 after the transport: only /p2p/<id> may follow"),
            ("/ip4/1.2.3.4/tcp/1/tcp/2", "unexpected /tcp after the transport: only /p2p/<id> may follow"),
            ("/ip4/1.2.3.4/udp/1/quic-v1/udp/2", "unexpected /udp after the transport: only /p2p/<id> may follow"),
            ("/ip4/1.2.3.4/tcp/1/p2p/\(shaPeer)/p2p/\(shaPeer)", "unexpected /p2p after /p2p"),
            ("/ip4/1.2.3.4/tcp/1/p2p/\(shaPeer)/tcp/2", "unexpected /tcp after /p2p"),
        ]
        for (text, reason) in cases {
            let addr = try Multiaddr(text)
            XCTAssertFalse(addr.isDialable, text)
            XCTAssertThrowsError(try addr.dialTarget(), text) { error in
                XCTAssertEqual(error as? Multiaddr.NotDialable, Multiaddr.NotDialable(reason: reason), text)
                XCTAssertEqual((error as? Multiaddr.NotDialable)?.description, reason)
            }
        }
    }

    // MARK: Error descriptions

    func testErrorDescriptions() {
        let cases: [(MultiaddrError, String)] = [
            (.empty, "empty multiaddr"),
            (.mustStartWithSlash, "multiaddr must start with \"/\""),
            (.unknownProtocol("x"), "unknown protocol \"x\""),
            (.missingValue(protocol: "tcp"), "protocol tcp needs a value"),
            (.invalidValue(protocol: "tcp", value: "a", reason: "r"), "invalid tcp value \"a\": r"),
            (.truncated, "binary multiaddr is truncated"),
            (.badVarint, "binary multiaddr has a malformed varint"),
            (.tooLong(length: 300, limit: 256), "multiaddr is 300 bytes, limit 256"),
        ]
        for (error, text) in cases {
            XCTAssertEqual(error.description, text)
        }
    }
}
