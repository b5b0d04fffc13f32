import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// `uv_timer_t`, one-shot: the driver re-arms it after every input.
final class TimerHandle: LoopHandle {
    private var callback: (() -> Void)?

    var pointer: UnsafeMutablePointer<uv_timer_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    init(loop: EventLoop, callback: @escaping () -> Void) throws(RuntimeError) {
        self.callback = callback
        super.init(loop: loop, type: UV_TIMER)
        try UV.check(uv_timer_init(loop.raw, pointer), "uv_timer_init")
        register()
    }

    /// (Re)starts the timer to fire once after `milliseconds`.
    func start(milliseconds: UInt64) {
        guard !isClosing else { return }
        // uv_timer_start fails only on a closing handle or a nil callback, both excluded here.
        _ = uv_timer_start(pointer, { timer in
            (LoopHandle.owner(of: timer) as? TimerHandle)?.callback?()
        }, milliseconds, 0)
    }

    func stop() {
        guard !isClosing else { return }
        _ = uv_timer_stop(pointer)
    }

    /// Lets the loop exit while only this timer is armed.
    func unref() { uv_unref(handle) }

    override func didClose() { callback = nil }
}

/// `uv_signal_t`: a signal delivered to this loop (libuv forwards it through a pipe, so the
/// callback runs on the loop thread like any other).
final class SignalHandle: LoopHandle {
    private var callback: ((Int32) -> Void)?

    var pointer: UnsafeMutablePointer<uv_signal_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    init(loop: EventLoop, signal: Int32, callback: @escaping (Int32) -> Void) throws(RuntimeError) {
        self.callback = callback
        super.init(loop: loop, type: UV_SIGNAL)
        try UV.check(uv_signal_init(loop.raw, pointer), "uv_signal_init")
        register()
        do {
            try UV.check(uv_signal_start(pointer, { handle, signum in
                (LoopHandle.owner(of: handle) as? SignalHandle)?.callback?(signum)
            }, signal), "uv_signal_start(\(signal))")
        } catch {
            close()
            throw error
        }
        // A signal watcher alone must not keep the loop alive.
        uv_unref(handle)
    }

    override func didClose() { callback = nil }
}

/// `uv_check_t`: runs once per loop iteration right after I/O polling, where the driver writes
/// the iteration's persistence changes as one batch.
final class CheckHandle: LoopHandle {
    private var callback: (() -> Void)?

    var pointer: UnsafeMutablePointer<uv_check_t> { UnsafeMutablePointer(OpaquePointer(raw)) }

    init(loop: EventLoop, callback: @escaping () -> Void) throws(RuntimeError) {
        self.callback = callback
        super.init(loop: loop, type: UV_CHECK)
        try UV.check(uv_check_init(loop.raw, pointer), "uv_check_init")
        register()
        _ = uv_check_start(pointer) { check in
            (LoopHandle.owner(of: check) as? CheckHandle)?.callback?()
        }
        // Runs every iteration but must not keep the loop alive by itself.
        uv_unref(handle)
    }

    override func didClose() { callback = nil }
}
