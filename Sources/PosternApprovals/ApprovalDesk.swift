import Synchronization

/// The approval book shared by every event loop and the admin API of one sidecar, behind a
/// lock: only requests that need approval and the approvers' calls take it. Kept in memory
/// until the shared store (SQLite, PostgreSQL) lands.
public final class ApprovalDesk: Sendable {
    private let book: Mutex<ApprovalBook>
    /// Told of every approval that appears or changes state (created, approved, denied,
    /// expired), after the change: the audit trail's approval records.
    private let observe: @Sendable (Approval) -> Void

    public init(prefix: String = String(UInt32.random(in: 0...UInt32.max), radix: 36),
                observe: @escaping @Sendable (Approval) -> Void = { _ in }) {
        book = Mutex(ApprovalBook(prefix: prefix))
        self.observe = observe
    }

    public func ask(_ request: ApprovalBook.Request, requirement: ApprovalRequirement, now: Int64) -> ApprovalBook.Answer {
        observed { $0.ask(request, requirement: requirement, now: now) }
    }

    public func decide(_ id: String, _ event: ApprovalMachine.Event) -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        observed { $0.decide(id, event) }
    }

    public func approvals(now: Int64) -> [Approval] {
        observed { book in
            book.expire(now: now)
            return book.approvals.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt }
        }
    }

    /// The state of one approval now (nil: no such approval).
    public func state(of id: String, now: Int64) -> Approval.State? {
        observed { book in
            book.expire(now: now)
            return book.approvals[id]?.state
        }
    }

    /// Runs `body` on the book and reports the approvals whose state it changed (or that
    /// it created), outside the lock, in the order they were created.
    private func observed<T>(_ body: (inout ApprovalBook) -> T) -> T {
        let (result, changed) = book.withLock { book -> (T, [Approval]) in
            let before = book.approvals.mapValues(\.state)
            let result = body(&book)
            let changed = book.approvals.values.filter { before[$0.id] != $0.state }
            return (result, changed.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) })
        }
        changed.forEach(observe)
        return result
    }

    public func grants() -> [Grant] { book.withLock { $0.grants.values.sorted { $0.id < $1.id } } }

    public func revokeGrant(_ id: String) -> Bool { book.withLock { $0.revokeGrant(id) } }
}
