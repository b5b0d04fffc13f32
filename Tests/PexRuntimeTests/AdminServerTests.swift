import Foundation
import PexCore
@testable import PexRuntime
import PexWire
import XCTest

/// A blocking unix-socket client that writes raw bytes, for what `AdminClient` never sends.
private final class RawUnixClient {
    let fd: Int32
    /// Kept across reads: one recv may carry several responses.
    private var responses = FrameDecoder(maxFrameSize: AdminLimits.maxMessageSize)

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until EOF (or `timeout` seconds); returns the bytes and whether EOF came.
    func readAll(timeout: Int) -> (bytes: [UInt8], closed: Bool) {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += buffer[..<n]; continue }
            return (out, n == 0 || errno == ECONNRESET)
        }
    }

    /// Reads one delimited admin response.
    func readResponse(timeout: Int = 5) throws -> AdminResponse {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let bytes = try responses.nextFrameBytes() { return try AdminResponse(decoding: bytes) }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw POSIXError(n == 0 ? .ECONNRESET : .ETIMEDOUT) }
            responses.append(buffer[..<n])
        }
    }
}

final class AdminServerTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        // Short: sun_path holds about 107 bytes.
        directory = "/tmp/pexadm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func adminNode(bootstrap: [Multiaddr] = [], path: String? = nil) -> (PexNode, String) {
        let socket = path ?? "\(directory)/admin.sock"
        let node = Harness.node(bootstrap: bootstrap) { $0.adminSocketPath = socket }
        return (node, socket)
    }

    func testStatusPeersMetricsAndExportOfALiveNode() throws {
        let (a, socket) = adminNode()
        try a.start()
        let aAddress = try XCTUnwrap(a.boundAddresses.first)
        let b = Harness.node(bootstrap: [aAddress])
        try b.start()
        defer {
            b.stop()
            a.stop()
        }
        let bKey = try XCTUnwrap(b.snapshot()?.identity)
        let aKey = try XCTUnwrap(a.snapshot()?.identity)

        var info = stat()
        XCTAssertEqual(lstat(socket, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)

        let client = AdminClient(socketPath: socket, timeout: .seconds(5))
        XCTAssertTrue(Harness.wait {
            (try? client.peers(connectedOnly: true))?.contains { $0.publicKey == bKey } ?? false
        })
        let status = try client.status()
        XCTAssertEqual(status.publicKey, aKey)
        XCTAssertEqual(status.networkID, Harness.network)
        XCTAssertEqual(status.readyPeers, 1)
        XCTAssertEqual(status.inbound, 1)
        XCTAssertEqual(status.listenAddresses, [aAddress])
        XCTAssertNotEqual(status.state, .unspecified)

        let metrics = try client.metrics()
        XCTAssertTrue(metrics.contains("pex_ready_peers 1\n"), metrics)
        XCTAssertTrue(metrics.contains("pex_connections{direction=\"inbound\"} 1\n"), metrics)

        let exported = try client.exportPeers()
        XCTAssertTrue(exported.contains { (try? PeersFile.Peer(record: $0))?.publicKey == bKey })

        b.stop()
        XCTAssertTrue(Harness.wait { (try? client.peers(connectedOnly: true))?.isEmpty ?? false })
        XCTAssertEqual(try client.peers(connectedOnly: false).first { $0.publicKey == bKey }?.connected, false)

        a.stop()
        XCTAssertNil(a.loopCloseError)
        XCTAssertNotEqual(access(socket, F_OK), 0, "the socket file is removed at stop")
        XCTAssertThrowsError(try client.status()) { error in
            guard case .system(call: "connect", _) = (error as? AdminClientError)?.reason else {
                return XCTFail("\(error)")
            }
        }
    }

    func testAddBootstrapThroughAdminReachesTheNode() throws {
        let (a, socket) = adminNode()
        try a.start()
        let b = Harness.node()
        try b.start()
        defer {
            a.stop()
            b.stop()
        }
        let bAddress = try XCTUnwrap(b.boundAddresses.first)
        let client = AdminClient(socketPath: socket, timeout: .seconds(5))
        XCTAssertEqual(try client.status().readyPeers, 0)
        XCTAssertEqual(try client.send(.addBootstrap(bAddress)), .accepted)
        XCTAssertTrue(Harness.wait { (try? client.status().readyPeers) == 1 })
        // Refused in the service, never handed to the node.
        let refusal = try client.send(.connect(try Multiaddr("/ip4/127.0.0.1/udp/9")))
        guard case .error = refusal else { return XCTFail("\(refusal)") }
        let selfKey = try XCTUnwrap(a.snapshot()?.identity)
        guard case .error = try client.send(.disconnect(selfKey)) else { return XCTFail("self disconnect accepted") }
        let bKey = try XCTUnwrap(b.snapshot()?.identity)
        XCTAssertEqual(try client.send(.removeBootstrap(bAddress)), .accepted)
        XCTAssertEqual(try client.send(.disconnect(bKey)), .accepted)
        XCTAssertTrue(Harness.wait { a.snapshot()?.readyPeers.contains(bKey) == false })
    }

    func testBadFramingGetsAnErrorAndTheConnectionClosedWhileOthersAreServed() throws {
        let (a, socket) = adminNode()
        try a.start()
        defer { a.stop() }

        // A length prefix far above the request limit.
        let oversized = try RawUnixClient(path: socket)
        oversized.send([0xff, 0xff, 0xff, 0x7f])
        let (bytes, closed) = oversized.readAll(timeout: 5)
        XCTAssertTrue(closed)
        var decoder = FrameDecoder(maxFrameSize: AdminLimits.maxMessageSize)
        decoder.append(bytes)
        let response = try AdminResponse(decoding: try XCTUnwrap(try decoder.nextFrameBytes()))
        guard case let .error(text) = response else { return XCTFail("\(response)") }
        XCTAssertTrue(text.contains("bad request"), text)

        // A well-framed but undecodable request: an error, and the connection stays usable.
        let garbage = try RawUnixClient(path: socket)
        garbage.send(FrameEncoder.delimit([0xff, 0xff, 0xff]))
        guard case .error = try garbage.readResponse() else { return XCTFail("garbage answered") }
        garbage.send(AdminRequest.status.delimited())
        guard case .status = try garbage.readResponse() else { return XCTFail("no status after garbage") }
        // Two pipelined requests in one write: two answers, in order.
        garbage.send(AdminRequest.metrics.delimited() + AdminRequest.peers(connectedOnly: false).delimited())
        guard case .metrics = try garbage.readResponse(), case .peers = try garbage.readResponse() else {
            return XCTFail("pipelined requests")
        }

        XCTAssertNoThrow(try AdminClient(socketPath: socket).status())
    }

    func testConnectionLimit() throws {
        let (a, socket) = adminNode()
        try a.start()
        defer { a.stop() }
        var clients: [RawUnixClient] = []
        for _ in 0..<AdminServer.maxConnections { clients.append(try RawUnixClient(path: socket)) }
        // Every one of them is accepted and served.
        for client in clients {
            client.send(AdminRequest.status.delimited())
            guard case .status = try client.readResponse() else { return XCTFail("not served") }
        }
        let extra = try RawUnixClient(path: socket)
        XCTAssertTrue(extra.readAll(timeout: 5).closed, "one more than the limit is closed at once")
        clients.removeAll()
        XCTAssertTrue(Harness.wait { (try? AdminClient(socketPath: socket, timeout: .seconds(1)).status()) != nil })
    }

    func testStaleSocketIsReplacedAndALiveOneOrAFileRefused() throws {
        let path = "\(directory)/admin.sock"
        // A socket file nobody listens on, as a killed node leaves it.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        close(fd)
        XCTAssertEqual(access(path, F_OK), 0)

        let (a, _) = adminNode(path: path)
        try a.start()
        defer { a.stop() }
        XCTAssertNoThrow(try AdminClient(socketPath: path).status())

        let (second, _) = adminNode(path: path)
        XCTAssertThrowsError(try second.start()) { error in
            XCTAssertEqual(error as? RuntimeError, .adminSocket(path: path, reason: "another node is listening on it"))
        }
        XCTAssertNoThrow(try AdminClient(socketPath: path).status(), "the running node keeps its socket")

        let filePath = "\(directory)/not-a-socket"
        XCTAssertTrue(FileManager.default.createFile(atPath: filePath, contents: Data("x".utf8)))
        let (third, _) = adminNode(path: filePath)
        XCTAssertThrowsError(try third.start()) { error in
            XCTAssertEqual(error as? RuntimeError, .adminSocket(path: filePath, reason: "exists and is not a socket"))
        }
        XCTAssertEqual(try String(contentsOfFile: filePath, encoding: .utf8), "x", "a foreign file is left alone")

        let (fourth, _) = adminNode(path: "\(directory)/missing/dir/admin.sock")
        XCTAssertThrowsError(try fourth.start()) { error in
            guard case .libuv = error as? RuntimeError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(RuntimeError.adminSocket(path: "p", reason: "r").description, "admin socket p: r")
    }
}
