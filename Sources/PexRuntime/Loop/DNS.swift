import CLibUV
#if canImport(Glibc)
import Glibc
#endif
import PexCore
import PexWire

/// One `uv_getaddrinfo` lookup. libuv runs it on its thread pool and calls back on the loop
/// thread; the request memory and this object live until that callback.
final class DNSQuery {
    private let request: UnsafeMutableRawPointer
    private var completion: ((Result<[IPAddress], RuntimeError>) -> Void)?
    let name: String
    private(set) var isFinished = false

    private init(name: String, completion: @escaping (Result<[IPAddress], RuntimeError>) -> Void) {
        self.name = name
        self.completion = completion
        request = .allocate(byteCount: uv_req_size(UV_GETADDRINFO), alignment: 16)
    }

    deinit { request.deallocate() }

    /// Starts resolving `name` to TCP addresses of `family`.
    ///
    /// - Parameters:
    ///   - loop: The loop whose thread receives the answer.
    ///   - name: The host name.
    ///   - family: `.ipv4` (A), `.ipv6` (AAAA) or `.any`.
    ///   - completion: The unique addresses in resolver order, or why there are none.
    /// - Returns: The query, to cancel it.
    /// - Throws: `RuntimeError.libuv` when libuv refuses the request.
    static func start(loop: EventLoop, name: String, family: AddressFamily,
                      completion: @escaping (Result<[IPAddress], RuntimeError>) -> Void) throws(RuntimeError) -> DNSQuery {
        let query = DNSQuery(name: name, completion: completion)
        var hints = addrinfo()
        switch family {
        case .ipv4: hints.ai_family = AF_INET
        case .ipv6: hints.ai_family = AF_INET6
        case .any: hints.ai_family = AF_UNSPEC
        }
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let pointer: UnsafeMutablePointer<uv_getaddrinfo_t> = UnsafeMutablePointer(OpaquePointer(query.request))
        uv_req_set_data(UnsafeMutablePointer(OpaquePointer(query.request)), Unmanaged.passRetained(query).toOpaque())
        // libuv copies the name and the hints before returning.
        let rc = uv_getaddrinfo(loop.raw, pointer, { request, status, result in
            guard let request, let data = uv_req_get_data(UnsafePointer(OpaquePointer(request))) else {
                uv_freeaddrinfo(result)
                return
            }
            let query = Unmanaged<DNSQuery>.fromOpaque(data).takeRetainedValue()
            query.finish(status: status, result: result)
        }, name, nil, &hints)
        if rc != 0 {
            Unmanaged.passUnretained(query).release()
            throw UV.error(rc, "getaddrinfo(\(name))")
        }
        return query
    }

    /// Asks libuv to drop the lookup; the completion then reports `ECANCELED` (or the answer,
    /// when the lookup was already running on the pool).
    func cancel() {
        guard !isFinished else { return }
        _ = uv_cancel(UnsafeMutablePointer(OpaquePointer(request)))
    }

    private func finish(status: Int32, result: UnsafeMutablePointer<addrinfo>?) {
        isFinished = true
        defer { uv_freeaddrinfo(result) }
        let callback = completion
        completion = nil
        guard status == 0 else {
            callback?(.failure(UV.error(status, "getaddrinfo(\(name))")))
            return
        }
        var addresses: [IPAddress] = []
        var next = result
        while let info = next {
            if let raw = info.pointee.ai_addr, let address = SocketAddress(UnsafeRawPointer(raw)),
               !addresses.contains(address.ip) {
                addresses.append(address.ip)
            }
            next = info.pointee.ai_next
        }
        callback?(.success(addresses))
    }
}
