import Synchronization

/// The approval book shared by every event loop and the admin API of one sidecar, behind a
/// lock: only requests that need approval and the approvers' calls take it. With a
/// `journal`, the book is this sidecar's snapshot of the shared store: what requests do is
/// applied here and written behind, decisions go through the store first.
public final class ApprovalDesk: Sendable {
    private let book: Mutex<ApprovalBook>
    public let journal: SharedJournal?
    /// Told of every approval that appears or changes state (created, approved, denied,
    /// expired), after the change: the audit trail's approval records.
    private let observe: @Sendable (Approval) -> Void

    public init(prefix: String = String(UInt32.random(in: 0...UInt32.max), radix: 36), journal: SharedJournal? = nil,
                observe: @escaping @Sendable (Approval) -> Void = { _ in }) {
        book = Mutex(ApprovalBook(prefix: prefix))
        self.journal = journal
        self.observe = observe
    }

    /// What a request gets: passed on a grant, or waiting for an approval; while the shared
    /// store is away, grants still admit but no new approval is opened (`nil`).
    public func ask(_ request: ApprovalBook.Request, requirement: ApprovalRequirement, now: Int64) -> ApprovalBook.Answer? {
        let available = journal?.isAvailable ?? true
        let (answer, entry) = observed { book -> (ApprovalBook.Answer?, JournalEntry?) in
            let before = book.approvals.count
            let answer = book.ask(request, requirement: requirement, now: now)
            switch answer {
            case .granted(let grant, _): return (answer, .used(grant: grant, at: now))
            case .pending(let approval) where book.approvals.count > before:
                guard available else {
                    book.withdraw(approval.id)
                    return (nil, nil)
                }
                return (answer, .asked(approval))
            case .pending: return (answer, nil)
            }
        }
        if let entry { journal?.publish(entry) }
        return answer
    }

    /// An approver's decision: through the shared store when there is one (its order
    /// decides between approvers on different sidecars). Nil: no such approval.
    public func decide(_ id: String, _ event: ApprovalMachine.Event) async throws
        -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        guard let journal else { return observed { $0.decide(id, event) } }
        // Refused here already, without a write, when it would be refused anyway.
        guard let approval = book.withLock({ $0.approvals[id] }) else { return nil }
        if case .failure(let refusal) = ApprovalMachine.apply(event, to: approval, grantID: { "" }) { return .failure(refusal) }
        return try await journal.commit(.decided(approval: id, event))
    }

    /// Folds an entry read from the shared journal.
    public func apply(_ entry: JournalEntry) -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        observed { $0.apply(entry) }
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

    /// Ends a grant early; false when there is none with that id.
    public func revokeGrant(_ id: String) async throws -> Bool {
        guard let journal else { return book.withLock { $0.revokeGrant(id) } }
        guard book.withLock({ $0.grants[id] }) != nil else { return false }
        _ = try await journal.commit(.grantRevoked(id))
        return true
    }
}
