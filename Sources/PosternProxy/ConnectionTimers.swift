import NIOCore
import PosternConfig

/// The timers of a caller connection while no request is in flight: a new connection must
/// deliver a request head within `header_read_timeout` (slowloris), a kept-alive one is
/// closed after `idle_timeout` without a new request.
///
/// Checked by the loop's `DeadlineSweeper` like exchange deadlines, so arming and
/// cancelling on every keep-alive request costs an array append and a swap-remove, not a
/// scheduled task.
final class ConnectionTimers: Sweepable {
    enum Kind { case headerRead, idle }

    var onExpire: ((Kind) -> Void)?
    var sweepSlot = -1
    private let sweeper: DeadlineSweeper
    private let limits: Limits
    private var armed: (kind: Kind, deadline: NIODeadline)?

    init(sweeper: DeadlineSweeper, limits: Limits) {
        self.sweeper = sweeper
        self.limits = limits
    }

    func awaitRequest(firstOnConnection: Bool) {
        let kind: Kind = firstOnConnection ? .headerRead : .idle
        start(kind, after: firstOnConnection ? limits.headerReadTimeout : limits.idleTimeout)
    }

    func start(_ kind: Kind, after duration: Duration) {
        armed = (kind, .now() + .nanoseconds(duration.nanoseconds))
        sweeper.track(self)
    }

    func requestStarted() { cancel() }

    func cancel() {
        armed = nil
        sweeper.untrack(self)
    }

    func sweep(now: NIODeadline) {
        guard let (kind, deadline) = armed, now >= deadline else { return }
        cancel()
        onExpire?(kind)
    }
}
