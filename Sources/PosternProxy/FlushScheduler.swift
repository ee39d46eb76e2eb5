import NIOCore

/// Coalesces flushes: writes made while handling one batch of reads (from this or another
/// connection on the same loop) go out in one syscall at the end of that batch.
final class FlushScheduler {
    private var context: ChannelHandlerContext?
    private var scheduled = false
    /// Runs before each flush; the HTTP/2 handler uses it to serialise nghttp2's output.
    var beforeFlush: (() -> Void)?
    /// On a caller's connection: the loop's records, written before the responses they
    /// describe leave (the audit trail's "durable before the response completes").
    private let log: RequestLogBuffer?
    private var waitedForLog = false
    private var closeAfterFlush = false

    init(log: RequestLogBuffer? = nil) { self.log = log }

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

    /// `thenClose`: close the connection once the flush is out (after the records, when it
    /// waits behind them).
    func flushNow(thenClose: Bool = false) {
        scheduled = false
        if thenClose { closeAfterFlush = true }
        beforeFlush?()
        if let log, log.hasPending {
            // Records are waiting: their write is queued on this loop already, so going
            // once behind it lets every connection of the tick share one write. A second
            // time round, write them here rather than wait behind new ones for ever.
            if !waitedForLog {
                waitedForLog = true
                schedule()
                return
            }
            log.flush()
        }
        waitedForLog = false
        if log?.withholdsResponses == true {
            context?.close(promise: nil)  // unflushed writes are dropped: the answer never completes
            return
        }
        context?.flush()
        if closeAfterFlush {
            closeAfterFlush = false
            context?.close(promise: nil)
        }
    }
}
