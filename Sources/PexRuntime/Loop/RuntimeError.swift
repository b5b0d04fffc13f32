import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Every way the runtime can fail, as one typed error.
public enum RuntimeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A libuv call failed: what was attempted and libuv's (negative) error code.
    case libuv(operation: String, code: Int32)
    /// A listen address is not `/ip4|ip6/<address>/tcp/<port>`.
    case unsupportedListenAddress(String, reason: String)
    /// An address handed to the transport cannot be dialled over TCP.
    case undialable(String, reason: String)
    /// No listener bound to an address that could be advertised, and none was configured.
    case noAdvertisableAddress
    /// The persistence sink failed to load or apply changes.
    case store(String)
    /// `start()` or `run()` was called on a node that was started before.
    case alreadyStarted
    /// The admin socket cannot be set up at `path`.
    case adminSocket(path: String, reason: String)
    /// The loop is already closed, or `uv_loop_close` failed (an open handle or request leaked).
    case loopClosed

    /// libuv's symbolic name of the error (`ECONNREFUSED`, `EOF`, …) when this is a libuv error.
    public var libuvName: String? {
        if case let .libuv(_, code) = self { return UV.name(code) }
        return nil
    }

    /// A one-line explanation.
    public var description: String {
        switch self {
        case let .libuv(operation, code): "\(operation) failed: \(UV.name(code)) (\(UV.message(code)))"
        case let .unsupportedListenAddress(address, reason): "cannot listen on \(address): \(reason)"
        case let .undialable(address, reason): "cannot dial \(address): \(reason)"
        case .noAdvertisableAddress: "no listener is bound to an address peers could dial; configure advertised addresses"
        case let .store(message): "store: \(message)"
        case .alreadyStarted: "the node was already started"
        case let .adminSocket(path, reason): "admin socket \(path): \(reason)"
        case .loopClosed: "the event loop is closed"
        }
    }
}

/// The one place where libuv return codes become Swift errors (as swift-nio's `System.swift`
/// does for syscalls), so that no caller forgets a negative return.
enum UV {
    /// Returns `code` when it is not an error.
    ///
    /// - Parameters:
    ///   - code: What a libuv function returned.
    ///   - operation: The call, for the message.
    /// - Returns: `code` (≥ 0).
    /// - Throws: `RuntimeError.libuv` for a negative code.
    @discardableResult
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(RuntimeError) -> Int32 {
        guard code >= 0 else { throw .libuv(operation: operation(), code: code) }
        return code
    }

    /// The error a callback's negative status stands for.
    static func error(_ code: Int32, _ operation: String) -> RuntimeError { .libuv(operation: operation, code: code) }

    /// `uv_err_name_r`: the reentrant form, because `uv_err_name` leaks for unknown codes.
    static func name(_ code: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            guard let base = buffer.baseAddress else { return "E\(code)" }
            _ = uv_err_name_r(code, base, 64)
            return String(cString: base)
        }
    }

    static func message(_ code: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            guard let base = buffer.baseAddress else { return "error \(code)" }
            _ = uv_strerror_r(code, base, 256)
            return String(cString: base)
        }
    }

    static let eof = Int32(UV_EOF.rawValue)
    static let canceled = Int32(UV_ECANCELED.rawValue)
    static let timedOut = Int32(UV_ETIMEDOUT.rawValue)
}
