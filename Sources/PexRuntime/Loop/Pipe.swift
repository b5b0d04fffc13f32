import CLibUV
#if canImport(Glibc)
import Glibc
#endif
import PexCore
import PexWire

/// A unix-socket connection (`uv_pipe_t`): the admin channel's server side. Reads through one
/// buffer, writes through libuv's queue (every write owns its bytes until its callback).
final class PipeStream: LoopHandle, WritableStream {
    /// Bytes as they arrive, in any chunking.
    var onRead: (([UInt8]) -> Void)?
    /// The stream is gone (from libuv's close callback).
    var onClose: (() -> Void)?
    private(set) var isReading = false
    private(set) var closeRequested = false
    /// Write requests handed to libuv whose callback has not run yet.
    private(set) var writesInFlight = 0
    private let readBuffer: UnsafeMutableRawPointer
    private static let readBufferSize = 16 * 1024

    var pointer: UnsafeMutablePointer<uv_pipe_t> { UnsafeMutablePointer(OpaquePointer(raw)) }
    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    init(loop: EventLoop) throws(RuntimeError) {
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        super.init(loop: loop, type: UV_NAMED_PIPE)
        try UV.check(uv_pipe_init(loop.raw, pointer, 0), "uv_pipe_init")
        register()
    }

    deinit { readBuffer.deallocate() }

    func startReading() throws(RuntimeError) {
        guard !isReading, !isClosing, !closeRequested else { return }
        try UV.check(uv_read_start(stream, { handle, _, buffer in
            guard let pipe = LoopHandle.owner(of: handle) as? PipeStream, let buffer else { return }
            buffer.pointee = uv_buf_init(pipe.readBuffer.assumingMemoryBound(to: CChar.self),
                                         UInt32(PipeStream.readBufferSize))
        }, { handle, count, _ in
            (LoopHandle.owner(of: handle) as? PipeStream)?.didRead(count)
        }), "uv_read_start")
        isReading = true
    }

    func stopReading() {
        guard isReading else { return }
        _ = uv_read_stop(stream)
        isReading = false
    }

    private func didRead(_ count: Int) {
        if count > 0 {
            onRead?(Array(UnsafeRawBufferPointer(start: readBuffer, count: count)))
        } else if count < 0 {
            // EOF or a read error: the client is gone, nothing more can be answered.
            close()
        }
    }

    /// Queues `bytes`; `false` when the stream is closing or libuv refused (the stream then closes).
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        guard !isClosing, !bytes.isEmpty else { return false }
        let request = StreamWrite(owner: self, bytes: bytes)
        guard request.submit() == 0 else {
            close()
            return false
        }
        writesInFlight += 1
        return true
    }

    /// Bytes libuv has not handed to the kernel yet.
    var writeQueueSize: Int { uv_stream_get_write_queue_size(stream) }

    func writeFinished(status: Int32, count: Int) {
        writesInFlight -= 1
        if status < 0 { return close() }
        if closeRequested, writesInFlight == 0 { close() }
    }

    /// Stops reading and closes once every queued write has completed.
    func closeAfterWrites() {
        closeRequested = true
        stopReading()
        if writesInFlight == 0 { close() }
    }

    override func willClose() { isReading = false }

    override func didClose() {
        let callback = onClose
        onRead = nil
        onClose = nil
        callback?()
    }
}

/// A listening unix socket at a path, mode 0600: only the node's user may talk to it.
final class PipeListener: LoopHandle {
    /// Receives each accepted pipe (not yet reading); it is closed when unset.
    var onAccept: ((PipeStream) -> Void)?
    let path: String
    /// Whether the socket file is ours to remove when the listener closes.
    private var ownsPath = false
    private(set) var lastAcceptError: RuntimeError?

    var pointer: UnsafeMutablePointer<uv_pipe_t> { UnsafeMutablePointer(OpaquePointer(raw)) }
    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    /// Binds and listens at `path`, replacing a stale socket file left by a node that died.
    ///
    /// - Throws: `RuntimeError.adminSocket` when another process answers on `path`, when the
    ///   path is taken by something that is not a socket, or when bind, chmod or listen fails.
    init(loop: EventLoop, path: String, backlog: Int32 = 16) throws(RuntimeError) {
        self.path = path
        super.init(loop: loop, type: UV_NAMED_PIPE)
        try UV.check(uv_pipe_init(loop.raw, pointer, 0), "uv_pipe_init")
        register()
        do throws(RuntimeError) {
            try Self.removeStale(path)
            try UV.check(uv_pipe_bind(pointer, path), "bind \(path)")
            ownsPath = true
            // Before listen: no client can connect while the file still has the umask's mode.
            guard chmod(path, 0o600) == 0 else {
                throw RuntimeError.adminSocket(path: path, reason: "chmod 0600: \(String(cString: strerror(errno)))")
            }
            try UV.check(uv_listen(stream, backlog) { server, status in
                (LoopHandle.owner(of: server) as? PipeListener)?.incoming(status)
            }, "listen \(path)")
        } catch {
            close()
            throw error
        }
    }

