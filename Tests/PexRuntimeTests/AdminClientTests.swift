import Foundation
import PexCore
import PexRuntime
import PexWire
import XCTest

/// A one-thread unix-socket server for the client tests: accepts connections and lets `serve`
/// decide what to do with each.
private final class TestServer: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let thread: Thread

    init(path: String, connections: Int, serve: @escaping @Sendable (Int32, Int) -> Void) throws {
        self.path = path
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        fd = listener
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        thread = Thread {
            for index in 0..<connections {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                serve(client, index)
                close(client)
            }
        }
        thread.start()
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Reads one delimited request and answers it through `AdminService`.
    static func answer(_ client: Int32, snapshot: AdminSnapshot) {
        var decoder = AdminRequestDecoder()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let bytes = try? decoder.nextRequestBytes() {
                let reply = AdminService.handle(requestBytes: bytes, snapshot: snapshot)
                let out = reply.response.delimited()
                _ = out.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                return
            }
            let n = read(client, &buffer, buffer.count)
            guard n > 0 else { return }
            decoder.append(buffer[..<n])
        }
    }

    static func drain(_ client: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = read(client, &buffer, buffer.count)
    }
}

final class AdminClientTests: XCTestCase {
    private func socketPath() -> String { "/tmp/pex-admin-\(getpid())-\(UInt32.random(in: 0 ... .max)).sock" }

    func testRequestsOverAUnixSocket() throws {
        let record = try AdminFixtures.record()
        let snapshot = try AdminFixtures.snapshot(
            entries: [AdminSnapshot.Entry(record: record, table: .tried, lastSeen: nil, lastSuccess: nil, attempts: 0)],
            ready: [record.publicKey])
        let server = try TestServer(path: socketPath(), connections: 5) { client, _ in TestServer.answer(client, snapshot: snapshot) }
        let client = AdminClient(socketPath: server.path, timeout: .seconds(5))
        let status = try client.status()
        XCTAssertEqual(status.publicKey, snapshot.publicKey)
        XCTAssertEqual(status.readyPeers, 1)
        XCTAssertEqual(status.knownRecords, 1)
        XCTAssertEqual(try client.peers(connectedOnly: true).map(\.publicKey), [record.publicKey])
        XCTAssertEqual(try client.metrics(), PrometheusExporter.render(snapshot))
        XCTAssertEqual(try client.exportPeers(), [record.signed])
        XCTAssertEqual(try client.send(.connect(try Multiaddr("/ip4/1.2.3.4/tcp/1"))), .accepted)
    }

    func testUnexpectedResponsesAndNodeErrors() throws {
        let responses: [AdminResponse] = [.accepted, .error("boom"), .accepted, .accepted]
        let server = try TestServer(path: socketPath(), connections: responses.count) { client, index in
            TestServer.drain(client)
            // One response per connection, in order.
            let out = responses[index].delimited()
            _ = out.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        }
        let client = AdminClient(socketPath: server.path)
        let calls: [(String, () throws -> Void)] = [
            ("not a status response", { _ = try client.status() }), ("node error: boom", { _ = try client.peers() }),
            ("not a metrics response", { _ = try client.metrics() }),
            ("not a export_peers response", { _ = try client.exportPeers() }),
        ]
        for (fragment, call) in calls {
            XCTAssertThrowsError(try call()) {
                guard let error = $0 as? AdminClientError, case let .badResponse(.malformed(detail)) = error.reason else {
                    return XCTFail("\($0)")
                }
                XCTAssertEqual(detail, fragment)
            }
        }
    }

    func testTransportFailures() throws {
        // No server.
        let missing = AdminClient(socketPath: socketPath())
        XCTAssertThrowsError(try missing.send(.status)) {
            let error = $0 as? AdminClientError
            XCTAssertEqual(error?.reason, .system(call: "connect", errno: ENOENT))
            XCTAssertTrue(error?.description.contains("is the node running?") ?? false)
        }
        // Path too long for sockaddr_un.
        let long = AdminClient(socketPath: "/tmp/" + String(repeating: "x", count: 200))
        XCTAssertThrowsError(try long.send(.status)) {
            XCTAssertEqual(($0 as? AdminClientError)?.reason, .pathTooLong(limit: 107))
            XCTAssertTrue("\($0)".contains("longer than 107"))
        }
        // The node hangs up without answering.
        let hangUp = try TestServer(path: socketPath(), connections: 1) { client, _ in TestServer.drain(client) }
        XCTAssertThrowsError(try AdminClient(socketPath: hangUp.path).send(.status)) {
            XCTAssertEqual(($0 as? AdminClientError)?.reason, .closed)
            XCTAssertTrue("\($0)".contains("closed the connection"))
        }
        // The node never answers.
        let silent = try TestServer(path: socketPath(), connections: 1) { _, _ in usleep(600_000) }
        let started = Date()
        XCTAssertThrowsError(try AdminClient(socketPath: silent.path, timeout: .milliseconds(200)).send(.status)) {
            XCTAssertEqual(($0 as? AdminClientError)?.reason, .timedOut)
            XCTAssertTrue("\($0)".contains("no response in time"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5)
        // Garbage back.
        let garbage = try TestServer(path: socketPath(), connections: 1) { client, _ in
            TestServer.drain(client)
            let out: [UInt8] = [0x02, 0xff, 0xff]
            _ = out.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        }
        XCTAssertThrowsError(try AdminClient(socketPath: garbage.path).send(.status)) {
            XCTAssertEqual(($0 as? AdminClientError)?.reason, .badResponse(.malformed(message: "AdminResponse")))
            XCTAssertTrue("\($0)".contains("bad response"))
        }
        // Other system errors are described with the failing call.
        let other = AdminClientError(socketPath: "/x", reason: .system(call: "read", errno: EIO))
        XCTAssertTrue(other.description.hasPrefix("admin socket /x: read: "))
    }
}
