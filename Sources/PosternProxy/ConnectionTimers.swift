import NIOCore
import PosternConfig

/// The timers of a caller connection while no request is in flight: a new connection must
/// deliver a request head within `header_read_timeout` (slowloris), a kept-alive one is
/// closed after `idle_timeout` without a new request.
final class ConnectionTimers {
    enum Kind { case headerRead, idle }

    var onExpire: ((Kind) -> Void)?
    private let eventLoop: EventLoop
    private let limits: Limits
    private var scheduled: Scheduled<Void>?

    init(eventLoop: EventLoop, limits: Limits) {
        self.eventLoop = eventLoop
        self.limits = limits
    }

    func awaitRequest(firstOnConnection: Bool) {
        let kind: Kind = firstOnConnection ? .headerRead : .idle
        start(kind, after: firstOnConnection ? limits.headerReadTimeout : limits.idleTimeout)
    }

    func start(_ kind: Kind, after duration: Duration) {
        scheduled?.cancel()
        scheduled = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(duration.nanoseconds)) { [weak self] in
            self?.scheduled = nil
            self?.onExpire?(kind)
        }
    }

    func requestStarted() { cancel() }

    func cancel() {
        scheduled?.cancel()
        scheduled = nil
    }
}
