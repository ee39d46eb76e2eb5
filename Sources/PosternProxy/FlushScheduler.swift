import NIOCore

/// Coalesces flushes: writes made while handling one batch of reads (from this or another
/// connection on the same loop) go out in one syscall at the end of that batch.
final class FlushScheduler {
    private var context: ChannelHandlerContext?
    private var scheduled = false
    /// Runs before each flush; the HTTP/2 handler uses it to serialise nghttp2's output.
    var beforeFlush: (() -> Void)?

    func attach(_ context: ChannelHandlerContext) { self.context = context }
    func detach() { context = nil }

    func schedule() {
        guard !scheduled, let context else { return }
        scheduled = true
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self, self.scheduled else { return }
            self.flushNow()
        }
    }

    func flushNow() {
        scheduled = false
        beforeFlush?()
        context?.flush()
    }
}
