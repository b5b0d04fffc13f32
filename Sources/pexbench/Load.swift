// Message-rate load generator: K connections, each keeping `window` Ping frames in flight, and
// one more Ping sent for every answer. The same code drives pexd (answers: Pongs, after a real
// handshake) and the C echo server (answers: the Pings echoed back), so the generator's own cost
// is the same on both sides of the ratio. Writes and reads are batched per connection: one
// read() drains every answer that arrived and one write() sends all the Pings they free up.
import PexWire
#if canImport(Glibc)
import Glibc
#endif

struct LoadResult {
    var answers: Int
    var seconds: Double
    var perSecond: Double { Double(answers) / seconds }
}

private final class LoadConnection {
    let fd: Int32
    let input: UnsafeMutablePointer<UInt8>
    let capacity = 1 << 18
    var used = 0
    /// Bytes of Pings owed to the stream and not yet written.
    var owed = 0
    /// Where the next byte to write starts within one Ping frame.
    var phase = 0
    var answers = 0

    init(fd: Int32, pending: [UInt8]) {
        self.fd = fd
        input = .allocate(capacity: capacity)
        used = min(pending.count, capacity)
        for i in 0..<used { input[i] = pending[i] }
    }

    deinit {
        input.deallocate()
        close(fd)
    }
}

/// Drives the load and returns the answers counted during `duration` seconds after `warmup`.
func runLoad(
    host: String, port: UInt16, handshakeWith network: String?, connections: Int, window: Int, warmup: Double,
    duration: Double
) throws(BenchError) -> LoadResult {
    // pexd answers a Ping with a Pong; the echo server returns the Ping itself.
    let answerTag = network == nil ? FrameTag.ping : FrameTag.pong
    let ping = FrameEncoder.delimit(Frame.ping(Ping(nonce: 0x5eed)).encoded())
    let frameLength = ping.count
    // window + 1 Pings back to back: any `owed` ≤ window × frameLength starting at any phase fits.
    let stream = UnsafeMutablePointer<UInt8>.allocate(capacity: (window + 1) * frameLength)
    defer { stream.deallocate() }
    for i in 0...window {
        for (j, byte) in ping.enumerated() { stream[i * frameLength + j] = byte }
    }

    var peers: [LoadConnection] = []
    for index in 0..<connections {
        let fd = try connectTCP(host: host, port: port)
        var pending: [UInt8] = []
        if let network {
            let key = benchKey(tag: 0x4c, index: index)
            let identity = Identity(keyPair: key, record: try benchRecord(key, index: index, network: network))
            do {
                pending = try handshake(fd: fd, identity: identity, network: network)
            } catch {
                close(fd)
                throw BenchError("connection \(index): \(error)")
            }
        }
        setNonBlocking(fd)
        peers.append(LoadConnection(fd: fd, pending: pending))
    }

    // poll() rather than epoll: the Glibc module does not import epoll, and with at most a few
    // dozen sockets per call the difference is far below the servers' cost.
    var polls = peers.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
    for peer in peers { peer.owed = window * frameLength }

    func flush(_ peer: LoadConnection) throws(BenchError) {
        while peer.owed > 0 {
            let n = write(peer.fd, stream + peer.phase, peer.owed)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { return }
                throw BenchError("write: errno \(errno)")
            }
            peer.owed -= n
            peer.phase = (peer.phase + n) % frameLength
        }
    }

    /// Counts and discards the complete frames buffered on `peer`; frames other than answers
    /// (a node's own Ping or PeerRequest) are skipped.
    func consume(_ peer: LoadConnection) throws(BenchError) -> Int {
        var at = 0
        var answered = 0
        let buffer = peer.input
        scan: while true {
            var length = 0
            var index = 0
            while true {
                guard at + index < peer.used else { break scan }
                guard index < 5 else { throw BenchError("bad length prefix from the server") }
                let byte = buffer[at + index]
                length |= Int(byte & 0x7f) << (7 * index)
                if byte & 0x80 == 0 { break }
                index += 1
            }
            let end = at + index + 1 + length
            guard length > 0, end <= peer.used else {
                if length == 0 { throw BenchError("empty frame from the server") }
                break
            }
            if buffer[at + index + 1] == answerTag { answered += 1 }
            if buffer[at + index + 1] == FrameTag.error { throw BenchError("the server sent an Error frame") }
            at = end
        }
        if at > 0 {
            memmove(buffer, buffer + at, peer.used - at)
            peer.used -= at
        }
        return answered
    }

    for peer in peers {
        peer.answers += try consume(peer)
        try flush(peer)
    }

    let start = monotonicSeconds()
    let measureFrom = start + warmup
    let end = measureFrom + duration
    var countedAtStart: Int?
    var total = 0
    while true {
        let now = monotonicSeconds()
        if countedAtStart == nil, now >= measureFrom { countedAtStart = total }
        if now >= end { break }
        let ready = poll(&polls, nfds_t(polls.count), 50)
        if ready < 0 {
            if errno == EINTR { continue }
            throw BenchError("poll: errno \(errno)")
        }
        for i in polls.indices where polls[i].revents != 0 {
            let peer = peers[i]
            let n = read(peer.fd, peer.input + peer.used, peer.capacity - peer.used)
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw BenchError("read: errno \(errno)")
            }
            if n == 0 { throw BenchError("the server closed a connection") }
            peer.used += n
            let answered = try consume(peer)
            peer.answers += answered
            total += answered
            peer.owed += answered * frameLength
            try flush(peer)
        }
        // A write that hit a full socket buffer is retried on every round.
        for peer in peers where peer.owed > 0 { try flush(peer) }
    }
    let elapsed = monotonicSeconds() - measureFrom
    return LoadResult(answers: total - (countedAtStart ?? 0), seconds: elapsed)
}
