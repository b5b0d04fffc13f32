import CLibUV
import Foundation
import PexCore
@testable import PexRuntime
import PexWire
import XCTest

/// Runs `loop` until `condition` holds or `timeout` passes, one non-blocking turn at a time
/// (a short sleep between turns keeps the test bounded without a busy wait on a blocked loop).
func spin(_ loop: EventLoop, timeout: TimeInterval = 10, until condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > end { return false }
        loop.runOnce()
        if !condition() { usleep(1000) }
    }
    return true
}

let loopback = SocketAddress(ip: IPAddress(ipv4: 127, 0, 0, 1), port: 0)

final class LoopEventLoopTests: XCTestCase {
    func testFreshLoopClosesWithZero() throws {
        let loop = try EventLoop()
        XCTAssertEqual(loop.handleCount, 1, "only the wakeup handle")
        try loop.close()
        XCTAssertTrue(loop.isClosed)
        try loop.close()  // idempotent
    }

    func testExecuteFromAnotherThreadRunsOnTheLoopAndStopReturnsFromRun() throws {
        let loop = try EventLoop()
        // A long timer keeps `run()` from returning by itself.
        let timer = try TimerHandle(loop: loop) {}
        timer.start(milliseconds: 60_000)
        let ran = Flag()
        let thread = Thread {
            loop.execute { ran.set() }
            loop.stop()
        }
        thread.start()
        loop.run()
        XCTAssertTrue(ran.value)
        // close() walks the still-armed timer, closes it and reaches uv_loop_close == 0.
        try loop.close()
        XCTAssertFalse(loop.execute {}, "a closed loop takes no more tasks")
    }

    func testTimerFiresAndUnrefLetsRunReturn() throws {
        let loop = try EventLoop()
        var fired = 0
        let timer = try TimerHandle(loop: loop) { fired += 1 }
        timer.start(milliseconds: 1)
        loop.run()
        XCTAssertEqual(fired, 1)
        timer.start(milliseconds: 60_000)
        timer.unref()
        loop.run()  // returns at once: the only timer is unreferenced
        timer.stop()
        timer.close()
        timer.start(milliseconds: 1)  // ignored once closing
        try loop.close()
        XCTAssertEqual(fired, 1)
    }

    func testSignalIsDeliveredOnTheLoopThread() throws {
        let loop = try EventLoop()
        var received: Int32 = 0
        let signal = try SignalHandle(loop: loop, signal: SIGUSR2) { received = $0 }
        // The watcher is unreferenced (it must not keep a node's loop alive): a timer keeps
        // this loop polling.
        let keepAlive = try TimerHandle(loop: loop) {}
        keepAlive.start(milliseconds: 60_000)
        kill(getpid(), SIGUSR2)
        XCTAssertTrue(spin(loop) { received != 0 })
        XCTAssertEqual(received, SIGUSR2)
        signal.close()
        try loop.close()
    }

    func testBadSignalNumberIsATypedError() throws {
        let loop = try EventLoop()
        XCTAssertThrowsError(try SignalHandle(loop: loop, signal: 0) { _ in }) { error in
            guard case let .libuv(operation, code)? = error as? RuntimeError else { return XCTFail("\(error)") }
            XCTAssertTrue(operation.hasPrefix("uv_signal_start"))
            XCTAssertEqual(UV.name(code), "EINVAL")
        }
        try loop.close()
    }

    func testErrorDescriptions() {
        let error = RuntimeError.libuv(operation: "connect", code: Int32(UV_ECONNREFUSED.rawValue))
        XCTAssertEqual(error.libuvName, "ECONNREFUSED")
        XCTAssertTrue(error.description.contains("connect failed: ECONNREFUSED"))
        XCTAssertNil(RuntimeError.alreadyStarted.libuvName)
        for other in [RuntimeError.unsupportedListenAddress("/x", reason: "r"), .undialable("/y", reason: "r"),
                      .noAdvertisableAddress, .store("s"), .alreadyStarted, .loopClosed] {
            XCTAssertFalse(other.description.isEmpty)
        }
    }
}

