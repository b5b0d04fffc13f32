import PexWire

/// Target `frame`: arbitrary bytes as a received stream.
///
/// The input goes through `FrameDecoder` (split into frames, each decoded and validated, compressed
/// ones inflated) and every frame that is accepted must survive re-encoding. Checked invariants:
/// - Chunking does not matter: the stream fed at once and fed in small irregular chunks yields
///   the same frames, the same errors and the same end-of-stream verdict.
/// - `nextFrameBytes()` followed by `Frame(decoding:maxSize:)` agrees with `nextFrame(inflating:)`,
///   and `nextFrame(inflating: true)` agrees with `Frame.inflated(maxSize:)`.
/// - Round trip: for an accepted frame `f`, `Frame(decoding: f.encoded()) == f` and encoding is
///   deterministic; the same through `FrameEncoder.encode` and a fresh decoder, with and
///   without compression. Signed records inside frames round-trip the same way.
///
/// Rejections (`WireError`) are expected outcomes, not failures.
public enum FrameCheck {
    /// The decoder's frame limit: the protocol maximum, so every frame a peer may send is reachable.
    static let maxFrameSize = WireLimits.maxFrameSize

    /// What the decoder made of one complete frame of the stream, or how the stream ended.
    enum Event: Hashable {
        /// A frame that decoded and validated.
        case frame(Frame)
        /// A well-delimited frame whose content was rejected; the stream goes on.
        case rejected(WireError)
        /// A framing error: the decoder stays failed.
        case framingFailed(WireError)
        /// End of stream: `finish()` passed (`nil`) or threw.
        case finished(WireError?)
    }

    /// Chunk sizes the stream is cut into, cycled: single bytes split length prefixes, the larger
    /// ones cross frame boundaries at varying offsets.
    static let chunkPattern = [1, 2, 7, 3, 64, 1, 513, 5]

    /// Runs the check on one input.
    /// - Parameter input: The received bytes.
    /// - Throws: `FuzzFailure` when an invariant does not hold.
    public static func run(_ input: [UInt8]) throws(FuzzFailure) {
        let whole = decodeStream(input, chunked: false, inflating: false)
        let chunked = decodeStream(input, chunked: true, inflating: false)
        guard whole == chunked else {
            throw FuzzFailure(.frame, "chunked decoding differs:\n  whole:   \(brief(whole))\n  chunked: \(brief(chunked))")
        }
        let inflating = decodeStream(input, chunked: false, inflating: true)
        let expected = whole.map(inflate)
        guard inflating == expected else {
            throw FuzzFailure(.frame, "nextFrame(inflating: true) differs from inflated(maxSize:):\n  decoder: \(brief(inflating))\n  inflated: \(brief(expected))")
        }
        for event in whole + inflating {
            if case let .frame(frame) = event { try roundTrip(frame) }
        }
    }

    /// What `nextFrame(inflating: true)` should make of an event of `nextFrame(inflating: false)`.
    static func inflate(_ event: Event) -> Event {
        guard case let .frame(frame) = event else { return event }
        do {
            return .frame(try frame.inflated(maxSize: maxFrameSize))
        } catch {
            return .rejected(error)
        }
    }

    /// Feeds `input` to a fresh decoder and collects what comes out until the end or a framing error.
    /// - Parameters:
    ///   - input: The stream.
    ///   - chunked: Append in `chunkPattern` chunks, draining after each, instead of all at once.
    ///   - inflating: Use `nextFrame(inflating: true)` rather than `nextFrameBytes()` and
    ///     `Frame(decoding:maxSize:)`.
    /// - Returns: One event per complete frame, then the end-of-stream event.
    static func decodeStream(_ input: [UInt8], chunked: Bool, inflating: Bool) -> [Event] {
        var decoder = FrameDecoder(maxFrameSize: maxFrameSize)
        var events: [Event] = []
        var offset = 0
        var step = 0
        while offset < input.count {
            let size = chunked ? chunkPattern[step % chunkPattern.count] : input.count
            step += 1
            let end = min(input.count, offset + size)
            decoder.append(input[offset..<end])
            offset = end
            if drain(&decoder, into: &events, inflating: inflating, chunked: chunked) { return events }
        }
        do {
            try decoder.finish()
            events.append(.finished(nil))
        } catch {
            events.append(.finished(error))
        }
        return events
    }

