import XCTest

@testable import PexWire

private func hex(_ text: String) -> [UInt8] {
    let chars = Array(text.utf8)
    precondition(chars.count % 2 == 0, "odd-length hex literal in a test")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit in a test literal")
        }
    }
    return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
}

/// The `.invalidPeerID` detail thrown by `body`, or nil when it throws nothing or another error.
private func peerIDError(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        if case let .invalidPeerID(detail) = error as? WireError { return detail }
        return nil
    }
}

/// base64url (RFC 4648 §5) through the standard decoder, for the go-libp2p signature vectors.
private func base64URL(_ text: String) throws -> [UInt8] {
    try Base64.decode(String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }))
}

final class PeerIDTests: XCTestCase {
    // libp2p/specs peer-ids/peer-ids.md, "Test vectors": the Ed25519 private key and public key
    // as libp2p PublicKey/PrivateKey protobufs (hex).
    let specPrivateKeyProtobuf = hex(
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
    )
    let specPublicKeyProtobuf = hex("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")

    func testSpecEd25519KeyVectorAndItsPeerID() throws {
        // The private key's Data is the 64-byte seed ‖ public key; the pair must be consistent.
        XCTAssertEqual(Array(specPrivateKeyProtobuf.prefix(4)), [0x08, 0x01, 0x12, 0x40])
        let keyPair = try KeyPair(secretKey: Array(specPrivateKeyProtobuf.dropFirst(4)))
        XCTAssertEqual(keyPair.publicKey.bytes, Array(specPublicKeyProtobuf.dropFirst(4)))

        let peerID = keyPair.publicKey.peerID
        // Identity multihash (code 0x00, length 0x24) of the PublicKey protobuf.
        XCTAssertEqual(peerID.bytes, [0x00, 0x24] + specPublicKeyProtobuf)
        // go-libp2p p2p/http/auth/auth_test.go (TestWalkthroughInSpec) derives this peer ID from
        // the same spec private key.
        XCTAssertEqual(peerID.description, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")
        XCTAssertEqual(peerID.base58, peerID.description)
        XCTAssertEqual(try PeerID(text: "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"), peerID)
        XCTAssertEqual(try PeerID(multihash: peerID.bytes).publicKey, keyPair.publicKey)
    }

    func testGoLibp2pWalkthroughSignatures() throws {
        // go-libp2p p2p/http/auth/auth_test.go (TestWalkthroughInSpec): Ed25519 signatures by the
        // spec key ("client") and by the all-zero seed ("server") over length-prefixed
        // parameter lists. They check our signing against Go's byte for byte.
        let client = try KeyPair(secretKey: Array(specPrivateKeyProtobuf.dropFirst(4)))
        let clientParts = ["challenge-client=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "hostname=\"example.com\""]
        XCTAssertEqual(
            client.signRaw(dataToSign(clientParts)),
            try base64URL("F5OBYbbMXoIVJNWrW0UANi7rrbj4GCB6kcEceQjajLTMvC-_jpBF9MFlxiaNYXOEiPQqeo_S56YUSNinwl0ZCQ==")
        )

        let server = try KeyPair(seed: [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(server.publicKey.peerID.description, "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
        let serverParts = [
            "challenge-server=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=",
            "client=12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
            "hostname=\"example.com\"",
        ]
        let signature = try base64URL(
            "btLFqW200aDTQqpkKetJJje7V-iDknXygFqPsfiegNsboXeYDiQ6Rqcpezz1wfr8j9h83QkN9z78cAWzKzV_AQ=="
        )
        XCTAssertEqual(server.signRaw(dataToSign(serverParts)), signature)
        XCTAssertTrue(server.publicKey.verifyRaw(signature: signature, message: dataToSign(serverParts)))
    }

    /// go-libp2p's genDataToSign: the scheme name, then each part prefixed by its varint length.
    private func dataToSign(_ parts: [String]) -> [UInt8] {
        var out = Array("libp2p-PeerID".utf8)
        for part in parts {
            Varint.append(UInt64(part.utf8.count), to: &out)
            out += Array(part.utf8)
        }
        return out
    }

    func testBase58AndCIDFormsNameTheSamePeer() throws {
        // multiformats/go-multiaddr multiaddr_test.go lists both forms of this peer as valid
        // /p2p/ components.
        let base58 = "12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV"
        let cid = "bafzaajaiaejcalj543iwv2d7pkjt7ykvefrkfu7qjfi6sduakhso4lay6abn2d5u"
        let fromBase58 = try PeerID(text: base58)
        let fromCID = try PeerID(text: cid)
        XCTAssertEqual(fromBase58, fromCID)
        XCTAssertEqual(fromBase58.description, base58)
        XCTAssertEqual(fromBase58.cid, cid)
        XCTAssertEqual(
            fromBase58.publicKey.bytes,
            hex("2d3de6d16ae87f7a933fe1552162a2d3f04951e90e8051e4ee2c18f002dd0fb4")
        )
    }

    func testSpecExamplePeerIDs() throws {
        // libp2p/specs peer-ids/peer-ids.md, "String representation" examples.
        let ed25519 = try PeerID(text: "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
        XCTAssertEqual(ed25519.description, "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
        XCTAssertEqual(try PeerID(text: ed25519.cid), ed25519)
        XCTAssertTrue(ed25519.cid.hasPrefix("bafzaajaiaejc"))

        // The sha256 examples (the same peer in both forms) hash their key: nothing to extract.
        for hashed in [
            "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
            "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
        ] {
            let detail = peerIDError { _ = try PeerID(text: hashed) }
            XCTAssertEqual(detail, "a sha2-256 peer ID does not embed its public key", hashed)
        }
    }

    func testOtherKeyTypesAreNotEd25519() {
        // libp2p/specs secp256k1 public key vector (37 bytes, so identity-hashed as well):
        // "16Uiu2…" peer IDs parse as multihashes but are not Ed25519.
        let secp256k1 = hex("08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99")
        let multihash = [0x00, UInt8(secp256k1.count)] + secp256k1
        XCTAssertEqual(peerIDError { _ = try PeerID(multihash: multihash) }, "not an Ed25519 key")
        XCTAssertEqual(
            peerIDError { _ = try PeerID(text: Base58.encode(multihash)) },
            "not an Ed25519 key"
        )
        XCTAssertTrue(Base58.encode(multihash).hasPrefix("16Uiu2"))
    }

    func testMalformedMultihashes() {
        let key = hex("2d3de6d16ae87f7a933fe1552162a2d3f04951e90e8051e4ee2c18f002dd0fb4")
        let good = PeerID.header + key
        XCTAssertNoThrow(try PeerID(multihash: good))

        let cases: [([UInt8], String)] = [
            ([], "malformed multihash code"),
            ([0x80], "malformed multihash code"),
            ([0x80, 0x00] + good.dropFirst(), "malformed multihash code"),  // non-minimal varint
            ([0x00], "malformed multihash length"),
            ([0x00, 0xa4], "malformed multihash length"),
            (Array(good.dropLast()), "multihash announces 36 digest bytes, has 35"),
            (good + [0], "multihash announces 36 digest bytes, has 37"),
            ([0x13, 0x02, 0xaa, 0xbb], "unsupported multihash code 0x13"),
            ([0x12, 0x20] + [UInt8](repeating: 1, count: 32), "a sha2-256 peer ID does not embed its public key"),
            ([0x00, 0x00], "malformed libp2p public key"),
            ([0x00, 0x02, 0x0a, 0x01], "malformed libp2p public key"),
            ([0x00, 0x02, 0x08, 0x00], "not an Ed25519 key"),  // RSA
            ([0x00, 0x02, 0x08, 0x03], "not an Ed25519 key"),  // ECDSA
            ([0x00, 0x03, 0x08, 0x01, 0x12], "malformed libp2p Ed25519 public key"),
            ([0x00, 0x24, 0x08, 0x01, 0x1a, 0x20] + key, "malformed libp2p Ed25519 public key"),
            ([0x00, 0x24, 0x08, 0x01, 0x12, 0x21] + key, "malformed libp2p Ed25519 public key"),
            (
                PeerID.header + [1] + [UInt8](repeating: 0, count: 31),
                "embedded key: invalid public key: not a canonical encoding of a prime-order curve point"
            ),
        ]
        for (bytes, expected) in cases {
            XCTAssertEqual(peerIDError { _ = try PeerID(multihash: bytes) }, expected, "\(bytes)")
        }
    }

    func testMalformedText() throws {
        let valid = "12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV"
        let truncated = Base58.encode(Array(try PeerID(text: valid).bytes.dropLast(2)))
        let cid = "bafzaajaiaejcalj543iwv2d7pkjt7ykvefrkfu7qjfi6sduakhso4lay6abn2d5u"
        let cases: [(String, String)] = [
            ("", "empty"),
            (String(repeating: "1", count: 129), "129 characters is too long"),
            ("12D3KooW0ryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV", "invalid base58btc character"),
            ("12D3KooWlryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV", "invalid base58btc character"),
            (valid + " ", "invalid base58btc character"),
            (" " + valid, "neither base58btc (\"1…\", \"Qm…\") nor a base32 CID (\"b…\")"),
            ("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA", "neither base58btc (\"1…\", \"Qm…\") nor a base32 CID (\"b…\")"),
            ("k51qzi5uqu5dhb6l8spkdx7yxafegfkee5by8h7lmjh2ehc2sgg34z7c15vzqs", "neither base58btc (\"1…\", \"Qm…\") nor a base32 CID (\"b…\")"),
            (cid.uppercased(), "neither base58btc (\"1…\", \"Qm…\") nor a base32 CID (\"b…\")"),
            ("1", "malformed multihash length"),
            (truncated, "multihash announces 36 digest bytes, has 34"),
            ("b" + cid.dropFirst().uppercased(), "invalid base32 CID"),
            (cid + "=", "invalid base32 CID"),
            (cid + "a", "invalid base32 CID"),  // a length no byte string encodes to
            ("bafzab", "invalid base32 CID"),  // "bafzaa" with a non-zero unused bit
            ("b", "not a CIDv1"),
            ("b" + Base32.encode([0x00, 0x72]), "not a CIDv1"),
            ("b" + Base32.encode([0x01]), "malformed CID codec"),
            // A dag-pb (0x70) CIDv1 from the IPFS docs: content, not a peer.
            ("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "CID codec 0x70 is not libp2p-key"),
            ("b" + Base32.encode([0x01, 0x72]), "malformed multihash code"),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(peerIDError { _ = try PeerID(text: text) }, expected, text)
        }
    }

    func testBase32() {
        // RFC 4648 §10 vectors, lower case and unpadded as multibase "b" writes them.
        let vectors = [
            ("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi"),
        ]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base32.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(Base32.decode(Array(encoded.utf8)[...]), Array(plain.utf8))
        }
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(Base32.decode(Array(Base32.encode(all).utf8)[...]), all)
        for bad in ["m", "mzx", "mzxw6y", "mz", "MZXQ", "mzxq=", "mz1q", "mzxr"] {
            XCTAssertNil(Base32.decode(Array(bad.utf8)[...]), bad)
        }
    }

    func testPeerIDsOfDistinctKeysDiffer() {
        let a = KeyPair.generate().publicKey.peerID
        let b = KeyPair.generate().publicKey.peerID
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(Set([a, b, a]).count, 2)
        XCTAssertTrue(a.description.hasPrefix("12D3KooW"))
        XCTAssertEqual(a.description.count, 52)
        XCTAssertEqual(try PeerID(text: a.cid), a)
    }
}
