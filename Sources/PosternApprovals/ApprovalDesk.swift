import Synchronization

/// The approval book shared by every event loop and the admin API of one sidecar, behind a
/// lock: only requests that need approval and the approvers' calls take it. Kept in memory
/// until the shared store (SQLite, PostgreSQL) lands.
public final class ApprovalDesk: Sendable {
    private let book: Mutex<ApprovalBook>

    public init(prefix: String = String(UInt32.random(in: 0...UInt32.max), radix: 36)) {
        book = Mutex(ApprovalBook(prefix: prefix))
    }

    public func ask(_ request: ApprovalBook.Request, requirement: ApprovalRequirement, now: Int64) -> ApprovalBook.Answer {
        book.withLock { $0.ask(request, requirement: requirement, now: now) }
    }

    public func decide(_ id: String, _ event: ApprovalMachine.Event) -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        book.withLock { $0.decide(id, event) }
    }

    public func approvals(now: Int64) -> [Approval] {
        book.withLock { book in
            book.expire(now: now)
            return book.approvals.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt }
        }
    }

    /// The state of one approval now (nil: no such approval).
    public func state(of id: String, now: Int64) -> Approval.State? {
        book.withLock { book in
            book.expire(now: now)
            return book.approvals[id]?.state
        }
    }

    public func grants() -> [Grant] { book.withLock { $0.grants.values.sorted { $0.id < $1.id } } }

    public func revokeGrant(_ id: String) -> Bool { book.withLock { $0.revokeGrant(id) } }
}
