import CLibUV
import PexWire

/// A stream that learns when each of its writes has finished.
protocol WritableStream: AnyObject {
    /// The libuv stream the bytes go to.
    var stream: UnsafeMutablePointer<uv_stream_t> { get }
    /// libuv's callback for one write: `status` < 0 on failure (`UV_ECANCELED` when the stream
    /// closed first), `count` the bytes that write carried.
    func writeFinished(status: Int32, count: Int)
}

/// One `uv_write_t` and the bytes it writes: both stay allocated until libuv's callback, which
/// it always runs, with `UV_ECANCELED` when the stream closed before the bytes went out.
final class StreamWrite {
    let owner: any WritableStream
    let request: UnsafeMutableRawPointer
    let bytes: UnsafeMutableRawPointer
    let count: Int

    init(owner: any WritableStream, bytes source: [UInt8]) {
        self.owner = owner
        count = source.count
        let copy = UnsafeMutableRawPointer.allocate(byteCount: source.count, alignment: 1)
        source.withUnsafeBytes { buffer in
            if let base = buffer.baseAddress { copy.copyMemory(from: base, byteCount: buffer.count) }
        }
        bytes = copy
        request = .allocate(byteCount: uv_req_size(UV_WRITE), alignment: 16)
    }

    deinit {
        request.deallocate()
        bytes.deallocate()
    }

    /// Hands the write to libuv; on success this object lives until the callback.
    ///
    /// - Returns: libuv's status (0 on success).
    func submit() -> Int32 {
        let write: UnsafeMutablePointer<uv_write_t> = UnsafeMutablePointer(OpaquePointer(request))
        uv_req_set_data(UnsafeMutablePointer(OpaquePointer(request)), Unmanaged.passRetained(self).toOpaque())
        // libuv copies the uv_buf_t descriptors into the request; only the bytes must outlive it.
        var buffer = uv_buf_init(bytes.assumingMemoryBound(to: CChar.self), UInt32(count))
        let rc = uv_write(write, owner.stream, &buffer, 1) { request, status in
            guard let request, let data = uv_req_get_data(UnsafePointer(OpaquePointer(request))) else { return }
            let write = Unmanaged<StreamWrite>.fromOpaque(data).takeRetainedValue()
            write.owner.writeFinished(status: status, count: write.count)
        }
        if rc != 0 { Unmanaged.passUnretained(self).release() }
        return rc
    }
}