    /// Takes every complete frame out of the decoder.
    /// - Returns: `true` when a framing error stopped the stream (already recorded).
    static func drain(_ decoder: inout FrameDecoder, into events: inout [Event], inflating: Bool, chunked: Bool) -> Bool {
        while true {
            do {
                if chunked || inflating {
                    guard let frame = try decoder.nextFrame(inflating: inflating) else { return false }
                    events.append(.frame(frame))
                } else {
                    guard let bytes = try decoder.nextFrameBytes() else { return false }
                    do {
                        events.append(.frame(try Frame(decoding: bytes, maxSize: maxFrameSize)))
                    } catch {
                        events.append(.rejected(error))
                    }
                }
            } catch {
                // Only framing errors make the decoder fail; a frame's decoding error leaves it usable.
                if decoder.failure != nil {
                    events.append(.framingFailed(error))
                    return true
                }
                events.append(.rejected(error))
            }
        }
    }

    /// Checks that an accepted frame survives encoding, on its own and through the stream format.
    /// - Parameter frame: A frame the decoder accepted.
    /// - Throws: `FuzzFailure` when a round trip changes the frame or fails.
    static func roundTrip(_ frame: Frame) throws(FuzzFailure) {
        let encoded = frame.encoded()
        // The re-encoding of an accepted frame may be longer than the input (e.g. a large enum
        // value travels as a 10-byte varint), so it is decoded under its own size.
        let again: Frame
        do {
            again = try Frame(decoding: encoded, maxSize: max(encoded.count, maxFrameSize))
        } catch {
            throw FuzzFailure(.frame, "re-encoded frame is rejected (\(error)): \(brief(frame))")
        }
        guard again == frame else {
            throw FuzzFailure(.frame, "decode(encode(f)) != f:\n  f:     \(brief(frame))\n  again: \(brief(again))")
        }
        guard again.encoded() == encoded else {
            throw FuzzFailure(.frame, "encoding is not deterministic for \(brief(frame))")
        }
        try streamRoundTrip(frame, size: encoded.count)
        try recordsRoundTrip(frame)
    }

    /// Sends the frame through `FrameEncoder` and a fresh `FrameDecoder`, plain and compressed.
    static func streamRoundTrip(_ frame: Frame, size: Int) throws(FuzzFailure) {
        // A compressed frame must fit the limit once inflated, which is not known for the outer one.
        let limit = max(size, maxFrameSize)
        var isCompressed = false
        if case .compressed = frame { isCompressed = true }
        for compress in isCompressed ? [false] : [false, true] {
            let stream: [UInt8]
            do {
                stream = try FrameEncoder.encode(frame, compress: compress, maxFrameSize: limit)
            } catch {
                throw FuzzFailure(.frame, "FrameEncoder.encode(compress: \(compress)) refused an accepted frame (\(error)): \(brief(frame))")
            }
            var decoder = FrameDecoder(maxFrameSize: limit)
            decoder.append(stream)
            let decoded: Frame?
            do {
                decoded = try decoder.nextFrame(inflating: compress)
                try decoder.finish()
            } catch {
                throw FuzzFailure(.frame, "stream round trip (compress: \(compress)) failed (\(error)): \(brief(frame))")
            }
            guard decoded == frame else {
                throw FuzzFailure(.frame, "stream round trip (compress: \(compress)) changed the frame:\n  sent: \(brief(frame))\n  got:  \(brief(decoded))")
            }
        }
    }

    /// Round-trips the signed records a frame carries, and the records inside them when they decode.
    static func recordsRoundTrip(_ frame: Frame) throws(FuzzFailure) {
        let records: [SignedPeerRecord]
        switch frame {
        case let .hello(hello): records = hello.record.map { [$0] } ?? []
        case let .peerResponse(response): records = response.records
        case let .peerAnnouncement(announcement): records = announcement.records
        case let .peerUpdate(update): records = update.records
        default: records = []
        }
        for signed in records {
            try RecordCheck.roundTrip(signed, target: .frame)
        }
    }

    /// A bounded description for failure messages: frames can hold megabytes of records.
    static func brief(_ value: some Any) -> String {
        let text = String(describing: value)
        let limit = 600
        guard text.utf8.count > limit else { return text }
        return String(decoding: text.utf8.prefix(limit), as: UTF8.self) + "… (\(text.utf8.count) bytes)"
    }
}
