import XCTest
@testable import PexWire

final class FramingTests: XCTestCase {
    /// Drains every complete frame currently buffered.
    private func drain(_ decoder: inout FrameDecoder, inflating: Bool = true) throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try decoder.nextFrame(inflating: inflating) { frames.append(frame) }
        return frames
    }

    func testDelimitPrefixesTheVarintLength() throws {
        XCTAssertEqual(FrameEncoder.delimit([0x3a, 0x00]), [0x02, 0x3a, 0x00])
        let body = [UInt8](repeating: 7, count: 300)
        // 300 = ac 02.
        XCTAssertEqual(FrameEncoder.delimit(body), [0xac, 0x02] + body)
        XCTAssertEqual(try FrameEncoder.encode(.ping(Ping(nonce: 1))), [0x04, 0x3a, 0x02, 0x08, 0x01])
    }

    func testManyFramesOneByteAtATime() throws {
        var rng = CodecTestRNG(seed: 7)
        let frames = CodecFixtures.everyKind + (0..<300).map { _ in CodecFixtures.randomFrame(&rng) }
        let stream = try frames.flatMap { frame throws in try FrameEncoder.encode(frame) }
        var decoder = FrameDecoder()
        var received: [Frame] = []
        for byte in stream {
            decoder.append([byte])
            received += try drain(&decoder, inflating: false)
        }
        XCTAssertEqual(received, frames)
        XCTAssertEqual(decoder.buffered, 0)
        XCTAssertNoThrow(try decoder.finish())
    }

    func testFramesInRandomChunks() throws {
        var rng = CodecTestRNG(seed: 99)
        let frames = (0..<500).map { _ in CodecFixtures.randomFrame(&rng) }
        let stream = try frames.flatMap { frame throws in try FrameEncoder.encode(frame) }
        var decoder = FrameDecoder()
        var received: [Frame] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + Int.random(in: 1...700, using: &rng))
            decoder.append(stream[offset..<end])
            offset = end
            received += try drain(&decoder, inflating: false)
        }
        XCTAssertEqual(received, frames)
    }

    func testFrameBytesAreTheExactBytesSent() throws {
        let hello = Frame.hello(CodecFixtures.hello())
        let ping = Frame.ping(Ping(nonce: 5))
        var decoder = FrameDecoder()
        decoder.append(try FrameEncoder.encode(hello) + FrameEncoder.encode(ping))
        XCTAssertEqual(try decoder.nextFrameBytes(), hello.encoded())
        XCTAssertEqual(decoder.buffered, 5)
        XCTAssertEqual(try decoder.nextFrameBytes(), ping.encoded())
        XCTAssertNil(try decoder.nextFrameBytes())
        XCTAssertNil(try decoder.nextFrame())
    }

    func testBufferedCountsUnreadBytes() throws {
        var decoder = FrameDecoder()
        XCTAssertEqual(decoder.buffered, 0)
        let bytes = try FrameEncoder.encode(.pong(Pong(nonce: 300)))
        decoder.append(bytes.prefix(3))
        XCTAssertNil(try decoder.nextFrame())
        XCTAssertEqual(decoder.buffered, 3)
        decoder.append(bytes.dropFirst(3))
        XCTAssertEqual(decoder.buffered, bytes.count)
        XCTAssertEqual(try decoder.nextFrame(), .pong(Pong(nonce: 300)))
        XCTAssertEqual(decoder.buffered, 0)
    }

    func testHugePrefixFailsBeforeTheBodyArrives() {
        var decoder = FrameDecoder()
        // 2^32 = 80 80 80 80 10: five bytes, within the prefix limit, announcing 4 GiB.
        decoder.append([0x80, 0x80, 0x80, 0x80])
        XCTAssertNil(try decoder.nextFrame(), "prefix not complete yet")
        decoder.append([0x10])
        let expected = WireError.frameTooLarge(length: 1 << 32, limit: WireLimits.maxFrameSize)
        assertWireError(expected) { () throws(WireError) in try decoder.nextFrame() }
        XCTAssertEqual(decoder.failure, expected)
        // Sticky: more bytes change nothing, every call reports the same error.
        decoder.append([UInt8](repeating: 0, count: 100))
        XCTAssertEqual(decoder.buffered, 0)
        assertWireError(expected) { () throws(WireError) in try decoder.nextFrameBytes() }
        assertWireError(expected) { () throws(WireError) in try decoder.nextFrame() }
        assertWireError(expected) { () throws(WireError) in try decoder.finish() }
    }

    func testPrefixJustAboveTheLimitFailsImmediately() throws {
        var decoder = FrameDecoder()
        decoder.append(Varint.encode(UInt64(WireLimits.maxFrameSize + 1)))
        assertWireError(.frameTooLarge(length: UInt64(WireLimits.maxFrameSize + 1), limit: WireLimits.maxFrameSize)) {
            () throws(WireError) in try decoder.nextFrameBytes()
        }
        // Exactly the limit is accepted (waiting for the body).
        var atLimit = FrameDecoder()
        atLimit.append(Varint.encode(UInt64(WireLimits.maxFrameSize)))
        XCTAssertNil(try atLimit.nextFrameBytes())
    }

    func testOverlongPrefixIsRejectedAtItsFifthByte() {
        var decoder = FrameDecoder()
        decoder.append([0x81, 0x80, 0x80, 0x80])
        XCTAssertNil(try decoder.nextFrame())
        // A fifth byte with the continuation bit means at least six: no need to wait for it.
        decoder.append([0x80])
        assertWireError(.badLengthPrefix) { () throws(WireError) in try decoder.nextFrame() }
    }

    func testNonMinimalPrefixIsRejected() {
        // 81 00 is 1 written in two bytes.
        var decoder = FrameDecoder()
        decoder.append([0x81, 0x00, 0x3a])
        assertWireError(.badLengthPrefix) { () throws(WireError) in try decoder.nextFrame() }
    }

    func testZeroLengthFrameIsEmpty() {
        var decoder = FrameDecoder()
        decoder.append([0x00, 0x02, 0x3a, 0x00])
        assertWireError(.emptyFrame) { () throws(WireError) in try decoder.nextFrame() }
        assertWireError(.emptyFrame) { () throws(WireError) in try decoder.nextFrame() }
    }

    func testLimitCanBeLoweredAfterConstruction() throws {
        var decoder = FrameDecoder()
        let big = Frame.error(ErrorMessage(code: .internalError, message: String(repeating: "e", count: 200), closing: false))
        let bytes = try FrameEncoder.encode(big)
        decoder.append(bytes)
        XCTAssertEqual(try decoder.nextFrame(), big)
        decoder.maxFrameSize = 100
        XCTAssertEqual(decoder.maxFrameSize, 100)
        decoder.append(bytes)
        assertWireError(.frameTooLarge(length: UInt64(big.encoded().count), limit: 100)) { () throws(WireError) in
            try decoder.nextFrame()
        }
    }

    func testUndecodableFrameIsSkippedWithoutLosingSync() throws {
        var decoder = FrameDecoder()
        // A well-delimited frame protobuf-c cannot parse, then a good one.
        decoder.append([0x02, 0x08, 0x01] + (try FrameEncoder.encode(.ping(Ping(nonce: 9)))))
        assertWireError(.malformed(message: "Frame")) { () throws(WireError) in try decoder.nextFrame() }
        XCTAssertNil(decoder.failure)
        XCTAssertEqual(try decoder.nextFrame(), .ping(Ping(nonce: 9)))
    }

    func testFinishReportsATruncatedStream() throws {
        var decoder = FrameDecoder()
        XCTAssertNoThrow(try decoder.finish())
        let bytes = try FrameEncoder.encode(.pong(Pong(nonce: 1)))
        decoder.append(bytes.dropLast())
        XCTAssertNil(try decoder.nextFrame())
        assertWireError(.truncated(expected: bytes.count, available: bytes.count - 1)) { () throws(WireError) in
            try decoder.finish()
        }
        // Inside the prefix itself.
        var inPrefix = FrameDecoder()
        inPrefix.append([0xac])
        assertWireError(.truncated(expected: 2, available: 1)) { () throws(WireError) in try inPrefix.finish() }
    }

    func testEncoderRefusesFramesOverThePeerLimit() throws {
        let frame = Frame.error(ErrorMessage(code: .internalError, message: String(repeating: "e", count: 200), closing: false))
        let size = frame.encoded().count
        assertWireError(.frameTooLarge(length: UInt64(size), limit: size - 1)) { () throws(WireError) in
            try FrameEncoder.encode(frame, maxFrameSize: size - 1)
        }
        XCTAssertEqual(try FrameEncoder.encode(frame, maxFrameSize: size), FrameEncoder.delimit(frame.encoded()))
    }

    func testCompressedFramesAreInflatedTransparently() throws {
        let response = Frame.peerResponse(PeerResponse(requestID: 7, records: (0..<200).map(CodecFixtures.signed), next: nil))
        let plain = try FrameEncoder.encode(response)
        let compressed = try FrameEncoder.encode(response, compress: true)
        XCTAssertLessThan(compressed.count, plain.count / 2)
        var decoder = FrameDecoder()
        decoder.append(compressed + compressed)
        XCTAssertEqual(try decoder.nextFrame(), response)
        guard case let .compressed(body)? = try decoder.nextFrame(inflating: false) else {
            return XCTFail("expected the compressed frame as it is")
        }
        XCTAssertEqual(body.codec, .deflate)
        XCTAssertEqual(Int(body.uncompressedSize), response.encoded().count)
        // Small frames and frames already compressed are sent as they are.
        XCTAssertEqual(try FrameEncoder.encode(.ping(Ping(nonce: 1)), compress: true), try FrameEncoder.encode(.ping(Ping(nonce: 1))))
        let already = Frame.compressed(body)
        XCTAssertEqual(try FrameEncoder.encode(already, compress: true), FrameEncoder.delimit(already.encoded()))
    }

    func testInflationIsBoundedByTheDecoderLimit() throws {
        let response = Frame.peerResponse(PeerResponse(requestID: 7, records: (0..<100).map(CodecFixtures.signed), next: nil))
        let compressed = try FrameEncoder.encode(response, compress: true)
        var decoder = FrameDecoder(maxFrameSize: compressed.count)
        decoder.append(compressed)
        assertWireError(.decompressionTooLarge(limit: compressed.count)) { () throws(WireError) in try decoder.nextFrame() }
    }

    func testConsumingManyFramesStaysLinear() throws {
        // 50 000 frames in one chunk: re-copying the remaining buffer per frame would move
        // about 10^10 bytes; with the read index it is one pass.
        let one = try FrameEncoder.encode(.ping(Ping(nonce: 1)))
        let count = 50_000
        var decoder = FrameDecoder()
        decoder.append(Array([[UInt8]](repeating: one, count: count).joined()))
        let start = ContinuousClock.now
        var n = 0
        while try decoder.nextFrameBytes() != nil { n += 1 }
        XCTAssertEqual(n, count)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        // The consumed bytes are released on the next append.
        decoder.append(one)
        XCTAssertEqual(decoder.buffered, one.count)
        XCTAssertEqual(try decoder.nextFrame(), .ping(Ping(nonce: 1)))
    }

    func testPartialFrameSurvivesCompaction() throws {
        // Enough consumed bytes to trigger compaction while half a frame is still pending.
        let ping = try FrameEncoder.encode(.ping(Ping(nonce: 77)))
        let filler = Array([[UInt8]](repeating: ping, count: 2000).joined())
        var decoder = FrameDecoder()
        decoder.append(filler + ping.prefix(3))
        var n = 0
        while try decoder.nextFrame() != nil { n += 1 }
        XCTAssertEqual(n, 2000)
        XCTAssertEqual(decoder.buffered, 3)
        decoder.append(ping.dropFirst(3))
        XCTAssertEqual(decoder.buffered, ping.count)
        XCTAssertEqual(try decoder.nextFrame(), .ping(Ping(nonce: 77)))
    }
}