final class LoopSocketAddressTests: XCTestCase {
    func testListenAddresses() throws {
        let v4 = try SocketAddress(listening: try Multiaddr("/ip4/0.0.0.0/tcp/0"))
        XCTAssertTrue(v4.isUnspecified)
        XCTAssertEqual(v4.port, 0)
        let v6 = try SocketAddress(listening: try Multiaddr("/ip6/::1/tcp/4001"))
        XCTAssertEqual(v6.description, "[::1]:4001")
        XCTAssertEqual(v6.multiaddr?.text, "/ip6/::1/tcp/4001")
        XCTAssertFalse(v6.isUnspecified)
        for bad in ["/dns4/localhost/tcp/1", "/ip4/1.2.3.4/udp/1/quic-v1", "/ip4/1.2.3.4"] {
            XCTAssertThrowsError(try SocketAddress(listening: try Multiaddr(bad))) { error in
                guard case .unsupportedListenAddress? = error as? RuntimeError else { return XCTFail("\(error)") }
            }
        }
    }

    func testDialAddresses() throws {
        let ok = try SocketAddress(dialing: try Multiaddr("/ip4/127.0.0.1/tcp/9"))
        XCTAssertEqual(ok.description, "127.0.0.1:9")
        for bad in ["/dns4/localhost/tcp/1", "/ip4/1.2.3.4/udp/1/quic-v1", "/ip4/1.2.3.4/tcp/0", "/ip4/0.0.0.0/tcp/1"] {
            XCTAssertThrowsError(try SocketAddress(dialing: try Multiaddr(bad))) { error in
                guard case .undialable? = error as? RuntimeError else { return XCTFail("\(error)") }
            }
        }
    }

    func testSockaddrRoundTrip() {
        for address in [SocketAddress(ip: IPAddress(ipv4: 10, 1, 2, 3), port: 80),
                        SocketAddress(ip: IPAddress("2001:db8::1")!, port: 65535)] {
            let back = address.withSockaddr { SocketAddress(UnsafeRawPointer($0)) }
            XCTAssertEqual(back, address)
        }
        var unix = sockaddr()
        unix.sa_family = sa_family_t(AF_UNIX)
        XCTAssertNil(withUnsafeBytes(of: &unix) { SocketAddress($0.baseAddress!) })
    }
}

final class LoopTCPTests: XCTestCase {
    /// A listener on 127.0.0.1 with an ephemeral port, and one accepted stream once a client
    /// connects.
    final class Server {
        let listener: TCPListener
        var accepted: [TCPStream] = []
        var received: [UInt8] = []
        var closeReasons: [String] = []
        let port: UInt16

        init(loop: EventLoop, limits: TransportLimits = TransportLimits(), read: Bool = true) throws {
            var accepted: [TCPStream] = []
            listener = try TCPListener(loop: loop, address: loopback, limits: limits)
            port = listener.boundAddress?.port ?? 0
            listener.onAccept = { [unowned self] stream in
                accepted.append(stream)
                self.accepted.append(stream)
                stream.onRead = { [unowned self] in self.received += $0 }
                stream.onClose = { [unowned self] in self.closeReasons.append($0) }
                if read { try? stream.startReading() }
            }
        }

        var address: SocketAddress { SocketAddress(ip: IPAddress(ipv4: 127, 0, 0, 1), port: port) }
    }

    func testConnectWriteReadAndGracefulClose() throws {
        let loop = try EventLoop()
        let server = try Server(loop: loop)
        XCTAssertNotEqual(server.port, 0, "an ephemeral port was bound")

        let client = try TCPStream(loop: loop, limits: TransportLimits())
        var connected: RuntimeError?? = .none
        var clientReceived: [UInt8] = []
        var clientClosed: String?
        client.onConnect = { connected = .some($0) }
        client.onRead = { clientReceived += $0 }
        client.onClose = { clientClosed = $0 }
        try client.connect(to: server.address)
        XCTAssertTrue(spin(loop) { connected != nil && server.accepted.count == 1 })
        XCTAssertNil(connected!)
        try client.startReading()
        XCTAssertEqual(client.remoteAddress, server.address)
        XCTAssertEqual(client.localAddress?.ip, IPAddress(ipv4: 127, 0, 0, 1))

        XCTAssertTrue(client.write(Array("hello".utf8)))
        XCTAssertFalse(client.write([]), "nothing to write")
        XCTAssertTrue(spin(loop) { server.received.count == 5 })
        XCTAssertEqual(String(decoding: server.received, as: UTF8.self), "hello")
        XCTAssertEqual(client.writesCompleted, 1)
        XCTAssertEqual(client.bytesWritten, 5)

        // The server says goodbye and closes gracefully: the client reads it, then sees EOF.
        server.accepted[0].write(Array("bye".utf8))
        server.accepted[0].closeGracefully(reason: "done")
        server.accepted[0].closeGracefully(reason: "twice")  // ignored
        XCTAssertTrue(spin(loop) { clientClosed != nil && server.closeReasons.count == 1 })
        XCTAssertEqual(String(decoding: clientReceived, as: UTF8.self), "bye")
        XCTAssertEqual(clientClosed, "connection closed by peer")
        XCTAssertEqual(server.closeReasons, ["done"])
        XCTAssertFalse(client.write([1]), "a closed stream takes no writes")

        server.listener.close()
        try loop.close()
    }

