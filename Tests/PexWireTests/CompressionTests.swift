import XCTest
@testable import PexWire

final class CompressionTests: XCTestCase {
    private func deflated(_ bytes: [UInt8]) throws -> [UInt8] {
        try XCTUnwrap(Deflate.compress(bytes))
    }

    func testDeflateIsRawWithoutHeader() throws {
        // The raw deflate stream of nothing is one empty final fixed-Huffman block: 03 00.
        // A zlib stream would start with 78 and end with an Adler-32.
        XCTAssertEqual(try deflated([]), [0x03, 0x00])
        XCTAssertEqual(try Deflate.decompress([0x03, 0x00], expectedSize: 0), [])
        // A stored block written by hand (RFC 1951 §3.2.4): final, type 00, LEN 3, NLEN ~3.
        XCTAssertEqual(try Deflate.decompress([0x01, 0x03, 0x00, 0xfc, 0xff, 0x61, 0x62, 0x63], expectedSize: 3), Array("abc".utf8))
    }

    func testRoundTripOfVariousData() throws {
        var rng = CodecTestRNG(seed: 3)
        let samples: [[UInt8]] = [
            [1],
            Array("pex peer exchange ".utf8) + Array(repeating: 0x20, count: 5000),
            CodecFixtures.randomBytes(10_000, &rng),
            (0..<100_000).map { UInt8(truncatingIfNeeded: $0 / 7) },
        ]
        for sample in samples {
            let data = try deflated(sample)
            XCTAssertEqual(try Deflate.decompress(data, expectedSize: sample.count), sample)
        }
        XCTAssertLessThan(try deflated(samples[3]).count, samples[3].count / 10)
    }

    func testDecompressionBombIsStoppedAtTheAnnouncedSize() throws {
        // 10 MiB of zeros deflate to about 10 KiB; announced as 1000 bytes.
        let bomb = try deflated([UInt8](repeating: 0, count: 10 << 20))
        XCTAssertLessThan(bomb.count, 20_000)
        let body = Compressed(codec: .deflate, uncompressedSize: 1000, data: bomb)
        assertWireError(.decompressionTooLarge(limit: 1000)) { () throws(WireError) in try body.inflate() }
        // Announced honestly, it is refused before inflating because it exceeds the frame limit.
        let honest = Compressed(codec: .deflate, uncompressedSize: 10 << 20, data: bomb)
        assertWireError(.decompressionTooLarge(limit: WireLimits.maxFrameSize)) { () throws(WireError) in try honest.inflate() }
        // Announced as the limit itself: inflates exactly that far, then refuses.
        let atLimit = Compressed(codec: .deflate, uncompressedSize: UInt32(WireLimits.maxFrameSize), data: bomb)
        assertWireError(.decompressionTooLarge(limit: WireLimits.maxFrameSize)) { () throws(WireError) in try atLimit.inflate() }
        // Announced as zero.
        assertWireError(.decompressionTooLarge(limit: 0)) { () throws(WireError) in try Deflate.decompress(bomb, expectedSize: 0) }
    }

    func testAnnouncedSizeIsCheckedBeforeInflating() {
        // Not deflate data at all: the size error shows nothing was inflated.
        let body = Compressed(codec: .deflate, uncompressedSize: UInt32(WireLimits.maxFrameSize + 1), data: [0xff, 0xff])
        assertWireError(.decompressionTooLarge(limit: WireLimits.maxFrameSize)) { () throws(WireError) in try body.inflate() }
        assertWireError(.decompressionTooLarge(limit: 100)) { () throws(WireError) in
            try Compressed(codec: .deflate, uncompressedSize: 101, data: []).inflate(maxSize: 100)
        }
    }

    func testShorterStreamThanAnnouncedIsAMismatch() throws {
        let data = try deflated([UInt8](repeating: 5, count: 100))
        assertWireError(.decompressedSizeMismatch(announced: 101, actual: 100)) { () throws(WireError) in
            try Deflate.decompress(data, expectedSize: 101)
        }
        assertWireError(.decompressedSizeMismatch(announced: -1, actual: 0)) { () throws(WireError) in
            try Deflate.decompress(data, expectedSize: -1)
        }
        assertWireError(.decompressionTooLarge(limit: Int(UInt32.max))) { () throws(WireError) in
            try Deflate.decompress(data, expectedSize: Int(UInt32.max) + 1)
        }
    }

