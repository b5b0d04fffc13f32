// A client end of pex connections for the load benchmarks: blocking connect and handshake
// (the real one: Hello with a signed record, Auth over both Hellos), then raw non-blocking
// byte streams driven by epoll. Not a pex implementation: it never validates what it receives
// beyond what the benchmarks count.
import PexWire
#if canImport(Glibc)
import Glibc
#endif

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Field tags (field number << 3 | length-delimited) that open a Frame body (proto/pex/v1/frame.proto).
enum FrameTag {
    static let hello: UInt8 = 0x0a
    static let auth: UInt8 = 0x12
    static let peerRequest: UInt8 = 0x1a
    static let ping: UInt8 = 0x3a
    static let pong: UInt8 = 0x42
    static let error: UInt8 = 0x4a
}

/// Opens a blocking TCP connection to 127.0.0.1-style IPv4 `host`:`port`, with TCP_NODELAY as pexd.
func connectTCP(host: String, port: UInt16) throws(BenchError) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
        close(fd)
        throw BenchError("not an IPv4 address: \(host)")
    }
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        let code = errno
        close(fd)
        throw BenchError("connect \(host):\(port): errno \(code)")
    }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(BenchError) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            if errno == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 1000)
                continue
            }
            throw BenchError("write: errno \(errno)")
        }
        offset += n
    }
}

/// Splits complete frames off the front of a byte buffer; `nil` when the next one is incomplete.
/// Returns the body (without prefix).
func takeFrame(_ buffer: inout [UInt8]) throws(BenchError) -> [UInt8]? {
    var length = 0
    var index = 0
    while true {
        guard index < buffer.count else { return nil }
        guard index < 5 else { throw BenchError("bad length prefix") }
        length |= Int(buffer[index] & 0x7f) << (7 * index)
        if buffer[index] & 0x80 == 0 { break }
        index += 1
    }
    let start = index + 1
    guard buffer.count >= start + length else { return nil }
    let body = Array(buffer[start..<(start + length)])
    buffer.removeFirst(start + length)
    return body
}

/// Reads until one complete frame is buffered; blocking.
func readFrame(_ fd: Int32, _ buffer: inout [UInt8]) throws(BenchError) -> [UInt8] {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        if let body = try takeFrame(&buffer) { return body }
        let n = read(fd, &chunk, chunk.count)
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { throw BenchError("connection closed during the handshake") }
        buffer += chunk[0..<n]
    }
}

/// A member identity and the record it shows in its Hello.
struct Identity {
    let keyPair: KeyPair
    let record: SignedPeerRecord
}

/// Deterministic key `index` of a family (`tag`), so that separate runs of pexbench agree on
/// roster and records without sharing state.
func benchKey(tag: UInt8, index: Int) -> KeyPair {
    var seed = [UInt8](repeating: 0, count: 32)
    seed[0] = tag
    seed[1] = UInt8(index & 0xff)
    seed[2] = UInt8((index >> 8) & 0xff)
    seed[3] = UInt8((index >> 16) & 0xff)
    seed[31] = 0xbe
    do {
        return try KeyPair(seed: seed)
    } catch {
        fail("key \(index): \(error)")  // a 32-byte seed always derives a key pair
    }
}

func unixNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec)
}

/// A signed record for `keyPair`, valid for a day: an IPv4 TCP and an IPv6 QUIC address, as a
/// typical federation member would publish.
func benchRecord(_ keyPair: KeyPair, index: Int, network: String) throws(BenchError) -> SignedPeerRecord {
    do {
        let addresses = [
            try Multiaddr("/ip4/198.51.\(index / 250 % 250).\(index % 250 + 1)/tcp/4001"),
            try Multiaddr("/ip6/2001:db8:\(String(index >> 16 & 0xffff, radix: 16)):\(String(index & 0xffff, radix: 16))::7/udp/4001/quic-v1"),
        ]
        return try SignedPeerRecord.create(
            keyPair: keyPair, seq: unixNow(), addresses: addresses, networkID: network, expiresAt: unixNow() + 86_400)
    } catch {
        throw BenchError("record \(index): \(error)")
    }
}

/// Runs the initiator's handshake on a connected socket.
///
/// - Returns: Bytes received after the peer's Auth (the start of the ready stream).
func handshake(fd: Int32, identity: Identity, network: String) throws(BenchError) -> [UInt8] {
    var nonce = [UInt8](repeating: 0, count: 32)
    var generator = SystemRandomNumberGenerator()
    for i in nonce.indices { nonce[i] = generator.next() }
    let hello = Frame.hello(Hello(networkID: network, record: identity.record, nonce: nonce, agent: "pexbench"))
    let ourHello = hello.encoded()
    try writeAll(fd, FrameEncoder.delimit(ourHello))
    var buffer: [UInt8] = []
    let theirHello = try readFrame(fd, &buffer)
    let peerNonce: [UInt8]
    do {
        switch try Frame(decoding: theirHello) {
        case let .hello(h): peerNonce = h.nonce
        case let .error(e): throw BenchError("refused: \(e)")
        default: throw BenchError("expected a Hello")
        }
    } catch let error as BenchError {
        throw error
    } catch {
        throw BenchError("undecodable Hello: \(error)")
    }
    let payload = AuthTranscript.payload(
        role: .initiator, initiatorHello: ourHello, responderHello: theirHello, peerNonce: peerNonce,
        crypto: SodiumCrypto())
    let auth = Frame.auth(Auth(signature: identity.keyPair.sign(payload, domain: .auth)))
    try writeAll(fd, FrameEncoder.delimit(auth.encoded()))
    let reply = try readFrame(fd, &buffer)
    guard reply.first == FrameTag.auth else {
        let detail = (try? Frame(decoding: reply)).map { "\($0)" } ?? "undecodable"
        throw BenchError("expected the peer's Auth, got \(detail)")
    }
    return buffer
}

func setNonBlocking(_ fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func parsePort(_ text: String) throws(BenchError) -> (String, UInt16) {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let port = UInt16(parts[1]) else { throw BenchError("expected HOST:PORT, got \(text)") }
    return (String(parts[0]), port)
}