    func testConnectRefusedIsReported() throws {
        let loop = try EventLoop()
        // A port that was just free: bind a listener, note its port, close it.
        let probe = try TCPListener(loop: loop, address: loopback, limits: TransportLimits())
        let port = probe.boundAddress?.port ?? 1
        probe.close()
        XCTAssertTrue(spin(loop) { loop.handleCount == 1 })

        let client = try TCPStream(loop: loop, limits: TransportLimits())
        var result: RuntimeError?
        var closed: String?
        client.onConnect = { result = $0 }
        client.onClose = { closed = $0 }
        try client.connect(to: SocketAddress(ip: IPAddress(ipv4: 127, 0, 0, 1), port: port))
        XCTAssertTrue(spin(loop) { result != nil })
        XCTAssertEqual(result?.libuvName, "ECONNREFUSED")
        client.close(reason: "refused")
        XCTAssertTrue(spin(loop) { closed != nil })
        XCTAssertEqual(closed, "refused")
        try loop.close()
    }

    func testClosingWhileConnectingCancelsTheConnect() throws {
        let loop = try EventLoop()
        let server = try Server(loop: loop)
        let client = try TCPStream(loop: loop, limits: TransportLimits())
        var connectCalled = false
        var closed: String?
        client.onConnect = { _ in connectCalled = true }
        client.onClose = { closed = $0 }
        try client.connect(to: server.address)
        client.closeGracefully(reason: "changed my mind")
        XCTAssertTrue(spin(loop) { closed != nil })
        XCTAssertEqual(closed, "changed my mind")
        XCTAssertFalse(connectCalled, "a close while connecting reports through onClose only")
        server.listener.close()
        try loop.close()
    }

    func testListenOnAPortInUseFails() throws {
        let loop = try EventLoop()
        let server = try Server(loop: loop)
        XCTAssertThrowsError(try TCPListener(loop: loop, address: server.address, limits: TransportLimits())) { error in
            XCTAssertEqual((error as? RuntimeError)?.libuvName, "EADDRINUSE")
        }
        server.listener.close()
        try loop.close()
    }

    func testIPv6Loopback() throws {
        let loop = try EventLoop()
        let listener: TCPListener
        do {
            listener = try TCPListener(loop: loop, address: SocketAddress(ip: IPAddress("::1")!, port: 0), limits: TransportLimits())
        } catch {
            try loop.close()
            throw XCTSkip("no IPv6 loopback here: \(error)")
        }
        var accepted: TCPStream?
        listener.onAccept = { accepted = $0 }
        let bound = try XCTUnwrap(listener.boundAddress)
        XCTAssertTrue(bound.ip.isIPv6)
        let client = try TCPStream(loop: loop, limits: TransportLimits())
        var ok = false
        client.onConnect = { ok = $0 == nil }
        try client.connect(to: bound)
        XCTAssertTrue(spin(loop) { ok && accepted != nil })
        XCTAssertEqual(accepted?.remoteAddress?.ip, IPAddress("::1"))
        client.close(reason: "done")
        accepted?.close(reason: "done")
        listener.close()
        try loop.close()
    }

    func testListenerWithoutHandlerClosesAcceptedConnections() throws {
        let loop = try EventLoop()
        let listener = try TCPListener(loop: loop, address: loopback, limits: TransportLimits())
        let client = try TCPStream(loop: loop, limits: TransportLimits())
        var closed: String?
        client.onConnect = { _ in try? client.startReading() }
        client.onClose = { closed = $0 }
        try client.connect(to: try XCTUnwrap(listener.boundAddress))
        XCTAssertTrue(spin(loop) { closed != nil })
        XCTAssertEqual(closed, "connection closed by peer")
        listener.close()
        try loop.close()
    }

