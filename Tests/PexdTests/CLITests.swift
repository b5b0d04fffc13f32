import Foundation
import XCTest

/// Runs the built `pexd` binary as a user or a script would, and checks its output against
/// published vectors (libp2p peer IDs, multiformats multiaddrs, Bitcoin Core's address groups).
final class CLITests: XCTestCase {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// The `pexd` built next to this test bundle.
    static let binary: URL = {
        var dir = Bundle.main.bundleURL
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("pexd")
    }()

    func pexd(_ arguments: String...) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func testIdConvertsBothWaysWithLibp2pVectors() throws {
        // libp2p/specs peer-ids/peer-ids.md: Ed25519 public key protobuf 080112201ed1e8fa…,
        // whose peer ID go-libp2p prints as 12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq.
        let peerID = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
        let key = "HtHo+uLEoUS4vo/UtHvz07NLhxw8rPYBDw5C1HT84n4="
        for input in [peerID, key] {
            let result = try pexd("id", input, "--json")
            XCTAssertEqual(result.status, 0, result.stderr)
            let object = try json(result.stdout)
            XCTAssertEqual(object["peer_id"] as? String, peerID)
            XCTAssertEqual(object["public_key"] as? String, key)
            XCTAssertEqual(object["valid"] as? Bool, true)
        }
    }

    func testIdRejectsInvalidInputWithExitCode2() throws {
        for input in ["not-a-key", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "AAAA"] {
            let result = try pexd("id", input, "--json")
            XCTAssertEqual(result.status, 2, input)
            XCTAssertTrue(result.stderr.contains("error:"), result.stderr)
            XCTAssertEqual(try json(result.stdout)["valid"] as? Bool, false)
        }
    }

    func testAddrMatchesMultiformatsAndBitcoinCore() throws {
        let result = try pexd(
            "addr", "--json", "/ip4/127.0.0.1/udp/1234", "/ip4/1.2.3.4/tcp/8333", "/ip6/2001:470:abcd:9999::1/tcp/1",
            "/ip6/::FFFF:1.2.3.4/tcp/1", "/ip4/10.0.0.1/tcp/1", "/dns4/example.com/tcp/443", "/ip4/1.2.3.4/tcp/99999")
        XCTAssertEqual(result.status, 2, "one input is invalid")
        let objects = try result.lines.map(json)
        XCTAssertEqual(objects.count, 7)
        // multiformats/go-multiaddr TestStringToBytes: /ip4/127.0.0.1/udp/1234 ↔ 047f000001910204d2.
        XCTAssertEqual(objects[0]["hex"] as? String, "047f000001910204d2")
        XCTAssertEqual(objects[0]["routable"] as? Bool, false)
        XCTAssertEqual(objects[0]["netgroup"] as? String, "00")
        XCTAssertEqual(objects[0]["dialable"] as? Bool, false, "udp without quic-v1")
        // Bitcoin Core netbase_tests getgroup: 1.2.3.4 → {NET_IPV4, 1, 2}.
        XCTAssertEqual(objects[1]["netgroup"] as? String, "010102")
        XCTAssertEqual(objects[1]["routable"] as? Bool, true)
        XCTAssertEqual(objects[1]["hex"] as? String, "040102030406208d")
        // Hurricane Electric /36: {NET_IPV6, 0x20, 0x01, 0x04, 0x70, 0xaf}.
        XCTAssertEqual(objects[2]["netgroup"] as? String, "0220010470af")
        // Mapped IPv4 is grouped as IPv4, and the text is canonical (lowercase).
        XCTAssertEqual(objects[3]["netgroup"] as? String, "010102")
        XCTAssertEqual(objects[3]["text"] as? String, "/ip6/::ffff:1.2.3.4/tcp/1")
        XCTAssertEqual(objects[4]["routable"] as? Bool, false)
        XCTAssertTrue(objects[5]["routable"] is NSNull, "DNS names are classified once resolved")
        XCTAssertEqual(objects[6]["valid"] as? Bool, false)
        XCTAssertNotNil(objects[6]["error"] as? String)
        XCTAssertEqual(objects[6]["input"] as? String, "/ip4/1.2.3.4/tcp/99999")
    }

    func testKeygenWritesAKeyFileThatIdReads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pexd-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("node.key").path
        let made = try pexd("keygen", "--out", path, "--json")
        XCTAssertEqual(made.status, 0, made.stderr)
        let generated = try json(made.stdout)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let secret = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(Data(base64Encoded: secret)?.count, 64, "the original project's key format")
        let again = try pexd("keygen", "--out", path)
        XCTAssertEqual(again.status, 2, "refuses to overwrite without --force")
        let id = try pexd("id", try XCTUnwrap(generated["public_key"] as? String), "--json")
        XCTAssertEqual(try json(id.stdout)["peer_id"] as? String, generated["peer_id"] as? String)
    }

    func testDecodePrintsFramesReadably() throws {
        // Ping{nonce: 1} framed: length 4, Frame field 7 (len 2), Ping field 1 = 1.
        let ping = try pexd("decode", "--hex", "04 3a 02 08 01")
        XCTAssertEqual(ping.status, 0, ping.stderr)
        XCTAssertEqual(ping.lines, ["frame 1 (4 bytes): ping", "  nonce: 1"])
        let truncated = try pexd("decode", "--hex", "05 3a 02 08 01")
        XCTAssertEqual(truncated.status, 2)
        XCTAssertTrue(truncated.stderr.contains("truncated"), truncated.stderr)
        let oversize = try pexd("decode", "--hex", "ffffffff0f")
        XCTAssertEqual(oversize.status, 2)
        XCTAssertTrue(oversize.stderr.contains("exceeds the limit"), oversize.stderr)
    }
}
