import PexCore
import PexWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an admin request failed on the client side.
public struct AdminClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Hashable, Sendable {
        /// The path does not fit in a unix socket address (about 107 bytes).
        case pathTooLong(limit: Int)
        /// A system call failed with `errno` (`connect` with ENOENT or ECONNREFUSED: no node runs).
        case system(call: String, errno: Int32)
        /// No complete response within the timeout.
        case timedOut
        /// The node closed the connection before a complete response.
        case closed
        /// The response could not be decoded.
        case badResponse(WireError)
    }

    /// The socket concerned.
    public let socketPath: String
    /// Why it failed.
    public let reason: Reason

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - socketPath: The socket concerned.
    ///   - reason: Why it failed.
    public init(socketPath: String, reason: Reason) {
        self.socketPath = socketPath
        self.reason = reason
    }

    /// The socket and the cause, with a hint when no node seems to be running.
    public var description: String {
        switch reason {
        case let .pathTooLong(limit):
            "admin socket \(socketPath): path longer than \(limit) bytes"
        case let .system(call, code) where call == "connect" && (code == ENOENT || code == ECONNREFUSED):
            "admin socket \(socketPath): \(String(cString: strerror(code))) (is the node running?)"
        case let .system(call, code):
            "admin socket \(socketPath): \(call): \(String(cString: strerror(code)))"
        case .timedOut:
            "admin socket \(socketPath): no response in time"
        case .closed:
            "admin socket \(socketPath): the node closed the connection"
        case let .badResponse(error):
            "admin socket \(socketPath): bad response: \(error)"
        }
    }
}

/// A blocking client of a node's admin socket, for `pexd status|peers|metrics|…`.
///
/// Each request opens a connection, writes the request, reads one response and closes; the
/// whole exchange is bounded by `timeout`.
public struct AdminClient: Sendable {
    /// The node's admin socket.
    public let socketPath: String
    /// Longest time one request may take, connection included.
    public let timeout: TimeSpan

    /// Creates a client; nothing is opened until a request is sent.
    ///
    /// - Parameters:
    ///   - socketPath: The node's admin socket (`ConfigFile.adminSocketPath`).
    ///   - timeout: Longest time one request may take.
    public init(socketPath: String, timeout: TimeSpan = .seconds(10)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Sends one request and waits for its response.
    ///
    /// - Parameter request: The request.
    /// - Returns: The node's response (which may be `.error`).
    /// - Throws: `AdminClientError` when the socket cannot be reached, the exchange times out,
    ///   the node hangs up, or the response does not decode.
    public func send(_ request: AdminRequest) throws(AdminClientError) -> AdminResponse {
        let deadline = Self.monotonicNow() + timeout
        let fd = try connect()
        defer { _ = close(fd) }
        try writeAll(fd, request.delimited(), deadline: deadline)
        return try readResponse(fd, deadline: deadline)
    }

    /// `send(.status)`, expecting a status.
    ///
    /// - Returns: The node's status.
    /// - Throws: `AdminClientError`; a node's `.error` or an unexpected response kind becomes
    ///   `.badResponse(.malformed(…))` naming it.
    public func status() throws(AdminClientError) -> AdminStatus {
        let response = try send(.status)
        guard case let .status(status) = response else { throw unexpected(response, "status") }
        return status
    }

    /// `send(.peers(connectedOnly:))`, expecting a peer list.
    ///
    /// - Parameter connectedOnly: Only peers with a ready connection.
    /// - Returns: The address book entries.
    /// - Throws: As `status()`.
    public func peers(connectedOnly: Bool = false) throws(AdminClientError) -> [AdminPeer] {
        let response = try send(.peers(connectedOnly: connectedOnly))
        guard case let .peers(peers) = response else { throw unexpected(response, "peers") }
        return peers
    }

    /// `send(.metrics)`, expecting the Prometheus text.
    ///
    /// - Returns: The exposition text.
    /// - Throws: As `status()`.
    public func metrics() throws(AdminClientError) -> String {
        let response = try send(.metrics)
        guard case let .metrics(text) = response else { throw unexpected(response, "metrics") }
        return text
    }

    /// `send(.exportPeers)`, expecting signed records.
    ///
    /// - Returns: Every record the node knows, as signed.
    /// - Throws: As `status()`.
    public func exportPeers() throws(AdminClientError) -> [SignedPeerRecord] {
        let response = try send(.exportPeers)
        guard case let .exportPeers(records) = response else { throw unexpected(response, "export_peers") }
        return records
    }

    // MARK: Socket

    private func failure(_ call: String) -> AdminClientError {
        AdminClientError(socketPath: socketPath, reason: .system(call: call, errno: errno))
    }

    private func unexpected(_ response: AdminResponse, _ expected: String) -> AdminClientError {
        let detail = if case let .error(text) = response { "node error: \(text)" } else { "not a \(expected) response" }
        return AdminClientError(socketPath: socketPath, reason: .badResponse(.malformed(message: detail)))
    }

    private func connect() throws(AdminClientError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let path = Array(socketPath.utf8)
        guard !path.isEmpty, path.count < capacity else {
            throw AdminClientError(socketPath: socketPath, reason: .pathTooLong(limit: capacity - 1))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw failure("socket") }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let error = failure("connect")
            _ = close(fd)
            throw error
        }
        return fd
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], deadline: Instant) throws(AdminClientError) {
        var offset = 0
        while offset < bytes.count {
            try wait(fd, events: Int16(POLLOUT), deadline: deadline)
            // MSG_NOSIGNAL: a node that hung up must give EPIPE, not kill the client with SIGPIPE.
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw failure("send")
            }
            offset += n
        }
    }

    private func readResponse(_ fd: Int32, deadline: Instant) throws(AdminClientError) -> AdminResponse {
        var decoder = FrameDecoder(maxFrameSize: AdminLimits.maxMessageSize)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            do {
                if let bytes = try decoder.nextFrameBytes() { return try AdminResponse(decoding: bytes) }
            } catch {
                throw AdminClientError(socketPath: socketPath, reason: .badResponse(error))
            }
            try wait(fd, events: Int16(POLLIN), deadline: deadline)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw failure("read")
            }
            if n == 0 { throw AdminClientError(socketPath: socketPath, reason: .closed) }
            decoder.append(chunk[..<n])
        }
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    private func wait(_ fd: Int32, events: Int16, deadline: Instant) throws(AdminClientError) {
        while true {
            let now = Self.monotonicNow()
            guard now < deadline else { throw AdminClientError(socketPath: socketPath, reason: .timedOut) }
            let milliseconds = Int32(clamping: ((deadline - now).nanoseconds + 999_999) / 1_000_000)
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw failure("poll")
            }
            // Ready, or hung up / failed: the following read or send reports which.
            if ready > 0 { return }
        }
    }

    private static func monotonicNow() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Instant(nanoseconds: UInt64(max(0, spec.tv_sec)) * 1_000_000_000 + UInt64(max(0, spec.tv_nsec)))
    }
}
