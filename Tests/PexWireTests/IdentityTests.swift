import XCTest

@testable import PexWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

private func assertThrows(
    _ expected: WireError, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected \(expected), nothing thrown", file: file, line: line)
    } catch {
        XCTAssertEqual(error as? WireError, expected, file: file, line: line)
    }
}

private func isInvalidPublicKey(_ body: () throws -> Void) -> Bool {
    do {
        try body()
        return false
    } catch {
        if case .invalidPublicKey = error as? WireError { return true }
        return false
    }
}

/// RFC 8032 §7.1 test vectors (https://www.rfc-editor.org/rfc/rfc8032#section-7.1):
/// SECRET KEY (the 32-byte seed), PUBLIC KEY, MESSAGE, SIGNATURE.
private struct RFC8032Vector {
    let name: String
    let seed: String
    let publicKey: String
    let message: String
    let signature: String
}

private let rfc8032Vectors: [RFC8032Vector] = [
    RFC8032Vector(
        name: "TEST 1",
        seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        message: "",
        signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ),
    RFC8032Vector(
        name: "TEST 2",
        seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        message: "72",
        signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    ),
    RFC8032Vector(
        name: "TEST 3",
        seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        message: "af82",
        signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
    ),
    RFC8032Vector(
        name: "TEST 1024",
        seed: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        publicKey: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        message: """
            08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1\
            e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d\
            658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a\
            7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e\
            06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10\
            3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1\
            85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d\
            502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270\
            88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b\
            eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba\
            b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b\
            e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7\
            51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d\
            cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df\
            f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7\
            984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4\
            88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09\
            43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f\
            b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161\
            0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d\
            b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca\
            c60c905c15fc910840b94c00a0b9d0
            """,
        signature: "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"
    ),
    RFC8032Vector(
        name: "TEST SHA(abc)",
        seed: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
    ),
]

final class IdentityTests: XCTestCase {
    // MARK: RFC 8032

    func testRFC8032VectorsSignAndVerifyByteExact() throws {
        for vector in rfc8032Vectors {
            let keyPair = try KeyPair(seed: hex(vector.seed))
            let message = hex(vector.message)
            let signature = hex(vector.signature)
            XCTAssertEqual(keyPair.publicKey.bytes, hex(vector.publicKey), vector.name)
            XCTAssertEqual(keyPair.signRaw(message), signature, vector.name)
            let publicKey = try PublicKey(bytes: hex(vector.publicKey))
            XCTAssertTrue(publicKey.verifyRaw(signature: signature, message: message), vector.name)

            var flippedSignature = signature
            flippedSignature[5] ^= 0x01
            XCTAssertFalse(publicKey.verifyRaw(signature: flippedSignature, message: message), vector.name)
            XCTAssertFalse(publicKey.verifyRaw(signature: signature, message: message + [0]), vector.name)
        }
        XCTAssertEqual(hex(rfc8032Vectors[3].message).count, 1023)
    }

    func testSecretKeyLayoutIsSeedFollowedByPublicKey() throws {
        for vector in rfc8032Vectors {
            let keyPair = try KeyPair(seed: hex(vector.seed))
            XCTAssertEqual(try Base64.decode(keyPair.base64SecretKey), hex(vector.seed) + hex(vector.publicKey))
        }
    }