    func testCorruptTruncatedAndTrailingDataAreRejected() throws {
        let sample = Array(repeating: Array("abcdefgh".utf8), count: 200).flatMap { $0 }
        let data = try deflated(sample)
        // Block type 11 is reserved.
        assertWireError(.badCompressedData("invalid block type")) { () throws(WireError) in
            try Deflate.decompress([0x07, 0x00], expectedSize: 10)
        }
        assertWireError(.badCompressedData("truncated stream")) { () throws(WireError) in
            try Deflate.decompress(Array(data.dropLast(2)), expectedSize: sample.count)
        }
        assertWireError(.badCompressedData("truncated stream")) { () throws(WireError) in
            try Deflate.decompress([], expectedSize: 10)
        }
        assertWireError(.badCompressedData("3 bytes after the end of the stream")) { () throws(WireError) in
            try Deflate.decompress(data + [1, 2, 3], expectedSize: sample.count)
        }
        // Stored block whose NLEN is not the complement of LEN.
        do {
            _ = try Deflate.decompress([0x01, 0x03, 0x00, 0x00, 0x00, 0x61, 0x62, 0x63], expectedSize: 3)
            XCTFail("expected an error")
        } catch {
            guard case .badCompressedData = error else { return XCTFail("\(error)") }
        }
    }

    func testOnlyDeflateIsSupported() {
        for codec in [CompressionCodec.unspecified, CompressionCodec(rawValue: 2), CompressionCodec(rawValue: .max)] {
            assertWireError(.unsupportedCompression(codec: codec.rawValue)) { () throws(WireError) in
                try Frame.compressed(Compressed(codec: codec, uncompressedSize: 2, data: [0x03, 0x00])).inflated()
            }
        }
    }

    func testCompressedFrameRoundTrip() throws {
        let response = Frame.peerResponse(PeerResponse(requestID: 1, records: (0..<50).map(CodecFixtures.signed), next: nil))
        let compressed = try XCTUnwrap(response.deflated())
        guard case let .compressed(body) = compressed else { return XCTFail("not compressed") }
        XCTAssertEqual(body.codec, .deflate)
        XCTAssertEqual(Int(body.uncompressedSize), response.encoded().count)
        XCTAssertLessThan(compressed.encoded().count, response.encoded().count)
        // Survives the wire, then inflates back.
        let received = try Frame(decoding: compressed.encoded())
        XCTAssertEqual(received, compressed)
        XCTAssertEqual(try received.inflated(), response)
        // Other frames pass through `inflated` unchanged.
        XCTAssertEqual(try response.inflated(), response)
    }

    func testCompressionOnlyWhenWorthwhile() throws {
        // Below the threshold.
        XCTAssertNil(Frame.ping(Ping(nonce: 1)).deflated())
        XCTAssertNil(Compressed(compressing: [UInt8](repeating: 0, count: 1023)))
        XCTAssertNotNil(Compressed(compressing: [UInt8](repeating: 0, count: 1024)))
        // Already compressed.
        let body = Compressed(codec: .deflate, uncompressedSize: 1, data: [1])
        XCTAssertNil(Frame.compressed(body).deflated(threshold: 0))
        // Incompressible: random keys and signatures do not shrink.
        var rng = CodecTestRNG(seed: 11)
        let random = Frame.auth(Auth(signature: CodecFixtures.randomBytes(64, &rng)))
        XCTAssertNil(random.deflated(threshold: 0))
        XCTAssertNil(Compressed(compressing: CodecFixtures.randomBytes(5000, &rng)))
    }

    func testNestedCompressionIsRejected() throws {
        let inner = try XCTUnwrap(Frame.error(ErrorMessage(code: .internalError, message: String(repeating: "z", count: 256), closing: false))
            .deflated(threshold: 0))
        let innerBytes = inner.encoded()
        let outer = Frame.compressed(Compressed(
            codec: .deflate, uncompressedSize: UInt32(innerBytes.count), data: try deflated(innerBytes)))
        assertWireError(.nestedCompression) { () throws(WireError) in try outer.inflated() }
        var decoder = FrameDecoder()
        decoder.append(FrameEncoder.delimit(outer.encoded()))
        assertWireError(.nestedCompression) { () throws(WireError) in try decoder.nextFrame() }
    }

    func testInnerFrameIsDecodedAndValidated() throws {
        // An empty inner frame, and one whose inner size exceeds the limit given to `inflated`.
        let empty = Frame.compressed(Compressed(codec: .deflate, uncompressedSize: 0, data: try deflated([])))
        assertWireError(.emptyFrame) { () throws(WireError) in try empty.inflated() }
        let ping = Frame.ping(Ping(nonce: 3)).encoded()
        let wrapped = Frame.compressed(Compressed(codec: .deflate, uncompressedSize: UInt32(ping.count), data: try deflated(ping)))
        XCTAssertEqual(try wrapped.inflated(), .ping(Ping(nonce: 3)))
        assertWireError(.decompressionTooLarge(limit: ping.count - 1)) { () throws(WireError) in
            try wrapped.inflated(maxSize: ping.count - 1)
        }
    }
}
