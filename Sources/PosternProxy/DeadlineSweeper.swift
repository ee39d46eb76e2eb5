import NIOCore

/// Something with a deadline that the sweeper checks (exchanges, idle caller connections).
protocol Sweepable: AnyObject {
    /// The slot the sweeper keeps it in; -1 when not tracked.
    var sweepSlot: Int { get set }
    /// Called on every tick with the current time.
    func sweep(now: NIODeadline)
}

/// Checks every tracked deadline on one event loop (exchanges, caller connections) from one
/// repeating task, instead of scheduling (allocating, heap-inserting, cancelling) timers per request.
/// Resolution is one tick, which is plenty for timeouts measured in seconds.
final class DeadlineSweeper {
    static let tick = TimeAmount.milliseconds(100)

    private let eventLoop: EventLoop
    private var members: [Sweepable] = []
    private var scheduled: Scheduled<Void>?

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func track(_ member: Sweepable) {
        guard member.sweepSlot < 0 else { return }
        member.sweepSlot = members.count
        members.append(member)
        if scheduled == nil { arm() }
    }

    /// Every tracked member, for acting on all that are open (a revocation ends streams).
    func forEach(_ body: (Sweepable) -> Void) {
        for member in members { body(member) }
    }

    func untrack(_ member: Sweepable) {
        let slot = member.sweepSlot
        guard slot >= 0, slot < members.count, members[slot] === member else { return }
        let last = members.removeLast()
        if slot < members.count {
            members[slot] = last
            last.sweepSlot = slot
        }
        member.sweepSlot = -1
    }

    /// One scheduled task per tick for the whole loop, and none while nothing is tracked.
    private func arm() {
        scheduled = eventLoop.assumeIsolated().scheduleTask(in: Self.tick) { [weak self] in
            guard let self else { return }
            self.scheduled = nil
            self.sweep()
            if !self.members.isEmpty { self.arm() }
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        // A member may untrack itself (or others) while being swept: walk a snapshot.
        for member in members where member.sweepSlot >= 0 { member.sweep(now: now) }
    }
}
