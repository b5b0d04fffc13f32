import PexWire
import XCTest
import Yams

@testable import PexRuntime

final class PeersFileTests: XCTestCase {
    private let keyA = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    private let keyB = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="

    /// A file as the original project wrote it: comments, quoting styles and a flow list.
    private var original: String {
        """
        # federation members
        peers:
          - public_key: \(keyA)
            addresses:
              - /ip4/192.0.2.1/tcp/4001
              - "/dns4/node-a.example.org/tcp/4001"
          - public_key: '\(keyB)'
            addresses: [/ip6/2001:db8::7/tcp/4002]
            comment: fields the format does not know are ignored
        """
    }

    func testParsesTheOriginalFormat() throws {
        let peers = try PeersFile.parse(original)
        XCTAssertEqual(peers, [
            PeersFile.Peer(publicKey: try PublicKey(base64: keyA), addresses: [
                try Multiaddr("/ip4/192.0.2.1/tcp/4001"), try Multiaddr("/dns4/node-a.example.org/tcp/4001"),
            ]),
            PeersFile.Peer(publicKey: try PublicKey(base64: keyB), addresses: [try Multiaddr("/ip6/2001:db8::7/tcp/4002")]),
        ])
    }

    func testRenderWritesTheOriginalLayoutAndReadsBack() throws {
        let peers = try PeersFile.parse(original)
        let text = PeersFile.render(peers)
        XCTAssertEqual(text, """
            peers:
              - public_key: \(keyA)
                addresses:
                  - /ip4/192.0.2.1/tcp/4001
                  - /dns4/node-a.example.org/tcp/4001
              - public_key: \(keyB)
                addresses:
                  - /ip6/2001:db8::7/tcp/4002

            """)
        XCTAssertEqual(try PeersFile.parse(text), peers)
        // Yams reads it as the plain structure the original reader expects.
        let plain = try XCTUnwrap(try Yams.load(yaml: text) as? [String: [[String: Any]]])
        XCTAssertEqual(plain["peers"]?.first?["public_key"] as? String, keyA)
    }

    func testEmptyFiles() throws {
        XCTAssertEqual(PeersFile.render([]), "peers: []\n")
        XCTAssertEqual(try PeersFile.parse("peers: []\n"), [])
        XCTAssertEqual(try PeersFile.parse(""), [])
        XCTAssertEqual(try PeersFile.parse("# nothing yet\n"), [])
        XCTAssertEqual(try PeersFile.parse("peers:\n"), [])
        XCTAssertEqual(try PeersFile.parse("peers: ~\n"), [])
    }

    func testScalarQuotingReadsBackUnchanged() throws {
        let texts = ["/ip6/::", "/ip4/1.2.3.4/tcp/1", "123", "-", "+1", "true", "No", "a b: c", "#x", "say \"hi\"",
                     "back\\slash", "tab\tnew\nline\r", "\u{1}\u{7f}\u{85}", "é/ü", "", "null", "~"]
        for text in texts {
            let rendered = PeersFile.scalar(text)
            let node = try XCTUnwrap(try Yams.compose(yaml: "- \(rendered)\n")?.sequence?.first, rendered)
            XCTAssertEqual(node.scalar?.string, text, rendered)
            if text == "/ip4/1.2.3.4/tcp/1" || text == "/ip6/::" { continue }
            XCTAssertTrue(rendered.hasPrefix("\"") || text == "é/ü" || text == "a b: c", rendered)
        }
        XCTAssertEqual(PeersFile.scalar("/ip6/::"), "\"/ip6/::\"")
        XCTAssertEqual(PeersFile.scalar("/ip6/::1/tcp/1"), "/ip6/::1/tcp/1")
    }

    func testPeerFromSignedRecord() throws {
        let pair = KeyPair.generate()
        let signed = try StoreFixtures.signed(pair, seq: 3)
        let peer = try PeersFile.Peer(record: signed)
        XCTAssertEqual(peer.publicKey, pair.publicKey)
        XCTAssertEqual(peer.addresses, [try Multiaddr("/ip4/192.0.2.4/tcp/4001"), try Multiaddr("/ip6/2001:db8::1/tcp/4001")])

        XCTAssertThrowsError(try PeersFile.Peer(record: SignedPeerRecord(record: [0xff], signature: [])))
        let badAddress = PeerRecord(publicKey: pair.publicKey.bytes, seq: 1, addresses: [[0xff, 0xff]], networkID: "n", expiresAt: 1)
        XCTAssertThrowsError(try PeersFile.Peer(record: SignedPeerRecord(record: badAddress.encoded(), signature: []))) {
            guard case WireError.badAddress(index: 0, _) = $0 else { return XCTFail("\($0)") }
        }
    }

    // MARK: - Errors

    private func entry(_ body: String) -> String { "peers:\n  - public_key: \(keyA)\n    addresses: [/ip4/192.0.2.1/tcp/1]\n  - \(body)\n" }

