/// The approvals and grants of one store, and the two questions the data path asks of them:
/// may this request pass on a grant, and if not, which approval is it waiting for. Pure:
/// the store around it keeps it, locks it and (later) persists it.
public struct ApprovalBook: Sendable {
    public private(set) var approvals: [String: Approval] = [:]
    public private(set) var grants: [String: Grant] = [:]
    private var nextID = 0
    private let prefix: String

    /// `prefix` keeps ids apart across sidecars and restarts (a random string).
    public init(prefix: String) { self.prefix = prefix }

    /// What a request that needs approval gets.
    public enum Answer: Sendable, Equatable {
        /// A grant admits it: it may pass, and what it opens may last `secondsLeft`.
        case granted(grant: String, secondsLeft: Int64)
        /// It waits for this approval (new, or the one already pending for the same request).
        case pending(Approval)
    }

    /// The request the data path holds, as an approval would record it.
    public struct Request: Sendable, Equatable {
        public var requester: String
        public var function: String
        public var operation: String
        public var model: String?
        public var rule: String
        public var digest: String
        public var summary: String

        public init(requester: String, function: String, operation: String, model: String?, rule: String,
                    digest: String, summary: String) {
            self.requester = requester
            self.function = function
            self.operation = operation
            self.model = model
            self.rule = rule
            self.digest = digest
            self.summary = summary
        }
    }

    public mutating func ask(_ request: Request, requirement: ApprovalRequirement, now: Int64) -> Answer {
        expire(now: now)
        // The grant that admits it and ends soonest, so longer ones are kept for later.
        let usable = grants.values.compactMap { grant -> (Grant, Int64)? in
            guard case .success(let used) = grant.use(by: request.requester, function: request.function,
                                                      operation: request.operation, model: request.model,
                                                      digest: request.digest, at: now) else { return nil }
            return (used.grant, used.secondsLeft)
        }.min { $0.1 < $1.1 }
        if let (used, secondsLeft) = usable {
            grants[used.id] = used
            return .granted(grant: used.id, secondsLeft: secondsLeft)
        }
        if let waiting = approvals.values.first(where: {
            $0.state == .pending && $0.requester == request.requester && $0.digest == request.digest && $0.rule == request.rule
        }) {
            return .pending(waiting)
        }
        let approval = Approval(id: newID("apr"), requester: request.requester, function: request.function,
                                operation: request.operation, model: request.model, rule: request.rule,
                                requirement: requirement, digest: request.digest, summary: request.summary, createdAt: now)
        approvals[approval.id] = approval
        return .pending(approval)
    }

    /// An approver's decision; the approval as it stands after it, and the grant it issued.
    public mutating func decide(_ id: String, _ event: ApprovalMachine.Event)
        -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        guard let approval = approvals[id] else { return nil }
        // The grant's id follows from its approval's: every sidecar folding the journal names it alike.
        let grantID = "grt" + (id.hasPrefix("apr") ? id.dropFirst(3) : "-" + id[...])
        let result = ApprovalMachine.apply(event, to: approval, grantID: { grantID })
        if case .success(let outcome) = result {
            approvals[id] = outcome.approval
            if let grant = outcome.grant { grants[grant.id] = grant }
        }
        return result
    }

    /// Folds one journal entry written by any sidecar (revocations are not the book's);
    /// a decision's outcome, for the sidecar that waits on it.
    @discardableResult
    public mutating func apply(_ entry: JournalEntry) -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        switch entry {
        case .asked(let approval):
            if approvals[approval.id] == nil { approvals[approval.id] = approval }
        case .decided(let id, let event):
            return decide(id, event)
        case .used(let id, let at):
            if let grant = grants[id], grant.state(at: at) == .active { grants[id]?.usesLeft -= 1 }
        case .grantRevoked(let id):
            _ = revokeGrant(id)
        case .revocationAdded, .revocationRemoved:
            break
        }
        return nil
    }

    /// Takes back an approval just opened (the store could not be told of it).
    public mutating func withdraw(_ id: String) { approvals[id] = nil }

    /// Revokes a grant early; false when there is none with that id.
    public mutating func revokeGrant(_ id: String) -> Bool {
        guard grants[id] != nil else { return false }
        grants[id]?.revoked = true
        return true
    }

    /// Pending approvals past their time become expired.
    public mutating func expire(now: Int64) {
        for (id, approval) in approvals where approval.state == .pending && now >= approval.expiresAt {
            if case .success(let outcome) = ApprovalMachine.apply(.tick(at: now), to: approval, grantID: { "" }) {
                approvals[id] = outcome.approval
            }
        }
    }

    private mutating func newID(_ kind: String) -> String {
        nextID += 1
        return "\(kind)-\(prefix)-\(nextID)"
    }
}