    func testGoPrivateKeyFormatOfTheZeroSeed() throws {
        // go-libp2p p2p/http/auth/auth_test.go (TestWalkthroughInSpec): the libp2p marshalling of
        // crypto.GenerateEd25519Key(zero reader) is 0x08 0x01 0x12 0x40 ‖ Go's ed25519.PrivateKey,
        // which shows Go's 64-byte layout: seed (zeros) ‖ public key.
        let marshalled = hex(
            "0801124000000000000000000000000000000000000000000000000000000000000000003b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
        )
        let goPrivateKey = Array(marshalled.dropFirst(4))
        let keyPair = try KeyPair(seed: [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(keyPair.publicKey.bytes, Array(goPrivateKey[32...]))
        XCTAssertEqual(keyPair.base64SecretKey, Base64.encode(goPrivateKey))
        XCTAssertEqual(
            keyPair.base64SecretKey,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA7aie8zrakLWKjqNAqbw1zZTIVdx3iQ6Y6wEihi1naKQ=="
        )
        let reloaded = try KeyPair(secretKey: goPrivateKey)
        XCTAssertEqual(reloaded.publicKey, keyPair.publicKey)
    }

    // MARK: Public keys

    func testPublicKeyAcceptsValidKeysAndRoundTripsBase64() throws {
        let key = try PublicKey(bytes: hex(rfc8032Vectors[0].publicKey))
        XCTAssertEqual(key.base64, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        XCTAssertEqual(key.description, key.base64)
        XCTAssertEqual(try PublicKey(base64: key.base64), key)
        for _ in 0..<20 {
            let generated = KeyPair.generate().publicKey
            XCTAssertEqual(try PublicKey(bytes: generated.bytes), generated)
        }
    }

    func testPublicKeyRejectsWrongLengths() {
        for length in [0, 1, 31, 33, 64] {
            assertThrows(.invalidPublicKey("\(length) bytes, expected 32")) {
                _ = try PublicKey(bytes: [UInt8](repeating: 9, count: length))
            }
        }
        assertThrows(.invalidPublicKey("31 bytes, expected 32")) {
            _ = try PublicKey(base64: Base64.encode([UInt8](repeating: 9, count: 31)))
        }
    }

    func testPublicKeyRejectsBadBase64() {
        assertThrows(.invalidBase64) { _ = try PublicKey(base64: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo") }
        assertThrows(.invalidBase64) { _ = try PublicKey(base64: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=") }
    }

    func testPublicKeyRejectsSmallOrderPoints() {
        // The eight points of order 1, 2, 4 and 8 in their canonical encodings (y < p), plus
        // the sign-bit variants that decode to them; signatures under any of them can be forged.
        let smallOrder = [
            "0100000000000000000000000000000000000000000000000000000000000000",  // identity (order 1)
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // y = -1 (order 2)
            "0000000000000000000000000000000000000000000000000000000000000000",  // all zero: y = 0 (order 4)
            "0000000000000000000000000000000000000000000000000000000000000080",  // y = 0, other x (order 4)
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  // order 8
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  // order 8
            "0100000000000000000000000000000000000000000000000000000000000080",  // identity, sign bit set
        ]
        for encoding in smallOrder {
            XCTAssertTrue(isInvalidPublicKey { _ = try PublicKey(bytes: hex(encoding)) }, encoding)
        }
    }

    func testPublicKeyRejectsNonCanonicalEncodings() {
        // y = p + k for k = 0...18 (the only 255-bit values ≥ p), with either sign bit:
        // these alias the points with y = k and must not be a second name for them.
        let p: [UInt8] = [0xed] + [UInt8](repeating: 0xff, count: 30) + [0x7f]
        for k in 0...18 {
            var encoding = p
            encoding[0] &+= UInt8(k)
            XCTAssertTrue(isInvalidPublicKey { _ = try PublicKey(bytes: encoding) }, "p + \(k)")
            encoding[31] |= 0x80
            XCTAssertTrue(isInvalidPublicKey { _ = try PublicKey(bytes: encoding) }, "p + \(k), sign bit")
        }
    }

    func testPublicKeyRejectsPointsOffTheCurveAndMixedOrder() {
        // y = 2 has no x on the curve.
        XCTAssertTrue(isInvalidPublicKey {
            _ = try PublicKey(bytes: hex("0200000000000000000000000000000000000000000000000000000000000000"))
        })
        // y = 3 is on the curve but not in the prime-order subgroup.
        XCTAssertTrue(isInvalidPublicKey {
            _ = try PublicKey(bytes: hex("0300000000000000000000000000000000000000000000000000000000000000"))
        })
        // RFC 8032 TEST 1 key plus the order-2 point and plus an order-8 point: valid curve
        // points with a torsion component, which verify differently across implementations.
        XCTAssertTrue(isInvalidPublicKey {
            _ = try PublicKey(bytes: hex("16a567fe7d4ef5482ab4012c369bf8c5f11e8d0c2559dcda50fde59708f8aee5"))
        })
        XCTAssertTrue(isInvalidPublicKey {
            _ = try PublicKey(bytes: hex("9158312a9a8d6e3b34c891d6d61444f8b8211c5117ebad15bdb0bd68b07e0245"))
        })
        assertThrows(.invalidPublicKey("not a canonical encoding of a prime-order curve point")) {
            _ = try PublicKey(bytes: [UInt8](repeating: 0, count: 32))
        }
    }

    // MARK: Key pairs

    func testGeneratedKeysAreDistinctAndUsable() throws {
        let a = KeyPair.generate()
        let b = KeyPair.generate()
        XCTAssertNotEqual(a.publicKey, b.publicKey)
        XCTAssertNotEqual(a.base64SecretKey, b.base64SecretKey)
        let reloaded = try KeyPair(base64SecretKey: a.base64SecretKey)
        XCTAssertEqual(reloaded.publicKey, a.publicKey)
        let signature = a.sign([1, 2, 3], domain: .peerRecord)
        XCTAssertEqual(reloaded.sign([1, 2, 3], domain: .peerRecord), signature)
        XCTAssertTrue(a.publicKey.verify(signature: signature, payload: [1, 2, 3], domain: .peerRecord))
        XCTAssertFalse(b.publicKey.verify(signature: signature, payload: [1, 2, 3], domain: .peerRecord))
    }

    func testSeedMustBe32Bytes() {
        for length in [0, 31, 33, 64] {
            assertThrows(.invalidSecretKey("seed is \(length) bytes, expected 32")) {
                _ = try KeyPair(seed: [UInt8](repeating: 1, count: length))
            }
        }
    }

    func testSecretKeyMustBe64BytesWithMatchingPublicHalf() throws {
        let vector = rfc8032Vectors[1]
        let good = hex(vector.seed) + hex(vector.publicKey)
        XCTAssertEqual(try KeyPair(secretKey: good).publicKey.bytes, hex(vector.publicKey))

        for length in [0, 32, 63, 65, 96] {
            assertThrows(.invalidSecretKey("\(length) bytes, expected 64")) {
                _ = try KeyPair(secretKey: [UInt8](repeating: 1, count: length))
            }
        }
        var wrongHalf = good
        wrongHalf[40] ^= 0x10
        assertThrows(.invalidSecretKey("the public half does not match the seed")) {
            _ = try KeyPair(secretKey: wrongHalf)
        }
        // Another vector's public key spliced onto this seed.
        assertThrows(.invalidSecretKey("the public half does not match the seed")) {
            _ = try KeyPair(secretKey: hex(vector.seed) + hex(rfc8032Vectors[2].publicKey))
        }
    }

    func testBase64SecretKeyErrors() {
        assertThrows(.invalidBase64) { _ = try KeyPair(base64SecretKey: "not base64!") }
        assertThrows(.invalidBase64) { _ = try KeyPair(base64SecretKey: " " + KeyPair.generate().base64SecretKey) }
        // A public key where a secret key belongs.
        assertThrows(.invalidSecretKey("32 bytes, expected 64")) {
            _ = try KeyPair(base64SecretKey: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        }
    }

    func testSecretNeverAppearsInDescriptions() throws {
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[0].seed))
        let secret = keyPair.base64SecretKey
        let seedBase64Prefix = String(secret.prefix(40))
        var dumped = ""
        dump(keyPair, to: &dumped)
        var dumpedSecret = ""
        dump(keyPair.secretKey, to: &dumpedSecret)
        let renderings = [
            "\(keyPair)", String(reflecting: keyPair), dumped,
            "\(keyPair.secretKey)", String(reflecting: keyPair.secretKey), dumpedSecret,
        ]
        for text in renderings {
            XCTAssertFalse(text.contains(seedBase64Prefix), text)
            XCTAssertFalse(text.lowercased().contains("9d61b19d"), text)
        }
        XCTAssertEqual("\(keyPair)", "KeyPair(publicKey: 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=)")
        XCTAssertEqual("\(keyPair.secretKey)", "SecretKey(redacted)")
    }

    // MARK: Base64

    func testBase64RFC4648Vectors() throws {
        // RFC 4648 §10.
        let vectors = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(try Base64.decode(encoded), Array(plain.utf8))
        }
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(try Base64.decode(Base64.encode(all)), all)
        XCTAssertEqual(Base64.encode([0xfb, 0xff, 0xbf]), "+/+/")
    }

    func testBase64RejectsInvalidText() {
        let invalid = [
            "Zg", "Zg=", "Zm9", "Zm9vY",  // length not a multiple of 4
            "Zg=a", "Zm=v", "Z===", "====", "=Zm9", "Zg==Zg==",  // misplaced padding
            "Zh==", "Zm9=",  // non-zero unused bits (non-canonical)
            "Zm9v ", " Zm9v", "Zm9v\n", "Zm 9",  // whitespace
            "-_8=", "Zm9*", "Zé==",  // outside the standard alphabet
        ]
        for text in invalid {
            assertThrows(.invalidBase64) { _ = try Base64.decode(text) }
        }
    }

    // MARK: Signing domains

    func testSignedMessageLayout() throws {
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[2].seed))
        let payload: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
        let signature = keyPair.sign(payload, domain: .auth)
        XCTAssertEqual(signature.count, 64)
        let expectedMessage = Array("pex/v1/auth".utf8) + [0x00] + payload
        XCTAssertEqual(SigningDomain.auth.message(for: payload), expectedMessage)
        XCTAssertEqual(signature, keyPair.signRaw(expectedMessage))
        XCTAssertTrue(keyPair.publicKey.verifyRaw(signature: signature, message: expectedMessage))
        XCTAssertEqual(
            SigningDomain.peerRecord.message(for: []),
            Array("pex/v1/peer-record".utf8) + [0x00]
        )
    }

    func testDomainSeparation() throws {
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[0].seed))
        let key = keyPair.publicKey
        let payload = Array("a peer record".utf8)
        let recordSignature = keyPair.sign(payload, domain: .peerRecord)
        let authSignature = keyPair.sign(payload, domain: .auth)
        XCTAssertNotEqual(recordSignature, authSignature)
        XCTAssertTrue(key.verify(signature: recordSignature, payload: payload, domain: .peerRecord))
        XCTAssertFalse(key.verify(signature: recordSignature, payload: payload, domain: .auth))
        XCTAssertTrue(key.verify(signature: authSignature, payload: payload, domain: .auth))
        XCTAssertFalse(key.verify(signature: authSignature, payload: payload, domain: .peerRecord))
        // A signature over the bare payload is valid under no domain.
        let bare = keyPair.signRaw(payload)
        for domain in SigningDomain.allCases {
            XCTAssertFalse(key.verify(signature: bare, payload: payload, domain: domain))
        }
        // Moving the separator does not produce a valid signature for another split.
        let shifted = keyPair.sign([0x00] + payload, domain: .auth)
        XCTAssertFalse(key.verify(signature: shifted, payload: payload, domain: .auth))
    }

    func testVerifyRejectsWrongLengthSignatures() throws {
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[0].seed))
        let signature = keyPair.sign([7], domain: .peerRecord)
        XCTAssertTrue(keyPair.publicKey.verify(signature: signature, payload: [7], domain: .peerRecord))
        for candidate in [[], Array(signature.dropLast()), signature + [0], signature + signature] {
            XCTAssertFalse(keyPair.publicKey.verify(signature: candidate, payload: [7], domain: .peerRecord))
        }
        XCTAssertFalse(keyPair.publicKey.verify(signature: [UInt8](repeating: 0, count: 64), payload: [7], domain: .peerRecord))
    }

    // MARK: Crypto provider and transcript

    func testSodiumCryptoProvider() throws {
        let crypto = SodiumCrypto()
        // BLAKE2b-256 digests of "" and "abc" (as Python's hashlib.blake2b(digest_size=32)).
        XCTAssertEqual(crypto.hash256([]), hex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"))
        XCTAssertEqual(
            crypto.hash256(Array("abc".utf8)),
            hex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        )
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[1].seed))
        let signature = crypto.sign(payload: [1, 2], domain: .auth, keyPair: keyPair)
        XCTAssertEqual(signature, keyPair.sign([1, 2], domain: .auth))
        XCTAssertTrue(crypto.verify(signature: signature, payload: [1, 2], domain: .auth, publicKey: keyPair.publicKey))
        XCTAssertFalse(crypto.verify(signature: signature, payload: [1, 2], domain: .peerRecord, publicKey: keyPair.publicKey))
        XCTAssertFalse(crypto.verify(signature: signature, payload: [1, 3], domain: .auth, publicKey: keyPair.publicKey))
    }

    func testAuthTranscriptLayout() {
        let crypto = SodiumCrypto()
        let initiatorHello = Array("abc".utf8)
        let responderHello: [UInt8] = []
        let nonce = [UInt8](repeating: 0x5a, count: 32)
        let payload = AuthTranscript.payload(
            role: .responder, initiatorHello: initiatorHello, responderHello: responderHello,
            peerNonce: nonce, crypto: crypto
        )
        XCTAssertEqual(payload.count, 1 + 32 + 32 + 32)
        XCTAssertEqual(payload[0], 2)
        XCTAssertEqual(Array(payload[1..<33]), hex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"))
        XCTAssertEqual(Array(payload[33..<65]), hex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"))
        XCTAssertEqual(Array(payload[65...]), nonce)

        let asInitiator = AuthTranscript.payload(
            role: .initiator, initiatorHello: initiatorHello, responderHello: responderHello,
            peerNonce: nonce, crypto: crypto
        )
        XCTAssertEqual(asInitiator[0], 1)
        XCTAssertEqual(asInitiator[1...], payload[1...])
        // Swapping the Hellos changes the transcript: order matters.
        let swapped = AuthTranscript.payload(
            role: .responder, initiatorHello: responderHello, responderHello: initiatorHello,
            peerNonce: nonce, crypto: crypto
        )
        XCTAssertNotEqual(swapped, payload)
    }

    // MARK: Key files

    private var directory = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/pex-identity-tests-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = try XCTUnwrap(made.map { String(cString: $0) })
    }

    override func tearDownWithError() throws {
        guard !directory.isEmpty else { return }
        if let dir = opendir(directory) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." {
                    let path = directory + "/" + name
                    if rmdir(path) != 0 { _ = unlink(path) }
                }
            }
            closedir(dir)
        }
        rmdir(directory)
    }

    private func writeFile(_ path: String, _ content: [UInt8], mode: mode_t = 0o644) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0)
        _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private func readFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += chunk[..<n]
        }
        return out
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        precondition(stat(path, &info) == 0)
        return info.st_mode & 0o7777
    }

    private func entries() -> [String] {
        var names: [String] = []
        if let dir = opendir(directory) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
        }
        return names.sorted()
    }

    private func assertLoadFails(_ path: String, _ reason: KeyFileError.Reason, line: UInt = #line) {
        do {
            _ = try KeyPair.load(from: path)
            XCTFail("load of \(path) succeeded", line: line)
        } catch {
            XCTAssertEqual(error, KeyFileError(path: path, reason: reason), line: line)
        }
    }

    func testKeyFileRoundTripWithMode0600() throws {
        let keyPair = KeyPair.generate()
        let path = directory + "/node.key"
        let oldMask = umask(0)  // the file must be 0600 whatever the umask
        defer { umask(oldMask) }
        try keyPair.save(to: path)
        XCTAssertEqual(mode(path), 0o600)
        XCTAssertEqual(readFile(path), Array((keyPair.base64SecretKey + "\n").utf8))
        XCTAssertEqual(entries(), ["node.key"], "no temporary file may be left behind")

        let loaded = try KeyPair.load(from: path)
        XCTAssertEqual(loaded.publicKey, keyPair.publicKey)
        XCTAssertEqual(loaded.base64SecretKey, keyPair.base64SecretKey)
    }

    func testSaveReplacesAnExistingFileAndTightensItsMode() throws {
        let path = directory + "/node.key"
        writeFile(path, Array("old content\n".utf8), mode: 0o644)
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[3].seed))
        try keyPair.save(to: path)
        XCTAssertEqual(mode(path), 0o600)
        XCTAssertEqual(try KeyPair.load(from: path).publicKey.bytes, hex(rfc8032Vectors[3].publicKey))
        XCTAssertEqual(entries(), ["node.key"])
    }

    func testSaveWithARelativePath() throws {
        let oldDirectory = getcwd(nil, 0)
        defer {
            if let oldDirectory {
                chdir(oldDirectory)
                free(oldDirectory)
            }
        }
        XCTAssertEqual(chdir(directory), 0)
        let keyPair = KeyPair.generate()
        try keyPair.save(to: "relative.key")
        XCTAssertEqual(try KeyPair.load(from: directory + "/relative.key").publicKey, keyPair.publicKey)
    }

    func testLoadToleratesSurroundingWhitespace() throws {
        let keyPair = KeyPair.generate()
        let path = directory + "/spaced.key"
        writeFile(path, Array((" \t\r\n" + keyPair.base64SecretKey + "\r\n\n  \u{0B}\u{0C}").utf8))
        XCTAssertEqual(try KeyPair.load(from: path).publicKey, keyPair.publicKey)
        writeFile(path, Array(keyPair.base64SecretKey.utf8))  // no trailing newline
        XCTAssertEqual(try KeyPair.load(from: path).publicKey, keyPair.publicKey)
    }

    func testLoadRejectsBadFiles() throws {
        let keyPair = KeyPair.generate()
        let path = directory + "/bad.key"

        assertLoadFails(directory + "/missing.key", .system(call: "open", errno: ENOENT))
        assertLoadFails(directory, .system(call: "read", errno: EISDIR))

        writeFile(path, [])
        assertLoadFails(path, .invalidKey(.invalidSecretKey("0 bytes, expected 64")))

        writeFile(path, Array("this is not a key\n".utf8))
        assertLoadFails(path, .invalidKey(.invalidBase64))

        // Whitespace inside the key is not tolerated.
        let text = keyPair.base64SecretKey
        writeFile(path, Array((String(text.prefix(40)) + "\n" + String(text.dropFirst(40))).utf8))
        assertLoadFails(path, .invalidKey(.invalidBase64))

        writeFile(path, Array((keyPair.publicKey.base64 + "\n").utf8))
        assertLoadFails(path, .invalidKey(.invalidSecretKey("32 bytes, expected 64")))

        var raw = try Base64.decode(text)
        raw[63] ^= 1
        writeFile(path, Array((Base64.encode(raw) + "\n").utf8))
        assertLoadFails(path, .invalidKey(.invalidSecretKey("the public half does not match the seed")))

        writeFile(path, [UInt8](repeating: 0x20, count: KeyPair.maxKeyFileSize + 1))
        assertLoadFails(path, .tooLarge(limit: KeyPair.maxKeyFileSize))
        writeFile(path, Array(text.utf8) + [UInt8](repeating: 0x0a, count: KeyPair.maxKeyFileSize - text.utf8.count))
        XCTAssertEqual(try KeyPair.load(from: path).publicKey, keyPair.publicKey, "exactly at the limit")
    }

    func testSaveFailuresLeaveNothingBehind() throws {
        let keyPair = KeyPair.generate()
        do {
            try keyPair.save(to: directory + "/no/such/dir/node.key")
            XCTFail("save into a missing directory succeeded")
        } catch {
            XCTAssertEqual(error.reason, .system(call: "open", errno: ENOENT))
            XCTAssertEqual(error.path, directory + "/no/such/dir/node.key")
        }
        // The target is a directory: rename(2) fails and the temporary file is removed.
        let target = directory + "/occupied"
        XCTAssertEqual(mkdir(target, 0o700), 0)
        do {
            try keyPair.save(to: target)
            XCTFail("save over a directory succeeded")
        } catch {
            XCTAssertEqual(error.reason, .system(call: "rename", errno: EISDIR))
        }
        XCTAssertEqual(entries(), ["occupied"])
    }

    func testKeyFileErrorDescriptions() {
        XCTAssertEqual(
            KeyFileError(path: "/k", reason: .system(call: "open", errno: ENOENT)).description,
            "key file /k: open: No such file or directory"
        )
        XCTAssertEqual(KeyFileError(path: "/k", reason: .tooLarge(limit: 4096)).description, "key file /k: larger than 4096 bytes")
        XCTAssertEqual(KeyFileError(path: "/k", reason: .invalidKey(.invalidBase64)).description, "key file /k: invalid base64")
    }

    func testConcurrentUseFromManyTasks() async throws {
        let keyPair = try KeyPair(seed: hex(rfc8032Vectors[4].seed))
        let expected = keyPair.sign([42], domain: .auth)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let signature = keyPair.sign([42], domain: .auth)
                    return signature == expected
                        && keyPair.publicKey.verify(signature: signature, payload: [42], domain: .auth)
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(results, Array(repeating: true, count: 16))
    }
}
