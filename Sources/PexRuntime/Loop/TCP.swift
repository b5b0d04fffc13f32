import CLibUV
#if canImport(Glibc)
import Glibc
#endif
import PexCore

/// Transport tunables: buffer sizes, backpressure thresholds and timeouts of every TCP stream.
public struct TransportLimits: Sendable, Equatable {
    /// Bytes read from a socket per read callback.
    public var readBufferSize = 64 * 1024
    /// Above this many unsent bytes to one peer, its requests are no longer read (they are what
    /// makes us write); reading resumes at a quarter of it (hysteresis, as uvloop does).
    public var writeHighWater = 1 << 20
    /// Above this many unsent bytes the peer is not draining our writes: it is disconnected
    /// rather than buffered without bound.
    public var writeHardCap = 8 << 20
    /// An outbound connect not finished in this time fails.
    public var connectTimeout: TimeSpan = .seconds(10)
    /// A close waits this long for queued writes (our Error frame, say) to drain, then resets.
    public var closeLinger: TimeSpan = .seconds(5)
    /// TCP keepalive probes start after this much idle time.
    public var keepAliveDelay: TimeSpan = .seconds(60)
    /// Pending connections the kernel queues on each listener.
    public var listenBacklog: Int32 = 128

    /// The defaults.
    public init() {}
}

/// A TCP connection (`uv_tcp_t`): reads through one reusable buffer, writes through libuv's
/// queue, where every write owns its bytes until its callback.
final class TCPStream: LoopHandle, WritableStream {
    enum Phase { case idle, connecting, open }

    /// Called once: `nil` when connected, or why the connect failed (not called when the stream
    /// is closed while connecting: the close reason says why).
    var onConnect: ((RuntimeError?) -> Void)?
    /// Bytes as they arrive, in any chunking.
    var onRead: (([UInt8]) -> Void)?
    /// The stream is gone (from libuv's close callback); the argument is why it closed.
    var onClose: ((String) -> Void)?

    let limits: TransportLimits
    private(set) var phase = Phase.idle
    private(set) var closeReason: String?
    private(set) var isReading = false
    /// Reading stopped because too much is queued for this peer.
    private(set) var pausedByBackpressure = false
    /// Write requests handed to libuv whose callback has not run yet.
    private(set) var writesInFlight = 0
    private(set) var writesCompleted = 0
    /// Writes that completed with `UV_ECANCELED` because the stream closed first.
    private(set) var writesCancelled = 0
    private(set) var bytesWritten = 0
    /// One buffer for every read: the data is copied out in the read callback.
    private let readBuffer: UnsafeMutableRawPointer
    /// Connect timeout, then close linger; at most one runs at a time.
    private var timer: TimerHandle?

    var pointer: UnsafeMutablePointer<uv_tcp_t> { UnsafeMutablePointer(OpaquePointer(raw)) }
    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    init(loop: EventLoop, limits: TransportLimits) throws(RuntimeError) {
        self.limits = limits
        readBuffer = .allocate(byteCount: max(limits.readBufferSize, 1), alignment: 16)
        super.init(loop: loop, type: UV_TCP)
        try UV.check(uv_tcp_init(loop.raw, pointer), "uv_tcp_init")
        register()
    }

    deinit { readBuffer.deallocate() }

    // MARK: Addresses

    var localAddress: SocketAddress? { address(uv_tcp_getsockname) }
    var remoteAddress: SocketAddress? { address(uv_tcp_getpeername) }