    /// A socket file nobody listens on is what a killed node leaves: removed. A live one means
    /// another node uses this data directory; anything else at the path is not ours to delete.
    static func removeStale(_ path: String) throws(RuntimeError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .adminSocket(path: path, reason: "exists and is not a socket")
        }
        if isAnswering(path) {
            throw .adminSocket(path: path, reason: "another node is listening on it")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw .adminSocket(path: path, reason: "cannot remove the stale socket: \(String(cString: strerror(errno)))")
        }
    }

    /// Whether a process accepts connections on the unix socket at `path` (a blocking connect,
    /// which for a local socket answers at once).
    static func isAnswering(_ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { _ = Glibc.close(fd) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0
    }

    private func incoming(_ status: Int32) {
        do throws(RuntimeError) {
            try UV.check(status, "accept")
            let client = try PipeStream(loop: loop)
            do throws(RuntimeError) {
                try UV.check(uv_accept(stream, client.stream), "uv_accept")
            } catch {
                client.close()
                throw error
            }
            guard let onAccept else { return client.close() }
            onAccept(client)
        } catch {
            lastAcceptError = error
        }
    }

    override func willClose() {
        // The file goes with the listener, so a stopped node leaves no socket behind.
        if ownsPath {
            _ = unlink(path)
            ownsPath = false
        }
    }

    override func didClose() { onAccept = nil }
}

/// The admin socket server: answers `AdminRequest`s on the node's own loop, from snapshots
/// taken there, and hands the commands they carry to the node.
///
/// Bounded: at most `maxConnections` clients at once (more are closed on accept), requests of
/// at most `AdminRequestDecoder.maxRequestSize` bytes (a bad or oversized prefix gets an error
/// response and the connection closed), and a client silent for `idleTimeout` is closed.
final class AdminServer {
    static let maxConnections = 16
    static let idleTimeoutMilliseconds: UInt64 = 30_000
    static let maxQueuedBytes = 4 * AdminLimits.maxMessageSize

    private let listener: PipeListener
    private let snapshot: () -> AdminSnapshot
    private let apply: (Command) -> Void
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    private(set) var refused = 0
    private var closed = false

    var path: String { listener.path }
    var connectionCount: Int { connections.count }

    /// Listens at `path`.
    ///
    /// - Parameters:
    ///   - snapshot: The node's state now; called on the loop thread per request.
    ///   - apply: Gives a command to the node.
    init(loop: EventLoop, path: String, snapshot: @escaping () -> AdminSnapshot,
         apply: @escaping (Command) -> Void) throws(RuntimeError) {
        listener = try PipeListener(loop: loop, path: path)
        self.snapshot = snapshot
        self.apply = apply
        listener.onAccept = { [weak self] pipe in self?.accept(pipe) }
    }

    private func accept(_ pipe: PipeStream) {
        guard !closed, connections.count < Self.maxConnections else {
            refused += 1
            return pipe.close()
        }
        let connection: AdminConnection
        do {
            connection = try AdminConnection(pipe: pipe, server: self)
        } catch {
            return pipe.close()
        }
        let id = ObjectIdentifier(pipe)
        connections[id] = connection
        pipe.onClose = { [weak self] in
            self?.connections[id]?.finish()
            self?.connections[id] = nil
        }
        do {
            try pipe.startReading()
        } catch {
            pipe.close()
        }
    }

    fileprivate func answer(_ bytes: [UInt8]) -> [UInt8] {
        let reply = AdminService.handle(requestBytes: bytes, snapshot: snapshot())
        if let command = reply.command { apply(command) }
        return reply.response.delimited()
    }

    /// Stops listening (the socket file is removed) and closes every connection.
    func close() {
        guard !closed else { return }
        closed = true
        listener.close()
        for connection in connections.values { connection.pipe.close() }
    }
}

/// One admin client: its framing state and idle timer.
private final class AdminConnection {
    let pipe: PipeStream
    private var decoder = AdminRequestDecoder()
    private var idle: TimerHandle?

    init(pipe: PipeStream, server: AdminServer) throws(RuntimeError) {
        self.pipe = pipe
        let timer = try TimerHandle(loop: pipe.loop) { [weak pipe] in pipe?.close() }
        idle = timer
        timer.start(milliseconds: AdminServer.idleTimeoutMilliseconds)
        pipe.onRead = { [weak self, weak server] bytes in
            guard let self, let server else { return }
            self.received(bytes, server: server)
        }
    }

    private func received(_ bytes: [UInt8], server: AdminServer) {
        idle?.start(milliseconds: AdminServer.idleTimeoutMilliseconds)
        decoder.append(bytes)
        while !pipe.closeRequested, !pipe.isClosing {
            do {
                guard let request = try decoder.nextRequestBytes() else { return }
                pipe.write(server.answer(request))
                // A client that pipelines requests without reading the answers is dropped
                // rather than buffered without bound.
                if pipe.writeQueueSize > AdminServer.maxQueuedBytes { return pipe.close() }
            } catch {
                // The framing is lost: say why, then hang up.
                pipe.write(AdminResponse.error("bad request: \(error)").delimited())
                pipe.closeAfterWrites()
                return
            }
        }
    }

    func finish() {
        idle?.close()
        idle = nil
    }
}
