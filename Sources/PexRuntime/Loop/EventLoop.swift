import CLibUV
import Foundation

/// One libuv loop (`uv_loop_t`), created fresh for each node so that several nodes can live in
/// one process, each on its own thread.
///
/// Everything but `execute(_:)` and `stop()` must be called on the thread that runs the loop.
package final class EventLoop: @unchecked Sendable {
    /// The loop. Allocated here rather than `uv_default_loop()`: each node owns its loop.
    let raw: UnsafeMutablePointer<uv_loop_t>
    /// Wakes the loop from other threads to run `tasks`.
    private var wakeup: AsyncHandle?
    /// Guards `tasks` and `accepting`; also held across `uv_async_send` so that `close()`
    /// cannot close the async handle between the check and the send.
    private let lock = NSLock()
    private var tasks: [@Sendable () -> Void] = []
    private var accepting = true
    private var closed = false

    /// Creates and initialises a loop.
    ///
    /// - Throws: `RuntimeError.libuv` when `uv_loop_init` or `uv_async_init` fails.
    package init() throws(RuntimeError) {
        _ = Self.ignoreSIGPIPE
        raw = .allocate(capacity: 1)
        do {
            try UV.check(uv_loop_init(raw), "uv_loop_init")
        } catch {
            // Not initialised: libuv holds nothing, the memory can go now.
            raw.deallocate()
            throw error
        }
        let async = try AsyncHandle(loop: self) { [unowned self] in self.runTasks() }
        // The wakeup handle alone must not keep `run()` from returning once the real work is done.
        uv_unref(async.handle)
        wakeup = async
    }

    deinit {
        if !closed { _ = try? close() }
    }

    /// libuv writes with write(2), which raises SIGPIPE on a socket the peer reset; the default
    /// action would kill the process. Ignored once, process-wide, as network servers do: the
    /// write then fails with EPIPE and the stream closes with that reason.
    private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Runs the loop until no referenced handle or request is left, or `uv_stop` was called.
    package func run() {
        _ = uv_run(raw, UV_RUN_DEFAULT)
    }

    /// Runs one iteration without blocking (tests).
    package func runOnce() {
        _ = uv_run(raw, UV_RUN_NOWAIT)
    }

    /// The loop's cached time in milliseconds (`uv_now`).
    package var nowMilliseconds: UInt64 { uv_now(raw) }

    /// Queues `task` to run on the loop's thread and wakes the loop. Safe from any thread.
    ///
    /// - Parameter task: Work to run on the loop thread.
    /// - Returns: `false` when the loop is closing and the task was not queued.
    @discardableResult
    package func execute(_ task: @escaping @Sendable () -> Void) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard accepting, let wakeup else { return false }
        tasks.append(task)
        uv_async_send(wakeup.pointer)
        return true
    }

    /// Asks the loop to return from `run()` at the end of this iteration. Safe from any thread.
    package func stop() {
        execute { [unowned self] in uv_stop(self.raw) }
    }

    private func runTasks() {
        lock.lock()
        let batch = tasks
        tasks.removeAll()
        lock.unlock()
        for task in batch { task() }
    }

    /// Closes every handle still open, lets their close callbacks run, and closes the loop.
    ///
    /// Tasks queued by other threads before the close are run first, so nobody waits forever.
    /// - Throws: `RuntimeError.libuv("uv_loop_close")` (`EBUSY`) when a request is still
    ///   pending: a leak, which libuv's own tests treat as a failure too.
    package func close() throws(RuntimeError) {
        guard !closed else { return }
        lock.lock()
        accepting = false
        lock.unlock()
        runTasks()
        wakeup = nil
        uv_walk(raw, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            if let owner = LoopHandle.owner(of: handle) {
                owner.close()
            } else {
                uv_close(handle, nil)
            }
        }, nil)
        // Close callbacks run in the next iteration; requests cancelled by the closes finish too.
        _ = uv_run(raw, UV_RUN_DEFAULT)
        try UV.check(uv_loop_close(raw), "uv_loop_close")
        closed = true
        raw.deallocate()
    }

    /// Whether `close()` completed.
    package var isClosed: Bool { closed }

    /// Number of handles libuv still tracks (closing ones included), for tests and leak checks.
    package var handleCount: Int {
        var count = 0
        withUnsafeMutablePointer(to: &count) { pointer in
            uv_walk(raw, { _, arg in arg?.assumingMemoryBound(to: Int.self).pointee += 1 }, pointer)
        }
        return count
    }
}

/// Base of every handle wrapper.
///
/// Lifetime rule (libuv `handle.rst`): a handle's memory may be freed only in its close
/// callback. The wrapper retains itself through `handle.data` once libuv knows the handle
/// (`register()`), and that reference is released only in the close callback; the memory is
/// freed in `deinit`, which therefore cannot run earlier.
package class LoopHandle {
    /// The `uv_xxx_t` memory, sized by `uv_handle_size` for the concrete type.
    let raw: UnsafeMutableRawPointer
    let loop: EventLoop
    private(set) var isClosing = false
    private var registered = false

    init(loop: EventLoop, type: uv_handle_type) {
        let size = uv_handle_size(type)
        raw = .allocate(byteCount: size, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        self.loop = loop
    }

    deinit { raw.deallocate() }

    /// The memory seen as the generic handle type. Swift never reads fields through these typed
    /// pointers: they are only passed to libuv, which owns the layout.
    var handle: UnsafeMutablePointer<uv_handle_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    /// Call right after a successful `uv_xxx_init`: from then on the handle is in the loop's
    /// queue and only its close callback may free it.
    func register() {
        uv_handle_set_data(handle, Unmanaged.passRetained(self).toOpaque())
        registered = true
    }

    /// The wrapper stored in a handle's `data`, without changing its retain count.
    static func owner(of handle: UnsafeMutableRawPointer?) -> LoopHandle? {
        guard let handle, let data = uv_handle_get_data(UnsafePointer(OpaquePointer(handle))) else { return nil }
        return Unmanaged<LoopHandle>.fromOpaque(data).takeUnretainedValue()
    }

    /// Starts closing the handle; `didClose()` runs from libuv's close callback. Idempotent.
    func close() {
        guard registered, !isClosing else { return }
        isClosing = true
        willClose()
        uv_close(handle) { handle in
            guard let handle, let data = uv_handle_get_data(handle) else { return }
            uv_handle_set_data(handle, nil)
            // Balances `register()`: the last reference may go here, and with it the memory.
            let owner = Unmanaged<LoopHandle>.fromOpaque(data).takeRetainedValue()
            owner.didClose()
        }
    }

    /// Runs as `close()` starts, before `uv_close`.
    func willClose() {}
    /// Runs in the close callback; subclasses drop their callbacks here to break cycles.
    func didClose() {}
}

/// `uv_async_t`: the only libuv handle whose wakeup may come from another thread.
final class AsyncHandle: LoopHandle {
    private var callback: (() -> Void)?

    var pointer: UnsafeMutablePointer<uv_async_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    init(loop: EventLoop, callback: @escaping () -> Void) throws(RuntimeError) {
        self.callback = callback
        super.init(loop: loop, type: UV_ASYNC)
        try UV.check(uv_async_init(loop.raw, pointer) { async in
            (LoopHandle.owner(of: async) as? AsyncHandle)?.callback?()
        }, "uv_async_init")
        register()
    }

    override func didClose() { callback = nil }
}
