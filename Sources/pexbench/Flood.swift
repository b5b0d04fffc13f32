// Memory benchmark helpers: a roster of deterministic keys, and a client that opens authenticated
// connections, hands a node distinct signed records through PeerAnnouncements, then keeps every
// connection alive (answering the node's Pings and PeerRequests) until it is stopped.
import PexWire
#if canImport(Glibc)
import Glibc
#endif

/// Key families (the first seed byte): connection identities and announced records.
enum FloodKeys {
    static let connection: UInt8 = 0x43
    static let record: UInt8 = 0x52
    static let node: UInt8 = 0x4e
}

/// Writes the roster YAML (node, connection and record keys) and prints the node's secret key
/// in base64 for `node.private_key`.
func writeRoster(path: String, records: Int, connections: Int) throws(BenchError) {
    var text = "# pexbench memory benchmark roster\n"
    text += "- \(benchKey(tag: FloodKeys.node, index: 0).publicKey.base64)\n"
    for i in 0..<connections { text += "- \(benchKey(tag: FloodKeys.connection, index: i).publicKey.base64)\n" }
    for i in 0..<records { text += "- \(benchKey(tag: FloodKeys.record, index: i).publicKey.base64)\n" }
    guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path)") }
    defer { fclose(file) }
    guard fputs(text, file) >= 0 else { throw BenchError("cannot write \(path)") }
    print(benchKey(tag: FloodKeys.node, index: 0).base64SecretKey)
}

/// Connects, announces `records` records spread over `connections` connections, then services the
/// connections for `hold` seconds (or until killed).
func flood(host: String, port: UInt16, network: String, records: Int, connections: Int, hold: Double) throws(BenchError) {
    let started = monotonicSeconds()
    var signed: [SignedPeerRecord] = []
    signed.reserveCapacity(records)
    for i in 0..<records { signed.append(try benchRecord(benchKey(tag: FloodKeys.record, index: i), index: i, network: network)) }
    let signedAt = monotonicSeconds()

    var fds: [Int32] = []
    var buffers: [[UInt8]] = []
    for index in 0..<connections {
        let key = benchKey(tag: FloodKeys.connection, index: index)
        let identity = Identity(keyPair: key, record: try benchRecord(key, index: 100_000 + index, network: network))
        let fd = try connectTCP(host: host, port: port)
        buffers.append(try handshake(fd: fd, identity: identity, network: network))
        fds.append(fd)
    }
    let connectedAt = monotonicSeconds()
    // An even share per connection, under the `records` bucket's burst of 1000 for up to 1000 × K records.
    let share = (records + connections - 1) / max(connections, 1)
    for (index, fd) in fds.enumerated() {
        let slice = Array(signed[min(index * share, records)..<min((index + 1) * share, records)])
        for chunkStart in stride(from: 0, to: slice.count, by: WireLimits.maxRecordsPerMessage) {
            let chunk = Array(slice[chunkStart..<min(chunkStart + WireLimits.maxRecordsPerMessage, slice.count)])
            try writeAll(fd, FrameEncoder.delimit(Frame.peerAnnouncement(PeerAnnouncement(records: chunk)).encoded()))
        }
    }
    func seconds(_ value: Double) -> String { "\((value * 100).rounded() / 100)s" }
    // Straight to the descriptor: the script stops this process with a signal, which would
    // lose anything still in stdio's buffer.
    let text = "signed \(records) records in \(seconds(signedAt - started)), \(connections) connections in "
        + "\(seconds(connectedAt - signedAt)), records announced; holding\n"
    let line = Array(text.utf8)
    _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }

    for fd in fds { setNonBlocking(fd) }
    var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    let end = monotonicSeconds() + hold
    while monotonicSeconds() < end {
        let ready = poll(&polls, nfds_t(polls.count), 200)
        guard ready > 0 else { continue }
        for i in polls.indices where polls[i].revents != 0 {
            let n = read(polls[i].fd, &chunk, chunk.count)
            if n <= 0 {
                if n < 0, errno == EAGAIN || errno == EINTR { continue }
                throw BenchError("connection \(i) closed by the node")
            }
            buffers[i] += chunk[0..<n]
            while let body = try takeFrame(&buffers[i]) {
                // Relayed announcements and the like are dropped; only what keeps the
                // connection healthy is answered.
                switch body.first {
                case FrameTag.ping?:
                    if case let .ping(ping)? = try? Frame(decoding: body) {
                        try writeAll(polls[i].fd, FrameEncoder.delimit(Frame.pong(Pong(nonce: ping.nonce)).encoded()))
                    }
                case FrameTag.peerRequest?:
                    if case let .peerRequest(request)? = try? Frame(decoding: body) {
                        let response = PeerResponse(requestID: request.requestID, records: [], next: nil)
                        try writeAll(polls[i].fd, FrameEncoder.delimit(Frame.peerResponse(response).encoded()))
                    }
                case FrameTag.error?:
                    throw BenchError("connection \(i): the node sent \((try? Frame(decoding: body)).map { "\($0)" } ?? "an Error")")
                default:
                    break
                }
            }
        }
    }
    for fd in fds { close(fd) }
}