    private func assertError(_ text: String, _ expected: PeersFileError, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let peers = try PeersFile.parse(text)
            XCTFail("parsed \(peers)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
    }

    private func assertFieldError(_ text: String, index: Int, field: String, reasonContains: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        do {
            let peers = try PeersFile.parse(text)
            XCTFail("parsed \(peers)", file: file, line: line)
        } catch {
            guard case let .invalidField(gotIndex, gotField, reason) = error else {
                return XCTFail("\(error)", file: file, line: line)
            }
            XCTAssertEqual(gotIndex, index, file: file, line: line)
            XCTAssertEqual(gotField, field, file: file, line: line)
            XCTAssertTrue(reason.contains(reasonContains), reason, file: file, line: line)
            XCTAssertTrue(error.description.contains("peers[\(index)]"), error.description, file: file, line: line)
        }
    }

    func testSyntaxError() {
        do {
            _ = try PeersFile.parse("peers: [\n  - x\n")
            XCTFail("parsed")
        } catch {
            guard case .syntax(let message) = error else { return XCTFail("\(error)") }
            XCTAssertFalse(message.isEmpty)
            XCTAssertTrue(error.description.contains("not valid YAML"))
        }
    }

    func testDocumentShapeErrors() {
        assertError("- a\n- b\n", .notPeersDocument("the top level is not a mapping"))
        assertError("members: []\n", .notPeersDocument("no `peers` key"))
        assertError("peers: {a: b}\n", .notPeersDocument("`peers` is not a list"))
        assertError("peers: text\n", .notPeersDocument("`peers` is not a list"))
        XCTAssertEqual(PeersFileError.notPeersDocument("x").description, "not a peers file: x")
    }

    func testEntryErrors() {
        assertFieldError(entry("just text"), index: 1, field: "", reasonContains: "not a mapping")
        assertError(entry("addresses: [/ip4/192.0.2.1/tcp/1]"), .missingField(index: 1, field: "public_key"))
        assertError(entry("public_key:\n    addresses: [/ip4/192.0.2.1/tcp/1]"), .missingField(index: 1, field: "public_key"))
        assertFieldError(entry("public_key: [a]\n    addresses: [/ip4/192.0.2.1/tcp/1]"), index: 1, field: "public_key",
                         reasonContains: "not a text value")
        assertFieldError(entry("public_key: not*base64\n    addresses: [/ip4/192.0.2.1/tcp/1]"), index: 1, field: "public_key",
                         reasonContains: "base64")
        // 32 zero bytes: the right length, but a small-order point.
        assertFieldError(entry("public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n    addresses: [/ip4/192.0.2.1/tcp/1]"),
                         index: 1, field: "public_key", reasonContains: "point")
        assertFieldError(entry("public_key: AAAA\n    addresses: [/ip4/192.0.2.1/tcp/1]"), index: 1, field: "public_key",
                         reasonContains: "3 bytes")
        assertError(entry("public_key: \(keyB)"), .missingField(index: 1, field: "addresses"))
        assertError(entry("public_key: \(keyB)\n    addresses: ~"), .missingField(index: 1, field: "addresses"))
        assertFieldError(entry("public_key: \(keyB)\n    addresses: /ip4/192.0.2.1/tcp/1"), index: 1, field: "addresses",
                         reasonContains: "not a list")
        assertFieldError(entry("public_key: \(keyB)\n    addresses: []"), index: 1, field: "addresses",
                         reasonContains: "0 addresses, expected 1 to 10")
        let eleven = (1...11).map { "/ip4/192.0.2.\($0)/tcp/1" }.joined(separator: ", ")
        assertFieldError(entry("public_key: \(keyB)\n    addresses: [\(eleven)]"), index: 1, field: "addresses",
                         reasonContains: "11 addresses")
        assertFieldError(entry("public_key: \(keyB)\n    addresses: [/ip4/192.0.2.1/tcp/1, /ip4/999.0.0.1/tcp/1]"),
                         index: 1, field: "addresses[1]", reasonContains: "999")
        assertFieldError(entry("public_key: \(keyB)\n    addresses: [/ip4/192.0.2.1/tcp/1, [nested]]"),
                         index: 1, field: "addresses[1]", reasonContains: "not a text value")
        assertFieldError(entry("public_key: \(keyB)\n    addresses: [/ip4/192.0.2.1/tcp/1, /ip4/192.0.2.1/tcp/1]"),
                         index: 1, field: "addresses[1]", reasonContains: "same address as addresses[0]")
        XCTAssertEqual(PeersFileError.missingField(index: 4, field: "addresses").description, "peers[4]: missing addresses")
    }

    func testDuplicateKey() {
        assertError(entry("public_key: \(keyA)\n    addresses: [/ip4/192.0.2.9/tcp/1]"), .duplicateKey(index: 1, firstIndex: 0))
        XCTAssertEqual(PeersFileError.duplicateKey(index: 1, firstIndex: 0).description, "peers[1]: same public_key as peers[0]")
    }

    func testTenAddressesAreAccepted() throws {
        let ten = (1...10).map { "/ip4/192.0.2.\($0)/tcp/1" }.joined(separator: ", ")
        let peers = try PeersFile.parse("peers:\n  - public_key: \(keyA)\n    addresses: [\(ten)]\n")
        XCTAssertEqual(peers.first?.addresses.count, 10)
    }
}
