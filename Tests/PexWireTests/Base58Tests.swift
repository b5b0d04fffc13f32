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

final class Base58Tests: XCTestCase {
    /// Bitcoin Core src/test/data/base58_encode_decode.json (hex ↔ base58), every case.
    static let bitcoinVectors: [(String, String)] = [
        ("", ""),
        ("61", "2g"),
        ("626262", "a3gV"),
        ("636363", "aPEr"),
        ("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"),
        ("00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
        ("516b6fcd0f", "ABnLTmg"),
        ("bf4f89001e670274dd", "3SEo3LWLoPntC"),
        ("572e4794", "3EFU7m"),
        ("ecac89cad93923c02321", "EJDM8drfXA6uyA"),
        ("10c8511e", "Rt5zm"),
        ("00000000000000000000", "1111111111"),
        (
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
            "1111111111111111111111111111111111111111"
        ),
        (
            "00000000000000000000000000000000000000000000000000000000000000000000000000000001",
            "1111111111111111111111111111111111111112"
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ec39d04c37e71e5d591881f6",
            "111111111111111111111111111111111111111111111111111111111111111111111111111111111111115TYzLYH1udmLdzCLM"
        ),
        (
            "000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
            "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        ),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
            "1cWB5HCBdLjAuqGGReWE3R3CguuwSjw6RHn39s2yuDRTS5NsBgNiFpWgAnEx6VQi8csexkgYw3mdYrMHr8x9i7aEwP8kZ7vccXWqKDvGv3u1GxFKPuAkn8JCPPGDMf3vMMnbzm6Nh9zh1gcNsMvH3ZNLmP5fSG6DGbbi2tuwMWPthr4boWwCxf7ewSgNQeacyozhKDDQQ1qL5fQFUW52QKUZDZ5fw3KXNQJMcNTcaB723LchjeKun7MuGW5qyCBZYzA1KjofN1gYBV3NqyhQJ3Ns746GNuf9N2pQPmHz4xpnSrrfCvy6TVVz5d4PdrjeshsWQwpZsZGzvbdAdN8MKV5QsBDY"
        ),
        ("271F359E", "zzzzy"),
        ("271F359F", "zzzzz"),
        ("271F35A0", "211111"),
        ("271F35A1", "211112"),
    ]

    func testBitcoinEncodeVectors() {
        for (bytes, text) in Self.bitcoinVectors {
            XCTAssertEqual(Base58.encode(hex(bytes)), text, bytes)
        }
    }

    func testBitcoinDecodeVectors() {
        for (bytes, text) in Self.bitcoinVectors {
            XCTAssertEqual(Base58.decode(text), hex(bytes), text)
        }
    }

    func testCharactersOutsideTheAlphabetAreRejected() {
        // 0, O, I and l are left out of base58btc because they look alike; whitespace,
        // punctuation and non-ASCII are not part of it either (Bitcoin Core's decoder skips
        // surrounding spaces, this one is strict).
        for text in ["0", "O", "I", "l", "2g0", "a3gV O", " 2g", "2g ", "2g\n", "+", "-", "2é", "\u{0}"] {
            XCTAssertNil(Base58.decode(text), text.debugDescription)
        }
    }

    func testLeadingZerosRoundTrip() {
        for zeros in 0...5 {
            for tail: [UInt8] in [[], [1], [0xff, 0x00], [0x00, 0x01]] {
                let bytes = [UInt8](repeating: 0, count: zeros) + tail
                XCTAssertEqual(Base58.decode(Base58.encode(bytes)), bytes, "\(bytes)")
            }
        }
    }

    func testRandomRoundTrips() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<80 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            XCTAssertEqual(Base58.decode(Base58.encode(bytes)), bytes)
        }
    }
}