    /// A peer that never reads: our queue passes the high-water mark (reading from it pauses),
    /// then the hard cap, and it is disconnected; every queued write is accounted for.
    func testPeerThatNeverReadsIsDisconnectedAtTheCap() throws {
        let loop = try EventLoop()
        let server = try Server(loop: loop, read: false)
        var limits = TransportLimits()
        limits.writeHighWater = 64 * 1024
        limits.writeHardCap = 256 * 1024
        let client = try TCPStream(loop: loop, limits: limits)
        var connected = false
        var closed: String?
        client.onConnect = { connected = $0 == nil }
        client.onClose = { closed = $0 }
        try client.connect(to: server.address)
        XCTAssertTrue(spin(loop) { connected })
        try client.startReading()

        let chunk = [UInt8](repeating: 0xAB, count: 32 * 1024)
        var written = 0
        var sawPause = false
        // Bounded: 256 MiB would be far past any loopback socket buffer.
        while written < 256 << 20, client.write(chunk) {
            written += chunk.count
            sawPause = sawPause || client.pausedByBackpressure
            if written % (1 << 20) == 0 { loop.runOnce() }
        }
        XCTAssertTrue(sawPause, "reading paused above the high-water mark")
        XCTAssertTrue(spin(loop) { closed != nil })
        XCTAssertTrue(closed?.hasPrefix("peer does not read") == true, closed ?? "")
        XCTAssertEqual(client.writesInFlight, 0, "every write request completed")
        XCTAssertGreaterThan(client.writesCancelled, 0, "queued writes completed with ECANCELED")
        XCTAssertEqual(client.writesCompleted + client.writesCancelled, written / chunk.count)
        server.accepted.forEach { $0.close(reason: "end") }
        server.listener.close()
        try loop.close()
    }

    /// Above high water reading pauses; once the peer drains below a quarter it resumes.
    func testReadingResumesWhenThePeerDrains() throws {
        let loop = try EventLoop()
        let server = try Server(loop: loop, read: false)
        var limits = TransportLimits()
        limits.writeHighWater = 16 * 1024
        limits.writeHardCap = 64 << 20
        let client = try TCPStream(loop: loop, limits: limits)
        var connected = false
        client.onConnect = { connected = $0 == nil }
        try client.connect(to: server.address)
        XCTAssertTrue(spin(loop) { connected && server.accepted.count == 1 })
        try client.startReading()
        let chunk = [UInt8](repeating: 1, count: 64 * 1024)
        var written = 0
        while !client.pausedByBackpressure, written < 64 << 20 {
            XCTAssertTrue(client.write(chunk))
            written += chunk.count
        }
        XCTAssertTrue(client.pausedByBackpressure)
        XCTAssertFalse(client.isReading)
        try server.accepted[0].startReading()
        XCTAssertTrue(spin(loop) { server.received.count == written })
        XCTAssertFalse(client.pausedByBackpressure)
        XCTAssertTrue(client.isReading)
        client.close(reason: "end")
        server.accepted[0].close(reason: "end")
        server.listener.close()
        try loop.close()
    }
}

final class LoopDNSTests: XCTestCase {
    func testResolvesLocalhost() throws {
        let loop = try EventLoop()
        var result: Result<[IPAddress], RuntimeError>?
        let query = try DNSQuery.start(loop: loop, name: "localhost", family: .ipv4) { result = $0 }
        XCTAssertEqual(query.name, "localhost")
        XCTAssertTrue(spin(loop) { result != nil })
        XCTAssertEqual(try result?.get(), [IPAddress(ipv4: 127, 0, 0, 1)])
        XCTAssertTrue(query.isFinished)
        query.cancel()  // harmless once finished
        try loop.close()
    }

    func testAnyFamilyIncludesIPv4Loopback() throws {
        let loop = try EventLoop()
        var result: Result<[IPAddress], RuntimeError>?
        _ = try DNSQuery.start(loop: loop, name: "localhost", family: .any) { result = $0 }
        XCTAssertTrue(spin(loop) { result != nil })
        XCTAssertTrue(try XCTUnwrap(result).get().contains(IPAddress(ipv4: 127, 0, 0, 1)))
        var v6: Result<[IPAddress], RuntimeError>?
        _ = try DNSQuery.start(loop: loop, name: "127.0.0.1", family: .ipv6) { v6 = $0 }
        XCTAssertTrue(spin(loop) { v6 != nil })
        XCTAssertThrowsError(try v6?.get(), "an IPv4 literal has no IPv6 address")
        try loop.close()
    }
}

/// A flag set on one thread and read on another.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raw = false
    func set() { lock.withLock { raw = true } }
    var value: Bool { lock.withLock { raw } }
}