    private func address(_ get: (UnsafePointer<uv_tcp_t>?, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { pointer in
            get(self.pointer, UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { $0.baseAddress.flatMap(SocketAddress.init) }
    }

    // MARK: Connecting

    /// Starts an outbound connect; `onConnect` reports the result.
    ///
    /// - Parameter address: Where to connect.
    /// - Throws: `RuntimeError.libuv` when libuv refuses at once (the stream is then closing).
    func connect(to address: SocketAddress) throws(RuntimeError) {
        let request = UnsafeMutableRawPointer.allocate(byteCount: uv_req_size(UV_CONNECT), alignment: 16)
        let connect: UnsafeMutablePointer<uv_connect_t> = UnsafeMutablePointer(OpaquePointer(request))
        // The request keeps the stream object alive until its callback, which libuv always runs
        // (with UV_ECANCELED if the handle closes first) before the handle's close callback.
        uv_req_set_data(UnsafeMutablePointer(OpaquePointer(request)), Unmanaged.passRetained(self).toOpaque())
        let rc = address.withSockaddr { sockaddr in
            uv_tcp_connect(connect, pointer, sockaddr) { request, status in
                guard let request, let data = uv_req_get_data(UnsafePointer(OpaquePointer(request))) else { return }
                let stream = Unmanaged<TCPStream>.fromOpaque(data).takeRetainedValue()
                UnsafeMutableRawPointer(request).deallocate()
                stream.connectFinished(status)
            }
        }
        do {
            try UV.check(rc, "uv_tcp_connect(\(address))")
        } catch {
            // No callback will come: undo the request's reference and memory here.
            Unmanaged.passUnretained(self).release()
            request.deallocate()
            close(reason: error.description)
            throw error
        }
        phase = .connecting
        startTimer(after: limits.connectTimeout) { [unowned self] in
            self.connectFinished(UV.timedOut)
            self.close(reason: "connect timed out")
        }
    }

    private func connectFinished(_ status: Int32) {
        guard phase == .connecting else { return }
        stopTimer()
        guard !isClosing else { return }
        let callback = onConnect
        onConnect = nil
        if status < 0 {
            phase = .idle
            callback?(UV.error(status, "connect"))
            return
        }
        phase = .open
        do {
            try configure()
            callback?(nil)
        } catch {
            callback?(error)
        }
    }

    /// TCP_NODELAY (frames are small and latency matters more than segment count) and keepalive
    /// (finds dead peers the protocol's own pings would find later).
    func configure() throws(RuntimeError) {
        try UV.check(uv_tcp_nodelay(pointer, 1), "uv_tcp_nodelay")
        let delay = UInt32(clamping: max(limits.keepAliveDelay.nanoseconds / 1_000_000_000, 1))
        try UV.check(uv_tcp_keepalive(pointer, 1, delay), "uv_tcp_keepalive")
    }

    /// Marks an accepted stream open.
    func accepted() throws(RuntimeError) {
        phase = .open
        try configure()
    }

    // MARK: Reading

    /// Starts (or resumes) delivering bytes to `onRead`.
    func startReading() throws(RuntimeError) {
        guard !isReading, !isClosing, closeReason == nil, phase == .open else { return }
        try UV.check(uv_read_start(stream, { handle, _, buffer in
            guard let stream = LoopHandle.owner(of: handle) as? TCPStream, let buffer else { return }
            buffer.pointee = uv_buf_init(stream.readBuffer.assumingMemoryBound(to: CChar.self),
                                         UInt32(stream.limits.readBufferSize))
        }, { handle, count, _ in
            (LoopHandle.owner(of: handle) as? TCPStream)?.didRead(count)
        }), "uv_read_start")
        isReading = true
    }

    private func stopReading() {
        guard isReading else { return }
        _ = uv_read_stop(stream)
        isReading = false
    }

    private func didRead(_ count: Int) {
        if count > 0 {
            onRead?(Array(UnsafeRawBufferPointer(start: readBuffer, count: count)))
        } else if count == Int(UV.eof) {
            close(reason: "connection closed by peer")
        } else if count < 0 {
            close(reason: "read failed: \(UV.name(Int32(clamping: count)))")
        }
        // count == 0: libuv's "would block", not EOF; nothing to do.
    }

    // MARK: Writing

    /// Bytes queued in libuv and the kernel's refusal to take them yet.
    var writeQueueSize: Int { uv_stream_get_write_queue_size(stream) }

    /// Queues `bytes` after the bytes written before.
    ///
    /// - Returns: `false` when the stream is closing or the write was refused (the stream is then
    ///   closing with the reason).
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        guard !isClosing, phase == .open, !bytes.isEmpty else { return false }
        let request = StreamWrite(owner: self, bytes: bytes)
        let rc = request.submit()
        guard rc == 0 else {
            close(reason: "write failed: \(UV.name(rc))")
            return false
        }
        writesInFlight += 1
        applyBackpressure()
        return true
    }

    private func applyBackpressure() {
        let queued = writeQueueSize
        if queued > limits.writeHardCap {
            close(reason: "peer does not read: \(queued) bytes queued, cap \(limits.writeHardCap)")
        } else if queued > limits.writeHighWater, isReading {
            stopReading()
            pausedByBackpressure = true
        }
    }

    func writeFinished(status: Int32, count: Int) {
        writesInFlight -= 1
        if status == UV.canceled {
            writesCancelled += 1
            return
        }
        guard status >= 0 else {
            close(reason: "write failed: \(UV.name(status))")
            return
        }
        writesCompleted += 1
        bytesWritten += count
        if pausedByBackpressure, writeQueueSize <= limits.writeHighWater / 4 {
            pausedByBackpressure = false
            do { try startReading() } catch { close(reason: error.description) }
        }
    }

    // MARK: Closing

    /// Stops reading, lets the queued writes drain (`uv_shutdown`), then closes; closes at once
    /// after `closeLinger` if the peer does not take them.
    func closeGracefully(reason: String) {
        guard !isClosing, closeReason == nil else { return }
        closeReason = reason
        stopReading()
        guard phase == .open else { return close(reason: reason) }
        let request = UnsafeMutableRawPointer.allocate(byteCount: uv_req_size(UV_SHUTDOWN), alignment: 16)
        let shutdown: UnsafeMutablePointer<uv_shutdown_t> = UnsafeMutablePointer(OpaquePointer(request))
        // As for connect: the request holds the stream until its callback, which runs before
        // the close callback (UV_ECANCELED if the handle closes first).
        uv_req_set_data(UnsafeMutablePointer(OpaquePointer(request)), Unmanaged.passRetained(self).toOpaque())
        let rc = uv_shutdown(shutdown, stream) { request, _ in
            guard let request, let data = uv_req_get_data(UnsafePointer(OpaquePointer(request))) else { return }
            let stream = Unmanaged<TCPStream>.fromOpaque(data).takeRetainedValue()
            UnsafeMutableRawPointer(request).deallocate()
            stream.close(reason: stream.closeReason ?? "closed")
        }
        guard rc == 0 else {
            Unmanaged.passUnretained(self).release()
            request.deallocate()
            return close(reason: reason)
        }
        startTimer(after: limits.closeLinger) { [unowned self] in
            self.close(reason: "\(reason) (queued writes not drained in time)")
        }
    }

    /// Closes now: queued writes complete with `UV_ECANCELED`, `onClose` follows.
    func close(reason: String) {
        if closeReason == nil { closeReason = reason }
        close()
    }

    override func willClose() {
        isReading = false
        stopTimer()
    }

    override func didClose() {
        let callback = onClose
        onConnect = nil
        onRead = nil
        onClose = nil
        callback?(closeReason ?? "closed")
    }

    private func startTimer(after span: TimeSpan, _ action: @escaping () -> Void) {
        stopTimer()
        guard let timer = try? TimerHandle(loop: loop, callback: action) else { return }
        timer.start(milliseconds: max(span.nanoseconds / 1_000_000, 1))
        self.timer = timer
    }

    private func stopTimer() {
        timer?.close()
        timer = nil
    }
}

/// A listening TCP socket; every accepted connection becomes a `TCPStream`.
final class TCPListener: LoopHandle {
    /// Receives each accepted, configured stream (not yet reading); closed if unset.
    var onAccept: ((TCPStream) -> Void)?
    /// Why the last accept failed (EMFILE, say); the listener keeps going.
    private(set) var lastAcceptError: RuntimeError?
    let limits: TransportLimits

    var pointer: UnsafeMutablePointer<uv_tcp_t> { UnsafeMutablePointer(OpaquePointer(raw)) }
    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    /// Binds and listens.
    ///
    /// - Parameters:
    ///   - loop: The loop.
    ///   - address: Where to listen; port 0 picks a free port (see `boundAddress`).
    ///   - limits: Limits for accepted streams, and the backlog.
    ///   - onAccept: Receives each accepted, configured stream (not yet reading).
    /// - Throws: `RuntimeError.libuv` when bind or listen fails (the handle is then closing).
    init(loop: EventLoop, address: SocketAddress, limits: TransportLimits,
         onAccept: ((TCPStream) -> Void)? = nil) throws(RuntimeError) {
        self.limits = limits
        self.onAccept = onAccept
        super.init(loop: loop, type: UV_TCP)
        try UV.check(uv_tcp_init(loop.raw, pointer), "uv_tcp_init")
        register()
        do {
            // IPv6 listeners take IPv6 only, so /ip4/0.0.0.0 and /ip6/:: can share a port.
            let flags = address.ip.isIPv6 ? UInt32(UV_TCP_IPV6ONLY.rawValue) : 0
            try UV.check(address.withSockaddr { uv_tcp_bind(pointer, $0, flags) }, "bind \(address)")
            try UV.check(uv_listen(stream, limits.listenBacklog) { server, status in
                (LoopHandle.owner(of: server) as? TCPListener)?.incoming(status)
            }, "listen \(address)")
        } catch {
            close()
            throw error
        }
    }

    /// The address the socket is bound to (with the real port when 0 was asked for).
    var boundAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            uv_tcp_getsockname(pointer, UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { $0.baseAddress.flatMap(SocketAddress.init) }
    }

    private func incoming(_ status: Int32) {
        do throws(RuntimeError) {
            try UV.check(status, "accept")
            let client = try TCPStream(loop: loop, limits: limits)
            do throws(RuntimeError) {
                try UV.check(uv_accept(stream, client.stream), "uv_accept")
                try client.accepted()
            } catch {
                client.close(reason: error.description)
                throw error
            }
            guard let onAccept else { return client.close(reason: "not accepting") }
            onAccept(client)
        } catch {
            lastAcceptError = error
        }
    }

    override func didClose() { onAccept = nil }
}
